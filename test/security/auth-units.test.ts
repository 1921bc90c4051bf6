import t from 'tap'
import { FailureThrottle, hostOf, patternCoversFilter, patternMatchesTopic, allowsTopic, allowsFilter, allowsNamespace, accessOf, type Principal } from '../../gateway/auth/index.js'
import { startSecureGateway, token, tryMqtt } from './helpers.js'
import { httpRequest, topicPath } from '../helpers/http.js'

function principal (over: Partial<Principal> = {}): Principal {
  return { kind: 'token', credentialId: 'tok_x', tenant: 'acme', name: 'tok_x', namespaces: ['orders'], actions: new Set(['produce', 'consume']), topics: undefined, expiresAt: Date.now() + 60_000, ...over }
}

t.test('auth units - topic patterns match topics and cover filters', async (t) => {
  t.ok(patternMatchesTopic('a/+/c', 'a/b/c'))
  t.notOk(patternMatchesTopic('a/+/c', 'a/b/c/d'))
  t.ok(patternMatchesTopic('a/#', 'a'))
  t.ok(patternMatchesTopic('a/#', 'a/b/c'))
  t.notOk(patternMatchesTopic('a/#', 'ab'))
  t.ok(patternCoversFilter('a/#', 'a/+/c'))
  t.ok(patternCoversFilter('a/#', 'a/#'))
  t.ok(patternCoversFilter('a/+', 'a/b'))
  t.ok(patternCoversFilter('a/+', 'a/+'))
  t.notOk(patternCoversFilter('a/+', 'a/#'))
  t.notOk(patternCoversFilter('a/b', 'a/+'))
  t.notOk(patternCoversFilter('a/+/c', 'a/+/#'))
  t.notOk(patternCoversFilter('a', '#'))
  t.ok(patternCoversFilter('#', '#'))
})

t.test('auth units - grants never cross the tenant', async (t) => {
  const p = principal({ namespaces: ['orders', 'bill-*'], topics: ['eu/#'] })
  t.ok(allowsNamespace(p, 'produce', 'acme', 'bill-eu'))
  t.notOk(allowsNamespace(p, 'produce', 'globex', 'orders'), 'other tenant')
  t.notOk(allowsNamespace(p, 'admin', 'acme', 'orders'), 'action not granted')
  t.ok(allowsTopic(p, 'produce', 'acme', 'orders', 'eu/x'))
  t.notOk(allowsTopic(p, 'produce', 'acme', 'orders', 'us/x'))
  t.ok(allowsFilter(p, 'acme', 'orders', 'eu/+'))
  t.notOk(allowsFilter(p, 'acme', 'orders', '#'))
  const op = principal({ tenant: '*', namespaces: ['*'], actions: new Set(['admin']) })
  t.ok(allowsNamespace(op, 'admin', 'anyone', 'anything'))
  t.equal(accessOf({ kind: 'somethingNew' }).kind, 'operator', 'unknown routes need an operator')
  t.equal(accessOf({ kind: 'healthz' }).kind, 'public')
})

t.test('auth units - failure throttle: slows, then blocks; the table is bounded', async (t) => {
  t.equal(hostOf('127.0.0.1:5555'), '127.0.0.1')
  t.equal(hostOf('[::1]:5555'), '::1')
  t.equal(hostOf('::1'), '::1')
  const th = new FailureThrottle({ failuresBeforeDelay: 2, failuresBeforeBlock: 4, blockMs: 1000, entriesMax: 3 })
  const now = 1_000_000
  t.equal(th.failed('1.1.1.1:1', now), 0)
  t.equal(th.failed('1.1.1.1:2', now), 0)
  t.ok(th.failed('1.1.1.1:3', now) > 0, 'third failure is slowed')
  t.notOk(th.blocked('1.1.1.1:4', now))
  th.failed('1.1.1.1:4', now)
  t.ok(th.blocked('1.1.1.1:9', now + 10), 'blocked after four, whatever the port')
  t.notOk(th.blocked('1.1.1.1:9', now + 2000), 'block expires')
  for (let i = 0; i < 10; i++) th.failed(`10.0.0.${i}:1`, now)
  t.equal(th.stats().tracked, 3, 'bounded')
  t.ok(th.stats().evicted >= 8)
})

t.test('auth units - repeated failures from one address: slowed, then refused for a while over MQTT and HTTP', async (t) => {
  const gw = await startSecureGateway(t, { authThrottle: { failuresBeforeDelay: 2, failuresBeforeBlock: 4, blockMs: 60_000 } })
  const good = await token(gw)
  const codes: Array<number | undefined> = []
  for (let i = 0; i < 4; i++) {
    const r = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 5, clientId: `bf${i}`, password: 'wrong' })
    codes.push(r.ok ? 0 : r.code)
  }
  t.same(codes, [0x86, 0x86, 0x86, 0x86])
  const blocked = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 5, clientId: 'bf-good', password: good.token })
  t.same(blocked.ok ? 'connected' : blocked.code, 0x8a, 'even a good token is refused while blocked (0x8A Banned)')
  const http = await httpRequest(gw.urls.https, 'POST', `${topicPath('acme/orders/a')}/messages`, { headers: { authorization: `Bearer ${good.token}` }, body: 'x', ca: gw.caPem })
  t.equal(http.status, 429)
  t.equal(http.json.error.code, 'E_AUTH_THROTTLED')
  const s = gw.gateway.security.stats().auth
  t.ok((s?.throttle.blockedRefusals ?? 0) >= 2, 'counted in stats')
})
