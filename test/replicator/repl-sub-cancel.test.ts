/**
 * Cancellations of scheduled messages made at a site other than the entry's
 * origin reach every site of the namespace, the origin included, on a real
 * network (etcd, one nats-server per region, three sites in this process).
 */
import t from 'tap'
import { TopologyClient, type NetworkSite } from '../../topology/index.js'
import { ReplicationMode } from '../../replicator/index.js'
import type { LedgerEntry } from '../../store/index.js'
import { startEtcd, startNatsSupercluster } from '../helpers/services.js'
import { startTestNetworkSite } from '../helpers/network.js'
import { httpRequest, topicPath } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

const TOPIC = 'public/default/timers'

async function copyOf (s: NetworkSite, payload: string): Promise<LedgerEntry | undefined> {
  return (await s.gateway.ledger.read(TOPIC, 0, { maxEntries: 1000 })).find((e) => e.payload.toString() === payload)
}

t.test('replicated cancel - a scheduled message cancelled at a site that is not its origin is cancelled at every site, the origin included', async (t) => {
  const etcd = await startEtcd(t)
  const ids = ['a', 'b', 'c']
  const nats = await startNatsSupercluster(t, ids)
  const c = new TopologyClient({ endpoints: etcd.url, network: 'rc1' })
  t.teardown(() => { c.close() })
  await c.putNamespace({ name: 'public/default', policy: {}, replication: { sites: ids, mode: ReplicationMode.all } })
  const sites: Record<string, NetworkSite> = {}
  for (const id of ids) sites[id] = await startTestNetworkSite(t, id, (nats.regions[id] as { url: string }).url, etcd.url, 'rc1')
  const [a, b, cc] = [sites.a as NetworkSite, sites.b as NetworkSite, sites.c as NetworkSite]

  const deliverAt = Date.now() + 3_600_000
  // While a's region is cut off, a schedules two messages and b publishes one: afterwards the copies at b
  // have other entry ids than at a (b's own entry came first there), so a cancel must travel by origin.
  await (nats.regions.a as { kill: () => Promise<void> }).kill()
  const doomed = await a.gateway.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('doomed'), props: { deliverAt } })
  const kept = await a.gateway.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('kept'), props: { deliverAt } })
  await b.gateway.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('b-first') })
  await (nats.regions.a as { start: () => Promise<void> }).start()
  for (const s of [b, cc]) await waitFor(async () => (await copyOf(s, 'kept')) !== undefined, { timeoutMs: 60_000, what: 'the scheduled messages reach every site' })
  const atB = await copyOf(b, 'doomed') as LedgerEntry
  t.not(atB.entryId, doomed.entryId, 'the copy at b has another id than at a')

  // Cancel at b, by b's own id, as a user would.
  const r = await httpRequest(`http://127.0.0.1:${b.gateway.ports.http as number}`, 'DELETE', `${topicPath(TOPIC)}/messages/${atB.entryId}`)
  t.equal(r.status, 200, r.text)

  await waitFor(() => a.gateway.ledger.isCancelled(TOPIC, doomed.entryId), { timeoutMs: 60_000, what: 'the cancel reaches the origin' })
  const atC = await copyOf(cc, 'doomed') as LedgerEntry
  await waitFor(() => cc.gateway.ledger.isCancelled(TOPIC, atC.entryId), { timeoutMs: 60_000, what: 'the cancel reaches the third site' })
  t.notOk(a.gateway.ledger.isCancelled(TOPIC, kept.entryId), 'only that message, at the origin')
  const keptAtC = await copyOf(cc, 'kept') as LedgerEntry
  t.notOk(cc.gateway.ledger.isCancelled(TOPIC, keptAtC.entryId), 'only that message, at c')
  t.same(a.gateway.ledger.delayedBetween(TOPIC, 0, Number.POSITIVE_INFINITY, 10).map((x) => x.entryId), [kept.entryId], 'the origin\'s delayed index offers only the kept one')

  // Cancelling at the origin again is a no-op: the cancel is there already (the flood stops at a site that has it).
  const again = await httpRequest(`http://127.0.0.1:${a.gateway.ports.http as number}`, 'DELETE', `${topicPath(TOPIC)}/messages/${doomed.entryId}`)
  t.equal(again.status, 404, 'already cancelled at the origin')
})
