import t from 'tap'
import { startTestGateway } from '../helpers/gateway.js'
import { httpRequest, topicPath } from '../helpers/http.js'

const gw = await startTestGateway(t)

t.test('http scheduled - cancel a pending delayed message; it is never delivered', async (t) => {
  const topic = 'public/default/sched/a'
  const later = await httpRequest(gw.urls.http, 'POST', `${topicPath(topic)}/messages`, { body: 'later', headers: { 'ferry-delay-ms': '3600000' } })
  t.equal(later.status, 201)
  const at = await httpRequest(gw.urls.http, 'POST', `${topicPath(topic)}/messages`, {
    body: 'at', headers: { 'ferry-deliver-at': new Date(Date.now() + 3_600_000).toISOString() }
  })
  t.equal(at.status, 201)
  const now = await httpRequest(gw.urls.http, 'POST', `${topicPath(topic)}/messages`, { body: 'now' })
  const del = await httpRequest(gw.urls.http, 'DELETE', `${topicPath(topic)}/messages/${later.json.messageId as string}`)
  t.equal(del.status, 200)
  t.same(del.json, { cancelled: true, messageId: later.json.messageId, topic })
  const again = await httpRequest(gw.urls.http, 'DELETE', `${topicPath(topic)}/messages/${later.json.messageId as string}`)
  t.equal(again.status, 404, 'already cancelled')
  t.equal(again.json.error.code, 'E_NOT_SCHEDULED')
  const due = await httpRequest(gw.urls.http, 'DELETE', `${topicPath(topic)}/messages/${now.json.messageId as string}`)
  t.equal(due.status, 404, 'not a scheduled message')
  const unknown = await httpRequest(gw.urls.http, 'DELETE', `${topicPath(topic)}/messages/999999`)
  t.equal(unknown.status, 404)
  const bad = await httpRequest(gw.urls.http, 'DELETE', `${topicPath(topic)}/messages/abc`)
  t.equal(bad.status, 400)
  const pulled = await httpRequest(gw.urls.http, 'GET', `${topicPath(topic)}/subscriptions/s/messages?waitMs=3000&max=10`)
  t.same(pulled.json.messages.map((m: { payload: string }) => m.payload), ['now'], 'only the immediate message is delivered')
  const stillPending = await httpRequest(gw.urls.http, 'DELETE', `${topicPath(topic)}/messages/${at.json.messageId as string}`)
  t.equal(stillPending.status, 200, 'the other scheduled message was pending until now')
})
