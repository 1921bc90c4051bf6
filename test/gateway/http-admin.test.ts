import t from 'tap'
import { startTestGateway } from '../helpers/gateway.js'
import { httpRequest, topicPath } from '../helpers/http.js'

t.test('http admin - namespaces: create 201, change 200, get, list, validation 400, unknown 404', async (t) => {
  const gw = await startTestGateway(t)
  const put1 = await httpRequest(gw.urls.http, 'PUT', '/v1/admin/namespaces/acme/orders', {
    headers: { 'content-type': 'application/json' }, body: JSON.stringify({ maxRedeliveries: 3, messageTtlMs: 60000 })
  })
  t.equal(put1.status, 201, 'new namespace')
  t.equal(put1.json.namespace, 'acme/orders')
  t.equal(put1.json.policy.maxRedeliveries, 3)
  t.equal(put1.json.policy.durability, 'sync', 'defaults fill the rest')
  const put2 = await httpRequest(gw.urls.http, 'PUT', '/v1/admin/namespaces/acme/orders', { body: JSON.stringify({ maxRedeliveries: 5 }) })
  t.equal(put2.status, 200, 'existing namespace')
  t.equal(put2.json.policy.maxRedeliveries, 5)
  t.equal(put2.json.policy.messageTtlMs, 60000, 'fields not given are kept')
  const get = await httpRequest(gw.urls.http, 'GET', '/v1/admin/namespaces/acme/orders')
  t.equal(get.status, 200)
  t.same(get.json, put2.json)
  const list = await httpRequest(gw.urls.http, 'GET', '/v1/admin/namespaces')
  t.same(list.json, { namespaces: ['acme/orders', 'public/default'] })

  const bad: Array<[string, string, number, string]> = [
    ['/v1/admin/namespaces/acme/orders', '{"maxRedeliveries": -7}', 400, 'E_BAD_REQUEST'],
    ['/v1/admin/namespaces/acme/orders', '{"maxRedelivery": 1}', 400, 'E_BAD_REQUEST'],
    ['/v1/admin/namespaces/acme/orders', '{"durability": "memory"}', 400, 'E_BAD_REQUEST'],
    ['/v1/admin/namespaces/acme/orders', '{not json', 400, 'E_BAD_REQUEST'],
    ['/v1/admin/namespaces/acme/orders', '"string"', 400, 'E_BAD_REQUEST'],
    ['/v1/admin/namespaces/acme/orders', '', 400, 'E_BAD_REQUEST'],
    ['/v1/admin/namespaces/bad%20tenant/x', '{}', 400, 'E_BAD_REQUEST']
  ]
  for (const [path, body, status, code] of bad) {
    const r = await httpRequest(gw.urls.http, 'PUT', path, { body })
    t.equal(r.status, status, `${path} ${body}`)
    t.equal(r.json.error.code, code)
  }
  const xml = await httpRequest(gw.urls.http, 'PUT', '/v1/admin/namespaces/acme/orders', { headers: { 'content-type': 'application/xml' }, body: '<x/>' })
  t.equal(xml.status, 415)
  t.equal(xml.json.error.code, 'E_UNSUPPORTED_MEDIA_TYPE')
  t.equal((await httpRequest(gw.urls.http, 'GET', '/v1/admin/namespaces/acme/orders')).json.policy.maxRedeliveries, 5, 'refused changes changed nothing')
  const unknown = await httpRequest(gw.urls.http, 'GET', '/v1/admin/namespaces/acme/nothing')
  t.equal(unknown.status, 404)
  t.equal(unknown.json.error.code, 'E_NOT_FOUND')
})

t.test('http admin - a policy change applies to the next publish, and survives a restart', async (t) => {
  const gw = await startTestGateway(t)
  const path = `${topicPath('acme/live/t')}/messages`
  t.equal((await httpRequest(gw.urls.http, 'POST', path, { body: 'x' })).status, 404, 'namespace does not exist yet')
  t.equal((await httpRequest(gw.urls.http, 'PUT', '/v1/admin/namespaces/acme/live', { body: '{}' })).status, 201)
  t.equal((await httpRequest(gw.urls.http, 'POST', path, { body: 'x'.repeat(100) })).status, 201)
  t.equal((await httpRequest(gw.urls.http, 'PUT', '/v1/admin/namespaces/acme/live', { body: '{"maxMessageBytes": 50}' })).status, 200)
  const big = await httpRequest(gw.urls.http, 'POST', path, { body: 'x'.repeat(100) })
  t.equal(big.status, 413, 'the smaller limit applies at once')
  t.equal(big.json.error.code, 'E_TOO_LARGE')
  await gw.restart()
  const after = await httpRequest(gw.urls.http, 'GET', '/v1/admin/namespaces/acme/live')
  t.equal(after.status, 200, 'admin-created namespace persisted')
  t.equal(after.json.policy.maxMessageBytes, 50)
})

