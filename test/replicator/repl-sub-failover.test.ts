/**
 * Replicated subscriptions on a real network (etcd, one nats-server per
 * region, two sites in this process): an HTTP pull consumer acknowledges part
 * of a backlog at site a (individual acks, out of order), a is closed, and the
 * same consumer continues at site b: it gets every message it had not
 * acknowledged, nothing it had acknowledged long before, and duplicates only
 * among the acks of its last moments at a.
 */
import t from 'tap'
import { TopologyClient, type NetworkSite } from '../../topology/index.js'
import { ReplicationMode } from '../../replicator/index.js'
import { startEtcd, startNatsSupercluster } from '../helpers/services.js'
import { startTestNetworkSite } from '../helpers/network.js'
import { httpRequest, topicPath } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'
import mqtt, { type MqttClient } from 'mqtt'
import { MetaSpace } from '../../store/index.js'
import { cursorRecordKey, parseCursorRecord } from '../../replicator/cursor-sync.js'

const TOPIC = 'public/default/jobs'
const SUB = 'workers'

interface Pulled { messageId: string, payload: string }

function urlOf (s: NetworkSite): string { return `http://127.0.0.1:${s.gateway.ports.http as number}` }

async function pull (s: NetworkSite, max: number, waitMs: number): Promise<Pulled[]> {
  const r = await httpRequest(urlOf(s), 'GET', `${topicPath(TOPIC)}/subscriptions/${SUB}/messages?max=${max}&waitMs=${waitMs}&mode=shared&replicated=true&position=earliest&consumer=w1&leaseMs=600000`)
  if (r.status !== 200) throw new Error(`pull: ${r.status} ${r.text}`)
  return (r.json.messages as Pulled[]).map((m) => ({ messageId: m.messageId, payload: m.payload }))
}

async function ack (s: NetworkSite, ids: string[]): Promise<void> {
  const r = await httpRequest(urlOf(s), 'POST', `${topicPath(TOPIC)}/subscriptions/${SUB}/ack`, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messageIds: ids }) })
  if (r.status !== 200) throw new Error(`ack: ${r.status} ${r.text}`)
}

function backlogAt (s: NetworkSite): number | undefined {
  return s.gateway.dispatcher.stats().subscriptions.find((x) => x.subscription === SUB && x.filter === 'jobs')?.backlog
}

t.test('replicated subscription - a consumer that fails over to another site resumes where it stopped: every unacked message, no old one again', async (t) => {
  const etcd = await startEtcd(t)
  const nats = await startNatsSupercluster(t, ['a', 'b'])
  const c = new TopologyClient({ endpoints: etcd.url, network: 'rs1' })
  t.teardown(() => { c.close() })
  await c.putNamespace({ name: 'public/default', policy: {}, replication: { sites: ['a', 'b'], mode: ReplicationMode.all } })
  const a = await startTestNetworkSite(t, 'a', (nats.regions.a as { url: string }).url, etcd.url, 'rs1')
  const b = await startTestNetworkSite(t, 'b', (nats.regions.b as { url: string }).url, etcd.url, 'rs1')

  // A backlog from both sites, interleaved (entry ids differ between the sites: acks must travel by origin).
  const N = 40
  for (let i = 0; i < N; i++) {
    await (i % 3 === 2 ? b : a).gateway.dispatcher.publish({ topic: TOPIC, payload: Buffer.from(`m${i}`) })
  }
  await waitFor(() => a.gateway.ledger.topicInfo(TOPIC)?.nextEntryId === N && b.gateway.ledger.topicInfo(TOPIC)?.nextEntryId === N,
    { timeoutMs: 60_000, what: 'both sites hold the whole backlog' })

  // The consumer at a, on a replicated subscription.
  const got = new Map<string, string>() // payload -> message id at a
  await waitFor(async () => {
    for (const m of await pull(a, 100, 500)) got.set(m.payload, m.messageId)
    return got.size === N
  }, { timeoutMs: 60_000, what: 'the consumer at a gets the backlog' })
  await waitFor(() => b.gateway.dispatcher.stats().subscriptions.some((x) => x.subscription === SUB && x.replicated === true),
    { timeoutMs: 30_000, what: 'the subscription exists at b too' })

  // Acknowledge all but a few, individually and out of order.
  const kept = new Set(['m3', 'm10', 'm11', 'm25', 'm37'])
  const early = [...got.keys()].filter((p) => !kept.has(p) && Number(p.slice(1)) < 30).reverse()
  for (let i = 0; i < early.length; i += 4) await ack(a, early.slice(i, i + 4).map((p) => got.get(p) as string))
  const expectBacklog = N - early.length
  await waitFor(() => backlogAt(b) === expectBacklog, { timeoutMs: 60_000, what: `b's copy of the subscription follows the acks (backlog ${String(backlogAt(b))}, want ${expectBacklog})` })

  // The last acks just before the site goes: these may come back (the lag), nothing else may.
  const late = [...got.keys()].filter((p) => !kept.has(p) && Number(p.slice(1)) >= 30)
  await ack(a, late.map((p) => got.get(p) as string))
  await a.close()

  const atB = new Map<string, number>()
  await waitFor(async () => {
    for (const m of await pull(b, 100, 500)) {
      atB.set(m.payload, (atB.get(m.payload) ?? 0) + 1)
      await ack(b, [m.messageId])
    }
    return [...kept].every((p) => atB.has(p))
  }, { timeoutMs: 60_000, what: 'the consumer at b gets what it had not acknowledged' })
  // Anything else still due would come with the next polls.
  for (let i = 0; i < 3; i++) for (const m of await pull(b, 100, 300)) atB.set(m.payload, (atB.get(m.payload) ?? 0) + 1)

  for (const p of kept) t.equal(atB.get(p), 1, `${p} (never acknowledged) is delivered at b once`)
  const lateSet = new Set(late)
  const again = [...atB.keys()].filter((p) => !kept.has(p))
  t.same(again.filter((p) => !lateSet.has(p)), [], 'nothing acknowledged long before comes back')
  t.ok(again.length <= late.length, `duplicates at most the last acks (${again.length} of ${late.length})`)
  t.ok((b.replicator.stats().cursorSync?.remoteAcksApplied ?? 0) > 0, 'b applied acks made at a')
})

