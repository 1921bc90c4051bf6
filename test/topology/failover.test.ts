/**
 * Active-passive failover end to end on a real network (etcd, a nats-server
 * per site, three gateways, the stock `mqtt` client): a site lost, its
 * clients steered away, the primary moved with fencing, the old primary
 * refusing writes, the new one catching up before it accepts any, the old
 * one catching up after; nothing acknowledged lost.
 */
import t from 'tap'
import mqtt from 'mqtt'
import { TopologyClient, type NetworkSite } from '../../topology/index.js'
import { ReplicationMode } from '../../replicator/index.js'
import { startEtcd, startNatsSupercluster } from '../helpers/services.js'
import { httpRequest } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'
import { followSteering, startCutProxy, startFailoverSite } from './failover-helpers.js'

const NS = 'public/default'

// Real etcd, three nats-servers and three gateways per test, leases expiring: generous on a loaded 2-core machine.
t.setTimeout(600_000)

async function payloads (s: NetworkSite, topic: string): Promise<string[]> {
  return (await s.gateway.ledger.read(topic, 0, { maxEntries: 10_000 })).map((e) => e.payload.toString())
}

function mqttUrl (s: NetworkSite): string { return `mqtt://127.0.0.1:${s.gateway.ports.mqtt as number}` }
function httpUrl (s: NetworkSite): string { return `http://127.0.0.1:${s.gateway.ports.http as number}` }