t.test('http admin - stats, healthz, unknown route 404, wrong method 405, all JSON', async (t) => {
  const gw = await startTestGateway(t)
  const health = await httpRequest(gw.urls.http, 'GET', '/healthz')
  t.same(health.json, { status: 'ok', siteId: 'test' })
  t.match(health.headers['content-type'], /application\/json/)
  const stats = await httpRequest(gw.urls.http, 'GET', '/v1/admin/stats')
  t.equal(stats.status, 200)
  t.equal(stats.json.siteId, 'test')
  t.type(stats.json.ledger.topics, 'number')
  t.type(stats.json.http.pullConsumers, 'number')
  const nope = await httpRequest(gw.urls.http, 'GET', '/v2/nothing')
  t.equal(nope.status, 404)
  t.equal(nope.json.error.code, 'E_ROUTE_NOT_FOUND')
  const wrong = await httpRequest(gw.urls.http, 'POST', '/healthz', { body: '{}' })
  t.equal(wrong.status, 405)
  t.equal(wrong.json.error.code, 'E_METHOD_NOT_ALLOWED')
  const wrongTopic = await httpRequest(gw.urls.http, 'GET', `${topicPath('public/default/a')}/messages`)
  t.equal(wrongTopic.status, 405)
  const counted = (await httpRequest(gw.urls.http, 'GET', '/v1/admin/stats')).json.http
  t.ok(counted.responsesByStatus['200'] >= 2, 'responses are counted by status')
  t.equal(counted.responsesByStatus['405'], 2)
  t.equal(counted.rejectionsByCode.E_METHOD_NOT_ALLOWED, 2, 'rejections are counted by code')
  t.equal(counted.rejectionsByCode.E_ROUTE_NOT_FOUND, 1)
})

t.test('http admin - outside dev mode: no credentials 401, an invalid token 401, healthz open', async (t) => {
  const gw = await startTestGateway(t, { dev: false })
  const https = gw.urls.https
  const anon = await httpRequest(https, 'GET', '/v1/admin/namespaces', { ca: gw.caPem })
  t.equal(anon.status, 401)
  t.equal(anon.json.error.code, 'E_UNAUTHORIZED')
  const pub = await httpRequest(https, 'POST', `${topicPath('public/default/x')}/messages`, { ca: gw.caPem, body: 'x' })
  t.equal(pub.status, 401)
  // gateway/auth verifies tokens now: one that does not verify is 401 (403 is for a valid token without the right, test/security/).
  const withToken = await httpRequest(https, 'GET', '/v1/admin/namespaces', { ca: gw.caPem, headers: { authorization: 'Bearer nope' } })
  t.equal(withToken.status, 401)
  t.equal(withToken.json.error.code, 'E_UNAUTHORIZED')
  const health = await httpRequest(https, 'GET', '/healthz', { ca: gw.caPem })
  t.equal(health.status, 200)
})

t.test('http admin - healthz answers 503 E_FENCED when the store refuses appends', async (t) => {
  const { HttpCore } = await import('../../gateway/http/api.js')
  const { PolicyRegistry } = await import('../../gateway/policy/index.js')
  const { silentLogger } = await import('../../common/log.js')
  let fenced = false
  const ledger = { stats: () => ({ topics: 0, segments: 0, diskBytes: 0, appends: 0, fsyncs: 0, fenced }) }
  const core = new HttpCore({
    dispatcher: {} as never, ledger: ledger as never, policies: new PolicyRegistry(), siteId: 'h', dev: true, logger: silentLogger
  })
  const head = { method: 'GET', path: '/healthz', query: '', headers: [], remoteAddress: '127.0.0.1' }
  const ok = await core.plan(head).run(Buffer.alloc(0), () => new AbortController().signal)
  t.equal(ok.status, 200)
  fenced = true
  await t.rejects(core.plan(head).run(Buffer.alloc(0), () => new AbortController().signal), { code: 'E_FENCED' })
  const { httpStatusOf } = await import('../../gateway/error-map.js')
  const { FerryError } = await import('../../common/errors.js')
  t.equal(httpStatusOf(new FerryError('E_FENCED', 'x')), 503, 'E_FENCED is answered 503')
})
