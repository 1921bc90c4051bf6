/**
 * Topology in a real etcd driving real sites: routes and their loop check,
 * live policy changes, multi-hop through a hub, and an etcd outage.
 */
import t from 'tap'
import { TopologyClient, type NetworkSite } from '../../topology/index.js'
import { ReplicationMode } from '../../replicator/index.js'
import { startEtcd, startNatsSupercluster } from '../helpers/services.js'
import { startTestNetworkSite } from '../helpers/network.js'
import { waitFor } from '../helpers/wait.js'

function client (t: { teardown: (f: () => void) => void }, url: string, network: string): TopologyClient {
  const c = new TopologyClient({ endpoints: url, network })
  t.teardown(() => { c.close() })
  return c
}

async function payloads (s: NetworkSite, topic: string): Promise<string[]> {
  return (await s.gateway.ledger.read(topic, 0, { maxEntries: 10_000 })).map((e) => e.payload.toString())
}

t.test('topology - sites, namespaces and routes in etcd; a route that makes a loop is refused', async (t) => {
  const etcd = await startEtcd(t)
  const c = client(t, etcd.url, 'n1')
  for (const id of ['a', 'b', 'c']) await c.putSite({ id, region: `r-${id}`, endpoints: {}, preference: 10 })
  await c.putNamespace({ name: 'acme/orders', policy: { maxRedeliveries: 5 }, replication: { sites: ['a', 'b'], mode: ReplicationMode.all } })
  await c.addRoute({ pattern: 'c', via: 'b' })
  await t.rejects(c.addRoute({ pattern: 'c*', via: 'a' }), { code: 'E_TOPOLOGY_INVALID', message: /loop/ }, 'a -> b -> a is refused')
  await t.rejects(c.addRoute({ pattern: 'c*x', via: 'a' }), { code: 'E_TOPOLOGY_INVALID' }, 'a * not at the end is refused')
  const { topology } = await c.load()
  t.same([...topology.sites.keys()].sort(), ['a', 'b', 'c'])
  t.same(topology.routes, [{ pattern: 'c', via: 'b' }], 'the refused route was not written')
  t.same(topology.namespaces.get('acme/orders')?.replication.sites, ['a', 'b'])
  t.equal(topology.namespaces.get('acme/orders')?.policy.maxRedeliveries, 5)
  t.ok(await c.removeSite('c'))
  t.notOk(await c.removeSite('c'), 'removing twice says so')
})

t.test('topology - a live policy change: a site added to a namespace starts receiving; policies apply without restart', async (t) => {
  const etcd = await startEtcd(t)
  const nats = await startNatsSupercluster(t, ['a', 'b', 'c'])
  const c = client(t, etcd.url, 'n2')
  await c.putNamespace({ name: 'acme/x', policy: {}, replication: { sites: ['a', 'b'], mode: ReplicationMode.all } })
  const sites: Record<string, NetworkSite> = {}
  for (const id of ['a', 'b', 'c']) sites[id] = await startTestNetworkSite(t, id, (nats.regions[id] as { url: string }).url, etcd.url, 'n2')
  const [a, b, cc] = [sites.a as NetworkSite, sites.b as NetworkSite, sites.c as NetworkSite]
  await waitFor(async () => (await c.load()).topology.alive.size === 3, { timeoutMs: 30_000, what: 'every site alive in etcd' })
  await a.gateway.dispatcher.publish({ topic: 'acme/x/t', payload: Buffer.from('one') })
  await waitFor(async () => (await payloads(b, 'acme/x/t')).includes('one'), { timeoutMs: 30_000, what: 'b receives' })
  t.same(await payloads(cc, 'acme/x/t'), [], 'c is not in the list: nothing for it')
  t.equal(a.replicator.stats().links.map((l) => l.site).join(','), 'b', 'a links to b only')

  await c.putNamespace({ name: 'acme/x', policy: { maxRedeliveries: 3 }, replication: { sites: ['a', 'b', 'c'], mode: ReplicationMode.all } })
  await waitFor(() => cc.gateway.policies.has('acme/x') && cc.gateway.policies.get('acme/x').maxRedeliveries === 3, { timeoutMs: 30_000, what: 'policy applied live at c' })
  // Each site applies the change from its own etcd watch: c having it says nothing of when a does.
  await waitFor(() => a.gateway.policies.get('acme/x').maxRedeliveries === 3, { timeoutMs: 30_000, what: 'policy applied live at a' })
  t.equal(a.gateway.policies.get('acme/x').maxRedeliveries, 3, 'and at a')
  await a.gateway.dispatcher.publish({ topic: 'acme/x/t', payload: Buffer.from('two') })
  await b.gateway.dispatcher.publish({ topic: 'acme/x/t', payload: Buffer.from('from-b') })
  await waitFor(async () => { const p = await payloads(cc, 'acme/x/t'); return p.includes('two') && p.includes('from-b') }, { timeoutMs: 30_000, what: 'c receives from a and b after the change' })

  // Removing c stops replication there; c keeps what it has.
  await c.putNamespace({ name: 'acme/x', policy: { maxRedeliveries: 3 }, replication: { sites: ['a', 'b'], mode: ReplicationMode.all } })
  await waitFor(() => !a.replicator.stats().links.some((l) => l.site === 'c'), { timeoutMs: 30_000, what: 'a stops its link to c' })
  await a.gateway.dispatcher.publish({ topic: 'acme/x/t', payload: Buffer.from('three') })
  await waitFor(async () => (await payloads(b, 'acme/x/t')).includes('three'), { timeoutMs: 30_000, what: 'b still receives' })
  const atC = await payloads(cc, 'acme/x/t')
  t.notOk(atC.includes('three'), 'c no longer receives')
  t.ok(atC.includes('two'), 'c keeps its data')
})

