import t from 'tap'
import { connectMqtt, startTestGateway } from '../helpers/gateway.js'
import { httpRequest, topicPath } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

const json = (body: unknown): { headers: Record<string, string>, body: string } => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
const enc = encodeURIComponent

t.test('ops admin - health, readiness, tenants, namespaces incl. DELETE', async (t) => {
  const gw = await startTestGateway(t)
  const u = gw.urls.http
  t.same((await httpRequest(u, 'GET', '/healthz')).json, { status: 'ok', siteId: 'test' })
  const ready = await httpRequest(u, 'GET', '/readyz')
  t.equal(ready.status, 200)
  t.equal(ready.json.checks.ledgerOpen, true)
  t.equal(ready.json.checks.listenersUp, true)
  t.equal((await httpRequest(u, 'POST', '/readyz', { body: '{}' })).status, 405)

  t.equal((await httpRequest(u, 'PUT', '/v1/admin/namespaces/acme/orders', json({ maxRedeliveries: 2 }))).status, 201)
  t.equal((await httpRequest(u, 'PUT', '/v1/admin/namespaces/acme/billing', json({}))).status, 201)
  const tenants = await httpRequest(u, 'GET', '/v1/admin/tenants')
  t.same(tenants.json.tenants.map((x: { tenant: string }) => x.tenant), ['acme', 'public'])
  t.same(tenants.json.tenants[0].namespaces, ['acme/billing', 'acme/orders'])

  // DELETE: refused while it holds data, allowed when empty; unknown 404.
  t.equal((await httpRequest(u, 'POST', `${topicPath('acme/orders/o1')}/messages`, { body: 'x' })).status, 201)
  const busy = await httpRequest(u, 'DELETE', '/v1/admin/namespaces/acme/orders')
  t.equal(busy.status, 409)
  t.equal(busy.json.error.code, 'E_NAMESPACE_NOT_EMPTY')
  const del = await httpRequest(u, 'DELETE', '/v1/admin/namespaces/acme/billing')
  t.equal(del.status, 200)
  t.equal((await httpRequest(u, 'GET', '/v1/admin/namespaces/acme/billing')).status, 404, 'gone')
  t.equal((await httpRequest(u, 'DELETE', '/v1/admin/namespaces/acme/billing')).status, 404)
  t.equal((await httpRequest(u, 'DELETE', '/v1/admin/namespaces/acme/orders?force=true')).status, 200, 'force deletes a non-empty one')
  await gw.restart()
  t.equal((await httpRequest(gw.urls.http, 'GET', '/v1/admin/namespaces/acme/billing')).status, 404, 'a delete survives a restart')
})