async function mqttClient (t: { teardown: (f: () => Promise<void>) => void }, s: NetworkSite, clientId: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${s.gateway.ports.mqtt as number}`, {
    protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 3600 }, reconnectPeriod: 0, connectTimeout: 5000
  }, false)
  t.teardown(async () => { await c.endAsync(true).catch(() => {}) })
  return c
}

t.test('replicated subscription - an MQTT 5 subscriber (SUBSCRIBE user property ferry-replicated) moves to another site and gets only what it has not received', async (t) => {
  const etcd = await startEtcd(t)
  const nats = await startNatsSupercluster(t, ['a', 'b'])
  const c = new TopologyClient({ endpoints: etcd.url, network: 'rs2' })
  t.teardown(() => { c.close() })
  await c.putNamespace({ name: 'public/default', policy: {}, replication: { sites: ['a', 'b'], mode: ReplicationMode.all } })
  const a = await startTestNetworkSite(t, 'a', (nats.regions.a as { url: string }).url, etcd.url, 'rs2')
  const b = await startTestNetworkSite(t, 'b', (nats.regions.b as { url: string }).url, etcd.url, 'rs2')

  const atA = await mqttClient(t, a, 'mover')
  const gotA: string[] = []
  atA.on('message', (_topic, payload) => { gotA.push(payload.toString()) })
  await atA.subscribeAsync('orders', { qos: 1, properties: { userProperties: { 'ferry-replicated': '1' } } })
  const name = 'mqtt:mover:orders'
  t.ok(a.gateway.dispatcher.stats().subscriptions.some((x) => x.subscription === name && x.replicated === true), 'the user property made it replicated')
  for (let i = 0; i < 20; i++) await (i % 2 === 0 ? a : b).gateway.dispatcher.publish({ topic: 'public/default/orders', payload: Buffer.from(`o${i}`) })
  await waitFor(() => gotA.length === 20, { timeoutMs: 60_000, what: `the subscriber at a receives everything (has ${gotA.length})` })
  await waitFor(() => b.gateway.dispatcher.stats().subscriptions.some((x) => x.subscription === name && x.replicated === true),
    { timeoutMs: 30_000, what: 'the MQTT subscription exists at b' })
  // Every message was PUBACKed at a; b's copy of the subscription follows.
  await waitFor(() => {
    const x = b.gateway.dispatcher.stats().subscriptions.find((x) => x.subscription === name)
    return b.gateway.ledger.topicInfo('public/default/orders')?.nextEntryId === 20 && x?.topics === 1 && x.backlog === 0
  },
    { timeoutMs: 60_000, what: 'b knows a\'s acknowledgements' })
  await atA.endAsync(true)
  await a.close()

  for (let i = 20; i < 25; i++) await b.gateway.dispatcher.publish({ topic: 'public/default/orders', payload: Buffer.from(`o${i}`) })
  const atB = await mqttClient(t, b, 'mover')
  const gotB: string[] = []
  atB.on('message', (_topic, payload) => { gotB.push(payload.toString()) })
  await atB.subscribeAsync('orders', { qos: 1, properties: { userProperties: { 'ferry-replicated': '1' } } })
  await waitFor(() => gotB.length >= 5, { timeoutMs: 60_000, what: 'the subscriber at b receives the new messages' })
  await new Promise((resolve) => setTimeout(resolve, 500)) // room for anything old to (wrongly) show up before comparing
  t.same(gotB, ['o20', 'o21', 'o22', 'o23', 'o24'], 'only what it had not received, in order')
})

t.test('replicated subscription - acks of a third site\'s entries that reach the new site before the entries wait for them there', async (t) => {
  const ids = ['a', 'b', 'c']
  const etcd = await startEtcd(t)
  const nats = await startNatsSupercluster(t, ids)
  const region = (id: string): { url: string, kill: () => Promise<void>, start: () => Promise<void> } => nats.regions[id] as { url: string, kill: () => Promise<void>, start: () => Promise<void> }
  const c = new TopologyClient({ endpoints: etcd.url, network: 'rs3' })
  t.teardown(() => { c.close() })
  await c.putNamespace({ name: 'public/default', policy: {}, replication: { sites: ids, mode: ReplicationMode.all } })
  const sites: Record<string, NetworkSite> = {}
  for (const id of ids) sites[id] = await startTestNetworkSite(t, id, region(id).url, etcd.url, 'rs3')
  const [a, b, cc] = [sites.a as NetworkSite, sites.b as NetworkSite, sites.c as NetworkSite]
  const entries = (s: NetworkSite): number => s.gateway.ledger.topicInfo(TOPIC)?.nextEntryId ?? 0

  await a.gateway.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('a0') })
  await waitFor(() => entries(b) === 1 && entries(cc) === 1, { timeoutMs: 60_000, what: 'a0 everywhere' })
  const got = new Map<string, string>()
  for (const m of await pull(a, 10, 2000)) got.set(m.payload, m.messageId)
  await waitFor(() => b.gateway.dispatcher.stats().subscriptions.some((x) => x.subscription === SUB), { timeoutMs: 30_000, what: 'the subscription at b' })

  // b is cut off; c's messages reach a, and the consumer at a acknowledges most of them.
  await region('b').kill()
  for (let i = 0; i < 20; i++) await cc.gateway.dispatcher.publish({ topic: TOPIC, payload: Buffer.from(`c${i}`) })
  await waitFor(() => entries(a) === 21, { timeoutMs: 60_000, what: 'c\'s messages reach a' })
  await waitFor(async () => { for (const m of await pull(a, 100, 500)) got.set(m.payload, m.messageId); return got.size === 21 }, { timeoutMs: 60_000, what: 'the consumer at a has them' })
  const kept = ['c5', 'c12']
  await ack(a, [...got.entries()].filter(([p]) => !kept.includes(p)).map(([, id]) => id).reverse())
  // Now c goes too: its messages cannot reach b, but a's acknowledgements of them can.
  await region('c').kill()
  const recordAtB = (): boolean => parseCursorRecord(b.gateway.ledger.getMeta(MetaSpace.replCursor, cursorRecordKey(TOPIC, 'a', SUB)))?.o.c?.join(',') === '1,5,7,12,14,20'
  await waitFor(() => parseCursorRecord(a.gateway.ledger.getMeta(MetaSpace.replCursor, cursorRecordKey(TOPIC, 'a', SUB)))?.o.c?.join(',') === '1,5,7,12,14,20', { timeoutMs: 30_000, what: 'a recorded its acks of c\'s messages, in c\'s ids (c1..c20 are 1..20 there; all but c5 and c12)' })
  await region('b').start()
  await waitFor(recordAtB, { timeoutMs: 60_000, what: 'a\'s record reaches b' })
  t.equal(entries(b), 1, 'c\'s messages are not at b yet: the acks came first')
  await waitFor(() => backlogAt(b) === 0, { timeoutMs: 30_000, what: 'a0 acknowledged at b; nothing else is here' })
  t.equal(entries(b), 1, 'still only a0 at b')

  await region('c').start()
  await waitFor(() => entries(b) === 21, { timeoutMs: 60_000, what: 'c\'s messages reach b' })
  await waitFor(() => backlogAt(b) === kept.length, { timeoutMs: 60_000, what: `the waiting acks apply as the messages arrive (backlog ${String(backlogAt(b))})` })
  await a.close()
  const atB: string[] = []
  await waitFor(async () => { for (const m of await pull(b, 100, 500)) atB.push(m.payload); return atB.length >= kept.length }, { timeoutMs: 60_000, what: 'the consumer at b' })
  t.same(atB.sort(), [...kept].sort(), 'exactly the unacknowledged ones')
})
