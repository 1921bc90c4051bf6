/**
 * Failover steering on a real network (etcd, a nats-server per site, three
 * gateways): GET /v1/topology, and MQTT 5 reason 0x9C Use Another Server
 * with Server Reference when a site loses its lease or drains, followed by
 * the stock `mqtt` client.
 */
import t from 'tap'
import mqtt from 'mqtt'
import { TopologyClient, type NetworkSite } from '../../topology/index.js'
import { ReplicationMode } from '../../replicator/index.js'
import { startEtcd, startNatsSupercluster } from '../helpers/services.js'
import { startTestGateway } from '../helpers/gateway.js'
import { startSecureGateway, token } from '../security/helpers.js'
import { httpRequest } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'
import { followSteering, startCutProxy, startFailoverSite } from './failover-helpers.js'

// Real etcd, nats-servers and gateways per test, leases expiring: generous on a loaded 2-core machine.
t.setTimeout(600_000)

function ep (s: NetworkSite, kind: string): string {
  const p = s.gateway.ports
  return kind === 'mqtt' ? `mqtt://127.0.0.1:${p.mqtt as number}` : `http://127.0.0.1:${p.http as number}`
}

t.test('topology - GET /v1/topology standalone: the one site; the namespace part needs a credential outside dev mode', async (t) => {
  const gw = await startTestGateway(t, { siteId: 'solo' })
  const r = await httpRequest(gw.urls.http, 'GET', '/v1/topology')
  t.equal(r.status, 200)
  t.equal(r.json.site, 'solo')
  t.equal(r.json.standalone, true)
  t.equal(r.json.leaseHeld, true)
  t.same(r.json.sites.map((s: { id: string }) => s.id), ['solo'])
  t.equal(r.json.sites[0].endpoints.mqtt, gw.urls.mqtt, 'its own endpoints')
  t.equal(r.json.namespace.name, 'public/default', 'dev mode: the anonymous namespace by default')
  t.equal(r.json.namespace.mode, 'active-active')
  t.equal((await httpRequest(gw.urls.http, 'GET', '/v1/topology?ns=bad')).json.error.code, 'E_BAD_REQUEST')

  const sec = await startSecureGateway(t)
  const o = { ca: sec.caPem }
  const anon = await httpRequest(sec.urls.https, 'GET', '/v1/topology', o)
  t.equal(anon.status, 200, 'the site part is public')
  t.equal(anon.json.namespace, undefined, 'no namespace without a credential')
  t.equal((await httpRequest(sec.urls.https, 'GET', '/v1/topology?ns=acme/orders', o)).status, 401)
  const tok = (await token(sec)).token
  const auth = { ...o, headers: { authorization: `Bearer ${tok}` } }
  const mine = await httpRequest(sec.urls.https, 'GET', '/v1/topology', auth)
  t.equal(mine.json.namespace.name, 'acme/orders', 'default: the credential\'s namespace')
  const other = await httpRequest(sec.urls.https, 'GET', '/v1/topology?ns=globex/orders', auth)
  t.equal(other.status, 403, 'another tenant\'s namespace is refused')
  t.equal(other.json.error.code, 'E_FORBIDDEN')
})