t.test('topology - multi-hop: edge_1 reaches edge_2 only through the hub', async (t) => {
  const etcd = await startEtcd(t)
  const ids = ['edge_1', 'hub', 'edge_2']
  const nats = await startNatsSupercluster(t, ids)
  const c = client(t, etcd.url, 'n3')
  await c.putNamespace({ name: 'public/default', policy: {}, replication: { sites: ids, mode: ReplicationMode.all } })
  await c.addRoute({ pattern: 'edge_*', via: 'hub' })
  const sites: Record<string, NetworkSite> = {}
  for (const id of ids) sites[id] = await startTestNetworkSite(t, id, (nats.regions[id] as { url: string }).url, etcd.url, 'n3')
  const e1 = sites.edge_1 as NetworkSite
  const e2 = sites.edge_2 as NetworkSite
  const hub = sites.hub as NetworkSite
  t.same(e1.replicator.stats().links.map((l) => l.site), ['hub'], 'the edge links to the hub only')
  t.same(hub.replicator.stats().links.map((l) => l.site).sort(), ['edge_1', 'edge_2'])
  for (let i = 0; i < 20; i++) await e1.gateway.dispatcher.publish({ topic: 'public/default/m', payload: Buffer.from(`e1-${i}`) })
  await e2.gateway.dispatcher.publish({ topic: 'public/default/back', payload: Buffer.from('e2') })
  await waitFor(async () => (await payloads(e2, 'public/default/m')).length === 20, { timeoutMs: 30_000, what: 'edge_2 receives through the hub' })
  await waitFor(async () => (await payloads(e1, 'public/default/back')).length === 1, { timeoutMs: 30_000, what: 'and the other way' })
  const [first] = await e2.gateway.ledger.read('public/default/m', 0, { maxEntries: 1 })
  t.same(first?.props.replicatedVia, ['edge_1', 'hub'], 'the entry carries the sites it passed')
  t.equal(first?.props.originSite, 'edge_1')
  t.same(await payloads(e2, 'public/default/m'), Array.from({ length: 20 }, (_, i) => `e1-${i}`), 'once each, in order')
  t.equal((await payloads(hub, 'public/default/m')).length, 20, 'the hub holds them once')
  t.equal((await payloads(e1, 'public/default/m')).length, 20, 'nothing came back to the origin')
})

t.test('topology - etcd unreachable: sites keep serving and replicating, say so in health, catch up when it returns', async (t) => {
  const etcd = await startEtcd(t)
  const nats = await startNatsSupercluster(t, ['a', 'b'])
  const c = client(t, etcd.url, 'n4')
  await c.putNamespace({ name: 'public/default', policy: {}, replication: { sites: ['a', 'b'], mode: ReplicationMode.all } })
  const a = await startTestNetworkSite(t, 'a', (nats.regions.a as { url: string }).url, etcd.url, 'n4')
  const b = await startTestNetworkSite(t, 'b', (nats.regions.b as { url: string }).url, etcd.url, 'n4')
  t.equal(a.health().topology.etcd, 'connected')
  await etcd.stop()
  await a.gateway.dispatcher.publish({ topic: 'public/default/e', payload: Buffer.from('during') })
  await waitFor(async () => (await payloads(b, 'public/default/e')).includes('during'), { timeoutMs: 30_000, what: 'replication goes on without etcd' })
  await waitFor(() => a.health().topology.etcd === 'unreachable', { timeoutMs: 60_000, what: 'health says etcd is unreachable' })
  t.equal(a.health().topology.stale, true)
  await etcd.start()
  await waitFor(() => a.health().topology.etcd === 'connected', { timeoutMs: 60_000, what: 'health says connected again' })
  await c.putNamespace({ name: 'public/default', policy: { maxRedeliveries: 7 }, replication: { sites: ['a', 'b'], mode: ReplicationMode.all } })
  await waitFor(() => b.gateway.policies.get('public/default').maxRedeliveries === 7, { timeoutMs: 60_000, what: 'a change after etcd returned applies' })
})