t.test('ops admin - topics with stats; subscriptions: create, peek, skip, reset, clear, delete; bad input', async (t) => {
  const gw = await startTestGateway(t)
  const u = gw.urls.http
  const sub = `/v1/admin/topics/public/default/${enc('orders/eu')}/subscriptions/audit`
  const created = await httpRequest(u, 'PUT', sub, json({ mode: 'shared', position: 'earliest' }))
  t.equal(created.status, 201)
  t.equal(created.json.subscription, 'audit')
  t.equal((await httpRequest(u, 'PUT', sub, json({ mode: 'shared' }))).status, 200, 'again: exists')
  const t0 = Date.now()
  for (let i = 0; i < 10; i++) t.equal((await httpRequest(u, 'POST', `${topicPath('public/default/orders/eu')}/messages`, { body: `m${i}` })).status, 201)

  const list = await httpRequest(u, 'GET', '/v1/admin/namespaces/public/default/topics')
  const topic = list.json.topics.find((x: { topic: string }) => x.topic === 'orders/eu')
  t.equal(topic.storedMessages, 10)
  t.equal(topic.backlog, 10)
  t.ok(topic.storedBytes > 0)
  const detail = await httpRequest(u, 'GET', `/v1/admin/topics/public/default/${enc('orders/eu')}`)
  t.equal(detail.json.subscriptionList[0].subscription, 'audit')
  t.equal(detail.json.subscriptionList[0].backlog, 10)
  const msgs = await httpRequest(u, 'GET', `/v1/admin/topics/public/default/${enc('orders/eu')}/messages?from=8&max=5`)
  t.same(msgs.json.messages.map((m: { payload: string }) => m.payload), ['m8', 'm9'])

  const peek = await httpRequest(u, 'GET', `${sub}/peek?max=3`)
  t.same(peek.json.messages.map((m: { payload: string }) => m.payload), ['m0', 'm1', 'm2'])
  const skip = await httpRequest(u, 'POST', `${sub}/skip`, json({ count: 2 }))
  t.same(skip.json, { skipped: 2, backlog: 8 })
  const reset = await httpRequest(u, 'POST', `${sub}/reset`, json({ messageId: '5' }))
  t.equal(reset.json.nextMessageId, '5')
  t.equal(reset.json.backlog, 5)
  t.equal(reset.json.direction, 'forward')
  // Backwards works too (redelivery of acknowledged messages: test/ops/cursor-reset.test.ts); then forward again.
  const back = await httpRequest(u, 'POST', `${sub}/reset`, json({ messageId: 1 }))
  t.equal(back.status, 200)
  t.same([back.json.direction, back.json.nextMessageId, back.json.backlog], ['backward', '1', 9])
  const byTime = await httpRequest(u, 'POST', `${sub}/reset`, json({ time: new Date(t0 - 60_000).toISOString() }))
  t.same([byTime.json.direction, byTime.json.nextMessageId, byTime.json.backlog], ['backward', '0', 10], 'a time before the first message: from the start')
  t.equal((await httpRequest(u, 'POST', `${sub}/reset`, json({ messageId: '5' }))).json.backlog, 5)
  t.equal((await httpRequest(u, 'GET', `${sub}/peek`)).json.messages[0].payload, 'm5')
  // A consumer now gets m5 first: skipped and reset-over messages are never delivered.
  const firstDelivered = await waitFor(async () => {
    const r = await httpRequest(u, 'GET', `${topicPath('public/default/orders/eu')}/subscriptions/audit/messages?max=1&waitMs=1000`)
    return r.json.messages[0]?.payload as string | undefined
  }, { timeoutMs: 30_000, what: 'a delivery after the reset' })
  t.equal(firstDelivered, 'm5')
  const clear = await httpRequest(u, 'POST', `${sub}/clear`)
  t.same(clear.json, { cleared: 5, backlog: 0 })

  const bad: Array<[string, string, unknown, number, string]> = [
    ['POST', `${sub}/skip`, { count: 0 }, 400, 'E_BAD_REQUEST'],
    ['POST', `${sub}/skip`, { nope: 1 }, 400, 'E_BAD_REQUEST'],
    ['POST', `${sub}/reset`, {}, 400, 'E_BAD_REQUEST'],
    ['POST', `${sub}/reset`, { time: 'yesterday-ish' }, 400, 'E_BAD_REQUEST'],
    ['PUT', sub, { mode: 'roundrobin' }, 400, 'E_BAD_REQUEST'],
    ['GET', `/v1/admin/topics/public/default/${enc('orders/eu')}/subscriptions/nobody`, undefined, 404, 'E_NOT_FOUND'],
    ['GET', `/v1/admin/topics/public/nothing/x`, undefined, 404, 'E_NOT_FOUND'],
    ['GET', `/v1/admin/topics/public/default/${enc('orders/eu')}/messages?max=100000`, undefined, 400, 'E_BAD_REQUEST'],
    ['DELETE', '/v1/admin/mqtt/clients/nobody', undefined, 404, 'E_NOT_FOUND'],
    ['PATCH', sub, undefined, 405, 'E_METHOD_NOT_ALLOWED']
  ]
  for (const [method, path, body, status, code] of bad) {
    const r = await httpRequest(u, method, path, body === undefined ? {} : json(body))
    t.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)}`)
    t.equal(r.json?.error?.code, code)
  }
  const notJson = await httpRequest(u, 'POST', `${sub}/skip`, { headers: { 'content-type': 'application/xml' }, body: '<x/>' })
  t.equal(notJson.status, 415)

  t.equal((await httpRequest(u, 'DELETE', sub)).status, 200)
  t.equal((await httpRequest(u, 'GET', sub)).status, 404, 'deleted')
})

t.test('ops admin - dead letters: list, peek with reason, replay to the original topic', async (t) => {
  const gw = await startTestGateway(t, { namespaces: { 'acme/dlq': { maxRedeliveries: 0, redeliveryBackoffMs: [0] } } })
  const u = gw.urls.http
  const base = `${topicPath('acme/dlq/jobs')}`
  for (const p of ['bad1', 'bad2']) t.equal((await httpRequest(u, 'POST', `${base}/messages`, { body: p })).status, 201)
  // Pull and nack both: with maxRedeliveries 0 they go to the DLQ.
  const got: string[] = []
  await waitFor(async () => {
    const r = await httpRequest(u, 'GET', `${base}/subscriptions/worker/messages?position=earliest&max=10&waitMs=1000`)
    got.push(...r.json.messages.map((m: { messageId: string }) => m.messageId))
    return got.length >= 2
  }, { timeoutMs: 30_000, what: 'both messages pulled' })
  t.equal((await httpRequest(u, 'POST', `${base}/subscriptions/worker/nack`, json({ messageIds: got, reason: 'poison' }))).status, 200)
  const list = await waitFor(async () => {
    const r = await httpRequest(u, 'GET', '/v1/admin/namespaces/acme/dlq/dead-letters')
    return r.json.deadLetterTopics.find((d: { pending: number }) => d.pending === 2)
  }, { timeoutMs: 30_000, what: 'two dead letters' })
  t.equal(list.originalTopic, 'jobs')
  t.equal(list.subscription, 'worker')
  const dlq = `/v1/admin/dead-letters/acme/dlq/${enc(list.topic)}`
  const peek = await httpRequest(u, 'GET', dlq)
  t.same(peek.json.messages.map((m: { payload: string, reason: string }) => [m.payload, m.reason]), [['bad1', 'poison'], ['bad2', 'poison']])

  const replay = await httpRequest(u, 'POST', `${dlq}/replay`, json({ max: 1 }))
  t.same(replay.json, { replayed: 1, failed: 0, remaining: 1, topic: 'jobs' })
  const replay2 = await httpRequest(u, 'POST', `${dlq}/replay`)
  t.equal(replay2.json.remaining, 0)
  // The replayed messages are on the original topic again, for the subscription to consume.
  const again = await waitFor(async () => {
    const r = await httpRequest(u, 'GET', `${base}/subscriptions/worker/messages?max=10&waitMs=1000`)
    return r.json.messages.length > 0 ? r.json.messages : undefined
  }, { timeoutMs: 30_000, what: 'replayed messages delivered' })
  t.ok(again.some((m: { payload: string }) => m.payload === 'bad1'))
  t.equal((await httpRequest(u, 'POST', `/v1/admin/dead-letters/acme/dlq/jobs/replay`)).status, 400, 'not a DLQ')
})

t.test('ops admin - MQTT clients and sessions: list and kick (v5 DISCONNECT 0x98)', async (t) => {
  const gw = await startTestGateway(t)
  const c = await connectMqtt(t, gw, gw.urls.mqtt, { clientId: 'kick-me', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 300 } })
  await c.subscribeAsync('a/b', { qos: 1 })
  const clients = await httpRequest(gw.urls.http, 'GET', '/v1/admin/mqtt/clients')
  const me = clients.json.clients.find((x: { clientId: string }) => x.clientId === 'kick-me')
  t.equal(me.namespace, 'public/default')
  t.equal(me.protocolVersion, 5)
  t.equal(me.transport, 'tcp')
  const sessions = await httpRequest(gw.urls.http, 'GET', '/v1/admin/mqtt/sessions')
  t.same(sessions.json.sessions.find((s: { clientId: string }) => s.clientId === 'kick-me').subscriptions, [{ filter: 'a/b', qos: 1 }])
  const reason = new Promise<number | undefined>((resolve) => { c.once('disconnect', (p) => { resolve(p.reasonCode) }) })
  t.equal((await httpRequest(gw.urls.http, 'DELETE', '/v1/admin/mqtt/clients/kick-me')).status, 200)
  t.equal(await reason, 0x98, 'administrative action')
  await waitFor(async () => (await httpRequest(gw.urls.http, 'GET', '/v1/admin/mqtt/clients')).json.clients.length === 0, { what: 'client gone' })
  const kept = await httpRequest(gw.urls.http, 'GET', '/v1/admin/mqtt/sessions')
  t.equal(kept.json.sessions[0].connected, false, 'the persistent session stays')
})

t.test('ops admin - outside dev mode the admin API needs the admin action; health, readiness and metrics stay open', async (t) => {
  const gw = await startTestGateway(t, { dev: false })
  const o = { ca: gw.caPem }
  for (const path of ['/v1/admin/overview', '/v1/admin/tenants', '/v1/admin/mqtt/clients', '/v1/admin/namespaces/public/x/topics', '/v1/admin/sites', '/v1/admin/links']) {
    t.equal((await httpRequest(gw.urls.https, 'GET', path, o)).status, 401, path)
    // gateway/auth verifies tokens: one that does not verify is 401 (403 for a valid one without admin: test/security/).
    t.equal((await httpRequest(gw.urls.https, 'GET', path, { ...o, headers: { authorization: 'Bearer x' } })).status, 401, path)
  }
  for (const path of ['/healthz', '/readyz', '/metrics', '/v1/openapi.json']) t.equal((await httpRequest(gw.urls.https, 'GET', path, o)).status, 200, path)
})

t.test('ops admin - graceful close: readyz turns 503 while draining; acknowledged publishes survive', async (t) => {
  const gw = await startTestGateway(t)
  const r = await httpRequest(gw.urls.http, 'POST', `${topicPath('public/default/g')}/messages`, { body: 'kept' })
  t.equal(r.status, 201)
  const ops = gw.gateway.ops
  t.equal(ops.health?.readiness().ready, true)
  const closing = gw.gateway.close()
  t.equal(ops.health?.readiness().ready, false, 'not ready as soon as the close starts')
  await closing
  t.equal(ops.health?.readiness().phase, 'closed')
  await gw.restart()
  const m = await httpRequest(gw.urls.http, 'GET', `/v1/admin/topics/public/default/g/messages`)
  t.same(m.json.messages.map((x: { payload: string }) => x.payload), ['kept'])
})