t.test('topology - a site cut off from etcd steers MQTT clients to the next healthy site (0x9C + Server Reference); the stock client follows; draining steers too', async (t) => {
  const etcd = await startEtcd(t)
  const nats = await startNatsSupercluster(t, ['a', 'b', 'c'])
  const network = 'st1'
  const c = new TopologyClient({ endpoints: etcd.url, network })
  t.teardown(() => { c.close() })
  await c.putNamespace({ name: 'public/default', policy: {}, replication: { sites: ['a', 'b', 'c'], mode: ReplicationMode.all } })
  await c.putNamespace({ name: 'acme/ap', policy: {}, replication: { sites: ['a', 'b', 'c'], mode: ReplicationMode.all } })
  const proxy = await startCutProxy(t, etcd.url)
  const url = (id: string): string => (nats.regions[id] as { url: string }).url
  const a = await startFailoverSite(t, 'a', url('a'), proxy.url, network, { preference: 10 })
  const b = await startFailoverSite(t, 'b', url('b'), etcd.url, network, { preference: 20 })
  const cc = await startFailoverSite(t, 'c', url('c'), etcd.url, network, { preference: 30 })
  await waitFor(() => [a, b, cc].every((s) => s.topology.current().alive.size === 3 && s.topology.leaseHeld()), { timeoutMs: 30_000, what: 'every site alive and seen by all' })
  await c.setPrimary('acme/ap', 'c')
  await waitFor(() => b.topology.current().primaries.get('acme/ap')?.site === 'c', { timeoutMs: 30_000, what: 'b sees the primary' })

  // GET /v1/topology at b: every site, this site, the namespace's sites in order, the primary of an active-passive one.
  const topo = (await httpRequest(ep(b, 'http'), 'GET', '/v1/topology?ns=acme/ap')).json
  t.equal(topo.site, 'b')
  t.equal(topo.standalone, false)
  t.equal(topo.etcd, 'connected')
  t.same(topo.sites.map((s: { id: string, alive: boolean }) => [s.id, s.alive]), [['a', true], ['b', true], ['c', true]], 'by preference, alive')
  t.equal(topo.sites[0].endpoints.mqtt, ep(a, 'mqtt'))
  t.equal(topo.namespace.mode, 'active-passive')
  t.equal(topo.namespace.primary, 'c')
  t.equal(topo.namespace.writableHere, false)
  t.same(topo.namespace.sites.map((s: { id: string }) => s.id), ['c', 'a', 'b'], 'the primary first, then by preference')

  // A subscriber at c; a publisher at a that follows steering.
  const sub = await mqtt.connectAsync(ep(cc, 'mqtt'), { protocolVersion: 5, clientId: 'sub-c', clean: false, properties: { sessionExpiryInterval: 600 }, reconnectPeriod: 0 })
  t.teardown(async () => { await sub.endAsync(true) })
  const got: string[] = []
  sub.on('message', (_topic, payload) => { got.push(payload.toString()) })
  await sub.subscribeAsync('steer/#', { qos: 1 })
  const pub = followSteering(t, ep(a, 'mqtt'), { clientId: 'pub' })
  await waitFor(() => pub.current().connected, { timeoutMs: 30_000, what: 'publisher connected at a' })
  await pub.current().publishAsync('steer/before', 'before', { qos: 1 })
  await waitFor(() => got.includes('before'), { timeoutMs: 30_000, what: 'a\'s publish reaches c' })

  // a loses etcd: its lease expires; it steers (b is the next healthy site by preference and confirms its lease).
  proxy.cut()
  await waitFor(() => pub.steered.length > 0, { timeoutMs: 60_000, what: 'the connected MQTT 5 client is sent away' })
  t.same(pub.steered[0], { cmd: 'disconnect', reasonCode: 0x9c, serverReference: ep(b, 'mqtt') }, 'DISCONNECT 0x9C naming b\'s mqtt endpoint')
  await waitFor(() => pub.current().connected && pub.urls.at(-1) === ep(b, 'mqtt'), { timeoutMs: 30_000, what: 'the client follows to b' })
  await pub.current().publishAsync('steer/after', 'after', { qos: 1 })
  await waitFor(() => got.includes('after'), { timeoutMs: 30_000, what: 'its messages arrive' })

  const atA = (await httpRequest(ep(a, 'http'), 'GET', '/v1/topology')).json
  t.equal(atA.leaseHeld, false)
  t.equal(atA.steering, 'lease-lost')
  // A new MQTT 5 CONNECT at a: CONNACK 0x9C with the Server Reference; 3.1.1: rc 3 Server unavailable.
  const fresh = followSteering(t, ep(a, 'mqtt'), { clientId: 'fresh' })
  await waitFor(() => fresh.current().connected, { timeoutMs: 30_000, what: 'a new client lands at b' })
  t.same(fresh.steered[0], { cmd: 'connack', reasonCode: 0x9c, serverReference: ep(b, 'mqtt') }, 'CONNACK 0x9C naming b')
  const old = await mqtt.connectAsync(ep(a, 'mqtt'), { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000 }).then(() => 0, (err: { code?: number }) => err.code)
  t.equal(old, 3, '3.1.1: CONNACK 3 Server unavailable')

  // a gets etcd back: it serves again.
  proxy.restore()
  await waitFor(async () => (await httpRequest(ep(a, 'http'), 'GET', '/v1/topology')).json.steering === undefined, { timeoutMs: 60_000, what: 'a holds its lease again and stops steering' })
  const back = await mqtt.connectAsync(ep(a, 'mqtt'), { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10_000 })
  await back.endAsync()

  // Draining: b shuts down; its MQTT 5 clients go to the next healthy site (a, preference 10).
  await waitFor(() => b.topology.current().alive.has('a'), { timeoutMs: 30_000, what: 'b sees a alive again' })
  const steeredBefore = pub.steered.length
  await b.close()
  await waitFor(() => pub.steered.length > steeredBefore, { timeoutMs: 30_000, what: 'b\'s client is steered on shutdown' })
  t.equal(pub.steered.at(-1)?.serverReference, ep(a, 'mqtt'), 'to a')
  await waitFor(() => pub.current().connected && pub.urls.at(-1) === ep(a, 'mqtt'), { timeoutMs: 30_000, what: 'and connects there' })
  await pub.current().publishAsync('steer/drained', 'drained', { qos: 1 })
  await waitFor(() => got.includes('drained'), { timeoutMs: 30_000, what: 'its messages arrive' })
})