t.test('topology - a site lost: clients steered away, primary moved with fencing, the old primary refuses writes, the new one catches up first, then the old one catches up; nothing acknowledged is lost', async (t) => {
  const etcd = await startEtcd(t)
  const nats = await startNatsSupercluster(t, ['a', 'b', 'c'])
  const network = 'fo1'
  const c = new TopologyClient({ endpoints: etcd.url, network })
  t.teardown(() => { c.close() })
  await c.putNamespace({ name: NS, policy: {}, replication: { sites: ['a', 'b', 'c'], mode: ReplicationMode.all } })
  const proxy = await startCutProxy(t, etcd.url)
  const region = (id: string): { url: string, kill: () => Promise<void>, start: () => Promise<void> } => nats.regions[id] as never
  // The silent bound is long: a comes back well within it, so b must wait for a's handover.
  const extra = { catchUpLimits: { silentMs: 120_000 } }
  const a = await startFailoverSite(t, 'a', region('a').url, proxy.url, network, { preference: 10, extra })
  const b = await startFailoverSite(t, 'b', region('b').url, etcd.url, network, { preference: 20, extra })
  const cc = await startFailoverSite(t, 'c', region('c').url, etcd.url, network, { preference: 30, extra })
  await waitFor(() => [a, b, cc].every((s) => s.topology.current().alive.size === 3 && s.topology.leaseHeld()), { timeoutMs: 30_000, what: 'every site alive' })
  await c.setPrimary(NS, 'a')
  await waitFor(() => [a, b, cc].every((s) => s.topology.current().primaries.get(NS)?.site === 'a'), { timeoutMs: 30_000, what: 'a is primary everywhere' })
  const fencing0 = (await c.load()).topology.primaries.get(NS)?.revision ?? 0

  // A publisher at a (the primary) that follows steering; acknowledged messages m-0..m-9 replicate.
  const pub = followSteering(t, mqttUrl(a), { clientId: 'pub' })
  await waitFor(() => pub.current().connected, { timeoutMs: 30_000, what: 'publisher at a' })
  const acked: string[] = []
  for (let i = 0; i < 10; i++) { await pub.current().publishAsync('m', `m-${i}`, { qos: 1 }); acked.push(`m-${i}`) }
  await waitFor(async () => (await payloads(b, `${NS}/m`)).length === 10, { timeoutMs: 30_000, what: 'the first ten reach b' })

  // a's region server dies: a keeps accepting (it is primary), the tail m-10..m-19 stays unshipped at a.
  await region('a').kill()
  for (let i = 10; i < 20; i++) { await pub.current().publishAsync('m', `m-${i}`, { qos: 1 }); acked.push(`m-${i}`) }
  t.equal((await payloads(b, `${NS}/m`)).length, 10, 'b does not have a\'s tail')

  // Then a loses etcd: it refuses writes at once, loses its lease, and steers its clients to b.
  proxy.cut()
  await waitFor(() => pub.steered.length > 0, { timeoutMs: 60_000, what: 'the publisher is steered away from a' })
  t.equal(pub.steered[0]?.serverReference, mqttUrl(b), 'to b, the next healthy site')
  await t.rejects(a.gateway.dispatcher.publish({ topic: `${NS}/m`, payload: Buffer.from('no') }), { code: 'E_NOT_PRIMARY' }, 'the old primary refuses writes')

  // b takes the primary over by a fenced move, and catches up before it accepts writes.
  await waitFor(() => b.topology.current().primaries.get(NS)?.site === 'b', { timeoutMs: 60_000, what: 'b takes over' })
  const moved = (await c.load()).topology.primaries.get(NS)
  t.ok((moved?.revision ?? 0) > fencing0, 'the move bumped the fencing revision')
  t.equal(moved?.previous, 'a', 'the move names the previous primary')
  await t.rejects(b.gateway.dispatcher.publish({ topic: `${NS}/m`, payload: Buffer.from('early') }), { code: 'E_PRIMARY_CATCHING_UP' }, 'b refuses writes while catching up')
  const topo = (await httpRequest(httpUrl(b), 'GET', `/v1/topology?ns=${NS}`)).json
  t.equal(topo.namespace.primary, 'b')
  t.equal(topo.namespace.writableHere, false, 'GET /v1/topology says so')
  t.equal(b.health().catchingUp[0]?.previous, 'a', 'health names what b waits for')
  // The steered client's publish is refused (PUBACK 0x83) until b has caught up; it retries.
  const sending = waitFor(async () => { await pub.current().publishAsync('m', 'after-0', { qos: 1 }); return true }, { timeoutMs: 120_000, intervalMs: 200, what: 'the publish at b is accepted once b has caught up' })

  // a comes back (its region server, then etcd): it ships its tail, writes its handover; b then accepts.
  await region('a').start()
  proxy.restore()
  await sending
  acked.push('after-0')
  await waitFor(async () => (await payloads(b, `${NS}/m`)).includes('after-0'), { timeoutMs: 30_000, what: 'b stored it' })
  t.same(await payloads(b, `${NS}/m`), acked, 'at b: every acknowledged message, a\'s tail before b\'s first write, once each')
  t.equal((await c.load()).topology.handovers.get(NS)?.from, 'a', 'a wrote its handover')

  // The old primary catches up with the new one's writes, and still refuses writes of its own.
  await waitFor(async () => (await payloads(a, `${NS}/m`)).includes('after-0'), { timeoutMs: 60_000, what: 'a receives b\'s writes' })
  await t.rejects(a.gateway.dispatcher.publish({ topic: `${NS}/m`, payload: Buffer.from('no') }), { code: 'E_NOT_PRIMARY', details: { primary: 'b' } })
  // A stock MQTT 5 client publishing at a replica (c) gets PUBACK 0x83 with a reason string naming the primary (docs/REPLICATION.md).
  const atC = await mqtt.connectAsync(mqttUrl(cc), { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10_000 })
  t.teardown(async () => { await atC.endAsync(true) })
  const pubacks: Array<{ reasonCode?: number, properties?: { reasonString?: string } }> = []
  atC.on('packetreceive', (p) => { if (p.cmd === 'puback') pubacks.push(p as never) })
  await t.rejects(atC.publishAsync('m', 'at-c', { qos: 1 }))
  t.equal(pubacks[0]?.reasonCode, 0x83, 'PUBACK 0x83')
  t.match(pubacks[0]?.properties?.reasonString, /E_NOT_PRIMARY.*site b/, 'the reason string names the primary')
  await waitFor(async () => (await payloads(cc, `${NS}/m`)).length === acked.length, { timeoutMs: 60_000, what: 'c has everything too' })
  t.same([...(await payloads(cc, `${NS}/m`))].sort(), [...acked].sort(), 'at c: every acknowledged message once')
})