t.test('topology - active-passive: only the primary accepts writes; a dead primary is replaced by a fenced move; a site without etcd refuses', async (t) => {
  const etcd = await startEtcd(t)
  const nats = await startNatsSupercluster(t, ['a', 'b', 'c'])
  const c = client(t, etcd.url, 'n5')
  await c.putNamespace({ name: 'acme/ap', policy: {}, replication: { sites: ['a', 'b', 'c'], mode: ReplicationMode.all } })
  await c.putNamespace({ name: 'acme/aa', policy: {}, replication: { sites: ['a', 'b', 'c'], mode: ReplicationMode.all } })
  await c.setPrimary('acme/ap', 'a')
  const sites: Record<string, NetworkSite> = {}
  for (const id of ['a', 'b', 'c']) sites[id] = await startTestNetworkSite(t, id, (nats.regions[id] as { url: string }).url, etcd.url, 'n5')
  const [a, b, cc] = [sites.a as NetworkSite, sites.b as NetworkSite, sites.c as NetworkSite]
  await waitFor(async () => (await c.load()).topology.alive.size === 3, { timeoutMs: 30_000, what: 'all alive' })
  await t.rejects(b.gateway.dispatcher.publish({ topic: 'acme/ap/t', payload: Buffer.from('at-b') }), { code: 'E_NOT_PRIMARY', details: { primary: 'a' } }, 'b is not the primary')
  await b.gateway.dispatcher.publish({ topic: 'acme/aa/t', payload: Buffer.from('aa-at-b') })
  await a.gateway.dispatcher.publish({ topic: 'acme/ap/t', payload: Buffer.from('at-a') })
  await waitFor(async () => (await payloads(b, 'acme/ap/t')).includes('at-a'), { timeoutMs: 30_000, what: 'the primary\'s write replicates to b' })

  const before = (await c.load()).topology.primaries.get('acme/ap')
  await a.close() // its lease goes with it
  await waitFor(async () => (await c.load()).topology.primaries.get('acme/ap')?.site === 'b', { timeoutMs: 60_000, what: 'b takes over (first live site of the list)' })
  const after = (await c.load()).topology.primaries.get('acme/ap')
  t.ok((after?.revision ?? 0) > (before?.revision ?? 0), 'the move bumped the fencing revision')
  const { movePrimary } = await import('../../topology/index.js')
  t.equal(await movePrimary(c, 'acme/ap', 'c', before?.revision ?? 0), false, 'a move based on the old revision is refused (fencing)')
  await waitFor(async () => { try { await b.gateway.dispatcher.publish({ topic: 'acme/ap/t', payload: Buffer.from('at-b-now') }); return true } catch { return false } }, { timeoutMs: 30_000, what: 'b accepts writes as primary' })
  await waitFor(async () => (await payloads(cc, 'acme/ap/t')).includes('at-b-now'), { timeoutMs: 30_000, what: 'and they replicate' })

  // A site that loses etcd refuses writes to the active-passive namespace (it could be fenced off), not to the others.
  await etcd.stop()
  await waitFor(() => b.health().topology.etcd === 'unreachable', { timeoutMs: 60_000, what: 'b sees etcd gone' })
  await t.rejects(b.gateway.dispatcher.publish({ topic: 'acme/ap/t', payload: Buffer.from('no') }), { code: 'E_NOT_PRIMARY' })
  await b.gateway.dispatcher.publish({ topic: 'acme/aa/t', payload: Buffer.from('still-fine') })
  await etcd.start()
})

t.test('topology - interest mode: only topics a subscription at the destination wants travel', async (t) => {
  const etcd = await startEtcd(t)
  const nats = await startNatsSupercluster(t, ['a', 'b'])
  const c = client(t, etcd.url, 'n6')
  await c.putNamespace({ name: 'acme/int', policy: {}, replication: { sites: ['a', 'b'], mode: ReplicationMode.interest } })
  const a = await startTestNetworkSite(t, 'a', (nats.regions.a as { url: string }).url, etcd.url, 'n6')
  const b = await startTestNetworkSite(t, 'b', (nats.regions.b as { url: string }).url, etcd.url, 'n6')
  const got: string[] = []
  const consumer = await b.gateway.dispatcher.subscribe({
    namespace: 'acme/int', filter: 'wanted/+', subscription: 'int', mode: 'exclusive', durable: true, initialPosition: 'earliest', consumerName: 'c', permits: 100,
    sink: { deliver: (d) => { got.push(d.payload.toString()) }, closed: () => {}, activeChanged: () => {} }
  })
  t.teardown(async () => { await consumer.close() })
  await waitFor(async () => (await c.load()).topology.interest.get('b')?.['acme/int']?.includes('wanted/+'), { timeoutMs: 30_000, what: 'b\'s interest is in etcd' })
  await waitFor(() => a.topology.current().interest.get('b') !== undefined, { timeoutMs: 30_000, what: 'a sees it' })
  await a.gateway.dispatcher.publish({ topic: 'acme/int/other/x', payload: Buffer.from('unwanted') })
  await a.gateway.dispatcher.publish({ topic: 'acme/int/wanted/x', payload: Buffer.from('wanted') })
  await waitFor(() => got.includes('wanted'), { timeoutMs: 30_000, what: 'the wanted topic reaches b\'s subscriber' })
  t.equal(b.gateway.ledger.topicInfo('acme/int/other/x'), undefined, 'a topic nobody at b wants stayed at a')
})