t.test('topology - etcd down everywhere: every site lost its lease, none confirms one, so nobody is steered and every site serves', async (t) => {
  const etcd = await startEtcd(t)
  const nats = await startNatsSupercluster(t, ['a', 'b'])
  const network = 'st2'
  const c = new TopologyClient({ endpoints: etcd.url, network })
  t.teardown(() => { c.close() })
  await c.putNamespace({ name: 'public/default', policy: {}, replication: { sites: ['a', 'b'], mode: ReplicationMode.all } })
  const a = await startFailoverSite(t, 'a', (nats.regions.a as { url: string }).url, etcd.url, network, { preference: 10 })
  const b = await startFailoverSite(t, 'b', (nats.regions.b as { url: string }).url, etcd.url, network, { preference: 20 })
  await waitFor(() => [a, b].every((s) => s.topology.current().alive.size === 2 && s.topology.leaseHeld()), { timeoutMs: 30_000, what: 'both alive' })
  await etcd.stop()
  await waitFor(async () => {
    const both = await Promise.all([a, b].map(async (s) => (await httpRequest(ep(s, 'http'), 'GET', '/v1/topology')).json))
    return both.every((d) => d.leaseHeld === false && d.steering === 'lease-lost')
  }, { timeoutMs: 60_000, what: 'both sites lost their lease' })
  // Each probes the other, which does not confirm a lease: no target.
  await waitFor(() => a.steering.steer('public/default', 'mqtt') === undefined && b.steering.steer('public/default', 'mqtt') === undefined, { timeoutMs: 30_000, what: 'no site has a steering target' })
  for (const s of [a, b]) {
    const client = await mqtt.connectAsync(ep(s, 'mqtt'), { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10_000 })
    await client.publishAsync('x', 'served', { qos: 1 })
    await client.endAsync()
  }
  t.ok((await a.gateway.ledger.read('public/default/x', 0, { maxEntries: 10 })).length >= 1, 'a served its client')
  await etcd.start()
})
