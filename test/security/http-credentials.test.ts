import t from 'tap'
import { revoke, pkiLayout } from '../../pki/index.js'
import { httpRequest, topicPath } from '../helpers/http.js'
import { expiredToken, startSecureGateway, storedTopics, token } from './helpers.js'

const auth = (tok: string): Record<string, string> => ({ authorization: `Bearer ${tok}` })

t.test('security http - every credential path over HTTPS: 401 with WWW-Authenticate, 403 for a valid credential without the right, nothing stored', async (t) => {
  const gw = await startSecureGateway(t)
  const ca = gw.caPem
  const good = await token(gw)
  const revoked = await token(gw)
  await revoke(pkiLayout(gw.pkiDir), revoked.id)
  await gw.gateway.security.refresh()
  const publish = `${topicPath('acme/orders/a')}/messages`

  const unauthorized: Array<[string, Record<string, string>]> = [
    ['no credential', {}],
    ['garbage', auth('garbage')],
    ['not bearer', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
    ['forged signature', auth(`${good.token.slice(0, -4)}AAAA`)],
    ['expired', auth(await expiredToken(gw))],
    ['revoked', auth(revoked.token)]
  ]
  for (const [name, headers] of unauthorized) {
    const r = await httpRequest(gw.urls.https, 'POST', publish, { headers, body: 'x', ca })
    t.equal(r.status, 401, `${name}: 401`)
    t.match(r.headers['www-authenticate'], /^Bearer/, `${name}: WWW-Authenticate: Bearer`)
    t.equal(r.json?.error?.code, 'E_UNAUTHORIZED', `${name}: error body`)
  }
  const pull = await httpRequest(gw.urls.https, 'GET', `${topicPath('acme/orders/a')}/subscriptions/s/messages?waitMs=0`, { ca })
  t.equal(pull.status, 401, 'pull without credential')

  const consumeOnly = await token(gw, { actions: ['consume'] })
  const r403 = await httpRequest(gw.urls.https, 'POST', publish, { headers: auth(consumeOnly.token), body: 'x', ca })
  t.equal(r403.status, 403, 'consume-only token cannot publish')
  t.equal(r403.json.error.code, 'E_FORBIDDEN')
  const produceOnly = await token(gw, { actions: ['produce'] })
  const p403 = await httpRequest(gw.urls.https, 'GET', `${topicPath('acme/orders/a')}/subscriptions/s/messages?waitMs=0`, { headers: auth(produceOnly.token), ca })
  t.equal(p403.status, 403, 'produce-only token cannot pull')
  const admin403 = await httpRequest(gw.urls.https, 'PUT', '/v1/admin/namespaces/acme/orders', { headers: { ...auth(good.token), 'content-type': 'application/json' }, body: '{"maxRedeliveries":3}', ca })
  t.equal(admin403.status, 403, 'policy change needs admin')
  const stats403 = await httpRequest(gw.urls.https, 'GET', '/v1/admin/stats', { headers: auth(good.token), ca })
  t.equal(stats403.status, 403, 'site-wide stats need a network operator')

  t.same(storedTopics(gw), [], 'nothing stored')
  const ok = await httpRequest(gw.urls.https, 'POST', publish, { headers: auth(good.token), body: 'x', ca })
  t.equal(ok.status, 201, 'a valid token publishes')
  const health = await httpRequest(gw.urls.https, 'GET', '/healthz', { ca })
  t.equal(health.status, 200, 'health check needs no credential')
})

t.test('security http - another tenant\'s paths answer the same whether or not they exist', async (t) => {
  const gw = await startSecureGateway(t)
  const ca = gw.caPem
  const acme = await token(gw, { actions: ['produce', 'consume', 'admin'] })
  const globex = await token(gw, { tenant: 'globex' })
  const g = await httpRequest(gw.urls.https, 'POST', `${topicPath('globex/orders/secret')}/messages`, { headers: auth(globex.token), body: 'x', ca })
  t.equal(g.status, 201, 'globex/orders/secret exists')

  const probes: Array<[string, string]> = [
    ['POST', 'messages'], ['GET', 'subscriptions/s/messages?waitMs=0'], ['DELETE', 'subscriptions/s'], ['DELETE', 'messages/0']
  ]
  for (const [method, rest] of probes) {
    const existing = await httpRequest(gw.urls.https, method, `${topicPath('globex/orders/secret')}/${rest}`, { headers: auth(acme.token), body: method === 'POST' ? 'x' : undefined, ca })
    const missingTopic = await httpRequest(gw.urls.https, method, `${topicPath('globex/orders/nothing')}/${rest}`, { headers: auth(acme.token), body: method === 'POST' ? 'x' : undefined, ca })
    const missingNs = await httpRequest(gw.urls.https, method, `${topicPath('globex/nonexistent/secret')}/${rest}`, { headers: auth(acme.token), body: method === 'POST' ? 'x' : undefined, ca })
    const missingTenant = await httpRequest(gw.urls.https, method, `${topicPath('nobody/orders/secret')}/${rest}`, { headers: auth(acme.token), body: method === 'POST' ? 'x' : undefined, ca })
    for (const r of [existing, missingTopic, missingNs, missingTenant]) t.equal(r.status, 403, `${method} ${rest}: 403`)
    const shape = (r: typeof existing): string => r.text.replace(/globex\/orders|globex\/nonexistent|nobody\/orders/, 'NS').replace(/secret|nothing/, 'TOPIC')
    t.equal(shape(missingTopic), shape(existing), `${method} ${rest}: same body for a missing topic`)
    t.equal(shape(missingNs), shape(existing), `${method} ${rest}: same body for a missing namespace`)
    t.equal(shape(missingTenant), shape(existing), `${method} ${rest}: same body for a missing tenant`)
  }
  for (const path of ['/v1/admin/namespaces/globex/orders', '/v1/admin/namespaces/globex/nonexistent']) {
    const r = await httpRequest(gw.urls.https, 'GET', path, { headers: auth(acme.token), ca })
    t.equal(r.status, 403, `${path}: 403 for an admin of another tenant`)
  }
  // The admin API (gateway/ops) authorizes site-wide: a network operator reads any namespace.
  const op = await token(gw, { tenant: '*', namespaces: ['*'], actions: ['admin'] })
  const own = await httpRequest(gw.urls.https, 'GET', '/v1/admin/namespaces/acme/orders', { headers: auth(op.token), ca })
  t.equal(own.status, 200, 'an operator reads a namespace')
  t.same(storedTopics(gw), ['globex/orders/secret'], 'no probe stored anything')
})

t.test('security http - a network operator token reaches the site-wide admin routes', async (t) => {
  const gw = await startSecureGateway(t)
  const op = await token(gw, { tenant: '*', namespaces: ['*'], actions: ['admin'] })
  const r = await httpRequest(gw.urls.https, 'GET', '/v1/admin/stats', { headers: auth(op.token), ca: gw.caPem })
  t.equal(r.status, 200)
  const ns = await httpRequest(gw.urls.https, 'PUT', '/v1/admin/namespaces/globex/orders', { headers: { ...auth(op.token), 'content-type': 'application/json' }, body: '{"maxRedeliveries":3}', ca: gw.caPem })
  t.equal(ns.status, 200)
  const pub = await httpRequest(gw.urls.https, 'POST', `${topicPath('acme/orders/a')}/messages`, { headers: auth(op.token), body: 'x', ca: gw.caPem })
  t.equal(pub.status, 403, 'admin does not imply produce')
})

t.test('security http - production serves TLS 1.2+ only, no plain listeners', async (t) => {
  const gw = await startSecureGateway(t)
  t.equal(gw.gateway.ports.http, undefined)
  t.equal(gw.gateway.ports.mqtt, undefined)
  const tls = await import('node:tls')
  for (const port of [gw.ports.mqtts, gw.ports.https]) {
    const outcome = await new Promise<string>((resolve) => {
      // SECLEVEL=0 lets this client offer TLS 1.1 at all, so a refusal is the server's.
      const s = tls.connect({ host: '127.0.0.1', port, ca: gw.caPem, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0', servername: 'localhost' })
      s.once('secureConnect', () => { s.destroy(); resolve('connected') })
      s.once('error', () => { resolve('refused') })
    })
    t.equal(outcome, 'refused', `port ${port}: TLS 1.1 refused`)
    const ok = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: gw.caPem, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', servername: 'localhost' })
      s.once('secureConnect', () => { s.destroy(); resolve('connected') })
      s.once('error', (e) => { resolve(`refused: ${e.message}`) })
    })
    t.equal(ok, 'connected', `port ${port}: TLS 1.2 accepted`)
  }
})
