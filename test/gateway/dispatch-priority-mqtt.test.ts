import t from 'tap'
import mqtt from 'mqtt'
import { connectMqtt, startTestGateway } from '../helpers/gateway.js'
import { httpRequest } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

/** How the default weights (16 for level 9, 1 for level 0) serve 40 + 40: level 0 gets one turn in 17. */
function expectedOrder (): number[] {
  const left = [40, 40] // [level 0, level 9]
  const weights = [1, 16]
  const current = [0, 0]
  const out: number[] = []
  while (left[0]! + left[1]! > 0) {
    let total = 0
    let best = -1
    for (const i of [1, 0]) {
      if (left[i] === 0) continue
      total += weights[i]!
      current[i]! += weights[i]!
      if (best < 0 || current[i]! > current[best]!) best = i
    }
    current[best]! -= total
    left[best]!--
    out.push(best === 1 ? 9 : 0)
  }
  return out
}

t.test('dispatch priority mqtt - a persistent session reconnecting to a backlog gets priority 9 first (mqtt client defaults)', async (t) => {
  const gw = await startTestGateway(t)
  const sub = await connectMqtt(t, gw, gw.urls.mqtt, { clientId: 'prio-session', clean: false })
  await sub.subscribeAsync('prio/jobs', { qos: 1 })
  await sub.endAsync()
  const pub = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5 })
  for (let i = 0; i < 40; i++) await pub.publishAsync('prio/jobs', `low${i}`, { qos: 1, properties: { userProperties: { 'ferry-priority': '0' } } })
  for (let i = 0; i < 40; i++) await pub.publishAsync('prio/jobs', `high${i}`, { qos: 1, properties: { userProperties: { 'ferry-priority': '9' } } })

  // Listen before the CONNACK is processed: queued messages may arrive with it.
  const got: string[] = []
  const again = mqtt.connect(gw.urls.mqtt, { clientId: 'prio-session', clean: false, reconnectPeriod: 0 })
  t.teardown(() => { again.end(true) })
  again.on('message', (_topic, payload) => { got.push(payload.toString()) })
  await waitFor(() => got.length === 80, { what: 'the whole backlog', timeoutMs: 20_000 })
  t.equal(got[0], 'high0', 'the first message is the oldest priority-9 one')
  t.same(got.map((p) => (p.startsWith('high') ? 9 : 0)), expectedOrder(), 'levels by their weights: priority 9 first, priority 0 not starved')
  t.same(got.filter((p) => p.startsWith('low')), Array.from({ length: 40 }, (_, i) => `low${i}`), 'FIFO within priority 0')
  t.same(got.filter((p) => p.startsWith('high')), Array.from({ length: 40 }, (_, i) => `high${i}`), 'FIFO within priority 9')
})

t.test('dispatch priority mqtt - HTTP pull on an exclusive subscription gets the backlog priority first too', async (t) => {
  const gw = await startTestGateway(t)
  const path = '/v1/topics/public/default/prio/http'
  for (let i = 0; i < 40; i++) t.equal((await httpRequest(gw.urls.http, 'POST', `${path}/messages`, { body: `low${i}`, headers: { 'ferry-priority': '0' } })).status, 201)
  for (let i = 0; i < 40; i++) t.equal((await httpRequest(gw.urls.http, 'POST', `${path}/messages`, { body: `high${i}`, headers: { 'ferry-priority': '9' } })).status, 201)
  const got: Array<{ messageId: string, payload: string }> = []
  await waitFor(async () => {
    const r = await httpRequest(gw.urls.http, 'GET', `${path}/subscriptions/jobs/messages?max=80&waitMs=1000&mode=exclusive&position=earliest`)
    if (r.status !== 200) throw new Error(`pull answered ${r.status}: ${r.text}`)
    got.push(...(r.json.messages as Array<{ messageId: string, payload: string }>))
    return got.length >= 80
  }, { what: 'the whole backlog pulled', timeoutMs: 20_000 })
  const payloads = got.map((m) => m.payload)
  t.equal(payloads[0], 'high0', 'the first message is the oldest priority-9 one')
  t.same(payloads.map((p) => (p.startsWith('high') ? 9 : 0)), expectedOrder())
  t.same(payloads.filter((p) => p.startsWith('low')), Array.from({ length: 40 }, (_, i) => `low${i}`))
  const ack = await httpRequest(gw.urls.http, 'POST', `${path}/subscriptions/jobs/ack`, {
    body: JSON.stringify({ messageIds: got.map((m) => m.messageId) }),
    headers: { 'content-type': 'application/json' }
  })
  t.equal(ack.status, 200)
})
