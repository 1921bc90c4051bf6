import t from 'tap'
import { startTestGateway } from '../helpers/gateway.js'
import { httpRequest, topicPath } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

const gw = await startTestGateway(t)

async function put (ns: string, policy: Record<string, unknown>): Promise<void> {
  const r = await httpRequest(gw.urls.http, 'PUT', `/v1/admin/namespaces/${ns}`, { body: JSON.stringify(policy) })
  if (r.status >= 300) throw new Error(`put ${r.status} ${r.text}`)
}

function publish (topic: string, body: string): ReturnType<typeof httpRequest> {
  return httpRequest(gw.urls.http, 'POST', `${topicPath(topic)}/messages`, { body })
}

t.test('http backlog - producer_exception at quota answers 507 E_BACKLOG_QUOTA', async (t) => {
  await put('acme/quota', { backlogQuotaBytes: 1, backlogPolicy: 'producer_exception' })
  const topic = 'acme/quota/t'
  // A durable subscription that never acks holds the backlog.
  t.equal((await httpRequest(gw.urls.http, 'GET', `${topicPath(topic)}/subscriptions/slow/messages?waitMs=0`)).status, 200)
  t.equal((await publish(topic, 'first')).status, 201)
  const second = await publish(topic, 'second')
  t.equal(second.status, 507)
  t.equal(second.json.error.code, 'E_BACKLOG_QUOTA')
})

t.test('http backlog - producer_hold holds the publish until an ack makes room, else 429 E_BACKLOG_HOLD', async (t) => {
  await put('acme/hold', { backlogQuotaBytes: 1, backlogPolicy: 'producer_hold' })
  const topic = 'acme/hold/t'
  const pullPath = `${topicPath(topic)}/subscriptions/holder/messages?waitMs=5000`
  t.equal((await httpRequest(gw.urls.http, 'GET', `${topicPath(topic)}/subscriptions/holder/messages?waitMs=0`)).status, 200)
  t.equal((await publish(topic, 'first')).status, 201)
  const held = publish(topic, 'second')
  await waitFor(async () => (await httpRequest(gw.urls.http, 'GET', '/v1/admin/stats')).json.dispatcher.backlogHeld > 0, { what: 'publish held' })
  const got = await httpRequest(gw.urls.http, 'GET', pullPath)
  t.equal(got.json.messages[0].payload, 'first')
  const ack = await httpRequest(gw.urls.http, 'POST', `${topicPath(topic)}/subscriptions/holder/ack`, { body: JSON.stringify({ messageIds: [got.json.messages[0].messageId] }) })
  t.equal(ack.status, 200)
  const released = await held
  t.equal(released.status, 201, 'the ack let the held publish through')

  // Nobody acks now: the hold times out (the dispatcher's BACKLOG_HOLD_MS_MAX) and the publish is refused.
  const refused = await publish(topic, 'third')
  t.equal(refused.status, 429)
  t.equal(refused.json.error.code, 'E_BACKLOG_HOLD')
})

t.test('http limits - too many polls waiting on one consumer answers 429 E_LIMIT', async (t) => {
  const topic = 'public/default/limits/waiters'
  const ctl = new AbortController()
  const path = `${topicPath(topic)}/subscriptions/crowd/messages?waitMs=20000&consumer=one`
  const polls = Array.from({ length: 70 }, async () => await httpRequest(gw.urls.http, 'GET', path, { signal: ctl.signal }).catch(() => undefined))
  const first = await Promise.race(polls)
  t.equal(first?.status, 429)
  t.equal(first?.json.error.code, 'E_LIMIT')
  ctl.abort()
  await Promise.all(polls)
  t.equal((await httpRequest(gw.urls.http, 'GET', '/healthz')).status, 200)
})

t.test('http rate limit - over publishRateMsgsPerSec answers 429 E_RATE_LIMIT; a batch reports each message', async (t) => {
  await put('acme/rate', { publishRateMsgsPerSec: 1 })
  const batch = await httpRequest(gw.urls.http, 'POST', `${topicPath('acme/rate/t')}/messages`, {
    headers: { 'content-type': 'application/vnd.ferry.batch+json' },
    body: JSON.stringify([{ payload: 'a' }, { payload: 'b' }, { payload: 'c' }])
  })
  t.equal(batch.status, 429, 'status of the first failure')
  t.equal(batch.json.error.code, 'E_RATE_LIMIT')
  t.equal(batch.json.messages.length, 3, 'one outcome per message')
  t.equal(batch.json.messages[0].messageId, '0', 'the first fit in the bucket and is stored')
  t.equal(batch.json.messages[1].error.code, 'E_RATE_LIMIT')
  t.equal(batch.json.messages[2].error.code, 'E_RATE_LIMIT')
  const single = await waitFor(async () => {
    const r = await publish('acme/rate/t', 'more')
    return r.status === 429 ? r : undefined
  }, { what: 'a refused single publish' })
  t.equal(single.json.error.code, 'E_RATE_LIMIT')
})