t.test('topology - a dead primary: the new one waits for a handover at most the silent bound, then accepts writes', async (t) => {
  const etcd = await startEtcd(t)
  const nats = await startNatsSupercluster(t, ['a', 'b'])
  const network = 'fo2'
  const c = new TopologyClient({ endpoints: etcd.url, network })
  t.teardown(() => { c.close() })
  await c.putNamespace({ name: 'acme/ap', policy: {}, replication: { sites: ['a', 'b'], mode: ReplicationMode.all } })
  const proxy = await startCutProxy(t, etcd.url)
  const extra = { catchUpLimits: { silentMs: 20_000 } }
  const a = await startFailoverSite(t, 'a', (nats.regions.a as { url: string }).url, proxy.url, network, { preference: 10, extra })
  const b = await startFailoverSite(t, 'b', (nats.regions.b as { url: string }).url, etcd.url, network, { preference: 20, extra })
  await waitFor(() => [a, b].every((s) => s.topology.current().alive.size === 2), { timeoutMs: 30_000, what: 'both alive' })
  await c.setPrimary('acme/ap', 'a')
  await waitFor(() => b.topology.current().primaries.get('acme/ap')?.site === 'a', { timeoutMs: 30_000, what: 'b sees a primary' })
  await a.gateway.dispatcher.publish({ topic: 'acme/ap/t', payload: Buffer.from('one') })
  await waitFor(async () => (await payloads(b, 'acme/ap/t')).includes('one'), { timeoutMs: 30_000, what: 'replicated' })
  // a is gone for the network: no etcd, no region server (as if it had crashed); it never writes a handover.
  await (nats.regions.a as { kill: () => Promise<void> }).kill()
  proxy.cut()
  await waitFor(() => b.topology.current().primaries.get('acme/ap')?.site === 'b', { timeoutMs: 60_000, what: 'b takes over' })
  await t.rejects(b.gateway.dispatcher.publish({ topic: 'acme/ap/t', payload: Buffer.from('early') }), { code: 'E_PRIMARY_CATCHING_UP' })
  await waitFor(async () => { await b.gateway.dispatcher.publish({ topic: 'acme/ap/t', payload: Buffer.from('two') }); return true }, { timeoutMs: 90_000, intervalMs: 200, what: 'b accepts after the bound' })
  t.same(await payloads(b, 'acme/ap/t'), ['one', 'two'])
  proxy.restore() // so that a closes promptly in teardown
})

t.test('topology - a clean stop of the primary hands its namespace to the next site, which accepts writes once it has the tail, without waiting the silent bound', async (t) => {
  const etcd = await startEtcd(t)
  const nats = await startNatsSupercluster(t, ['a', 'b'])
  const network = 'fo3'
  const c = new TopologyClient({ endpoints: etcd.url, network })
  t.teardown(() => { c.close() })
  await c.putNamespace({ name: 'acme/ap', policy: {}, replication: { sites: ['a', 'b'], mode: ReplicationMode.all } })
  // The silent bound is longer than the test's waits: only the handover can let b accept.
  const extra = { catchUpLimits: { silentMs: 600_000 } }
  const a = await startFailoverSite(t, 'a', (nats.regions.a as { url: string }).url, etcd.url, network, { preference: 10, extra })
  const b = await startFailoverSite(t, 'b', (nats.regions.b as { url: string }).url, etcd.url, network, { preference: 20, extra })
  await waitFor(() => [a, b].every((s) => s.topology.current().alive.size === 2), { timeoutMs: 30_000, what: 'both alive' })
  await c.setPrimary('acme/ap', 'a')
  await waitFor(() => a.topology.current().primaries.get('acme/ap')?.site === 'a', { timeoutMs: 30_000, what: 'a sees itself primary' })
  const sent: string[] = []
  for (let i = 0; i < 50; i++) { await a.gateway.dispatcher.publish({ topic: 'acme/ap/t', payload: Buffer.from(`a-${i}`) }); sent.push(`a-${i}`) }
  await a.close()
  const p = (await c.load()).topology.primaries.get('acme/ap')
  t.equal(p?.site, 'b', 'the primary moved to b on stop')
  t.equal(p?.previous, 'a')
  t.equal((await c.load()).topology.handovers.get('acme/ap')?.from, 'a', 'with a\'s handover')
  await waitFor(async () => { await b.gateway.dispatcher.publish({ topic: 'acme/ap/t', payload: Buffer.from('b-0') }); return true }, { timeoutMs: 60_000, intervalMs: 200, what: 'b accepts writes once caught up' })
  t.same(await payloads(b, 'acme/ap/t'), [...sent, 'b-0'], 'everything a acknowledged, before b\'s first write')
})
