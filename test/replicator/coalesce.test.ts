/**
 * Batch coalescing on a link (replicator/link.ts, REPL_BATCH_COALESCE_*):
 * while a batch of a lane is in flight, what the lane reads next waits for
 * more entries instead of going out as many tiny batches. Real nats-servers
 * joined by a gateway; the batches are observed where they arrive, at site
 * b's subscriber, whose answer to the first batch is held back (the batch is
 * applied, its answer waits) so that the first batch stays in flight.
 */
import t from 'tap'
import { silentLogger } from '../../common/log.js'
import { decodeBatch } from '../../replicator/codec.js'
import { connectNats, startReplicator, staticPlan, type LinkLimits, type LinkStats, type LinkTransport, type Replicator } from '../../replicator/index.js'
import { startNatsSupercluster } from '../helpers/services.js'
import { TEST_LINK_LIMITS } from '../helpers/network.js'
import { startTestGateway, type Teardownable, type TestGateway } from '../helpers/gateway.js'
import { waitFor } from '../helpers/wait.js'

const TOPIC = 'public/default/coalesce'
const PLAN = staticPlan({ 'public/default': ['a', 'b'] })
/** The first batch's answer is held for as long as a test needs: no request may time out meanwhile. */
const HELD_ANSWER_TIMEOUT_MS = 120_000

/** Site b's side of the link: every batch with entries that reaches its subscriber, and the hold on the first one's answer. */
interface Observer {
  /** Entries of each batch that carried entries, in arrival order. */
  batches: number[]
  release: () => void
}

function observed (inner: LinkTransport, o: Observer, gate: Promise<void>): LinkTransport {
  return {
    request: async (site, data, timeoutMs) => await inner.request(site, data, timeoutMs),
    serve (site, handler) {
      return inner.serve(site, async (data) => {
        const n = decodeBatch(data).items.length
        if (n === 0) return await handler(data)
        o.batches.push(n)
        const first = o.batches.length === 1
        const answer = await handler(data)
        if (first) await gate
        return answer
      })
    },
    connected: () => inner.connected(),
    close: async () => { await inner.close() }
  }
}

interface Pair { a: TestGateway, b: TestGateway, ra: Replicator, o: Observer }

async function pair (t: Teardownable, limits: Partial<LinkLimits>): Promise<Pair> {
  const nats = await startNatsSupercluster(t, ['a', 'b'])
  let release = (): void => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  const o: Observer = { batches: [], release }
  const b = await startTestGateway(t, { siteId: 'b' })
  const a = await startTestGateway(t, { siteId: 'a' })
  const tb = observed(await connectNats({ servers: (nats.regions.b as { url: string }).url, network: 'co', name: 'co-b' }), o, gate)
  const ta = await connectNats({ servers: (nats.regions.a as { url: string }).url, network: 'co', name: 'co-a' })
  const rb = await startReplicator({ siteId: 'b', ledger: b.gateway.ledger, transport: tb, plan: PLAN, logger: silentLogger, limits: TEST_LINK_LIMITS })
  const ra = await startReplicator({ siteId: 'a', ledger: a.gateway.ledger, transport: ta, plan: PLAN, logger: silentLogger, limits: { ...TEST_LINK_LIMITS, REPL_REQUEST_TIMEOUT_MS: HELD_ANSWER_TIMEOUT_MS, ...limits } })
  t.teardown(async () => { o.release(); await ra.close(); await rb.close(); await ta.close(); await tb.close() })
  await waitFor(() => ra.stats().links[0]?.connected, { timeoutMs: 30_000, what: 'a\'s link to b is connected' })
  return { a, b, ra, o }
}

const linkOf = (r: Replicator): LinkStats => r.stats().links[0] as LinkStats

async function publish (gw: TestGateway, payload: string): Promise<void> {
  await gw.gateway.ledger.append({ topic: TOPIC, payload: Buffer.from(payload) })
}

async function payloads (gw: TestGateway): Promise<string[]> {
  return (await gw.gateway.ledger.read(TOPIC, 0, { maxEntries: 1000 })).map((e) => e.payload.toString())
}

/** The first batch (one entry) reaches b and its answer is held: a batch of the lane is in flight. */
async function firstInFlight (p: Pair): Promise<void> {
  await publish(p.a, 'm0')
  await waitFor(() => p.o.batches.length === 1, { timeoutMs: 30_000, what: 'the first batch reaches b' })
}

/** Entries published one at a time, each read by the link (held, in flight or acknowledged: a later answer covers the held one) before the next is published. */
async function publishOneByOne (p: Pair, from: number, n: number): Promise<void> {
  for (let i = from; i < from + n; i++) {
    await publish(p.a, `m${i}`)
    // The link's stats at the deadline go into the failure (the last error).
    await waitFor(() => { const s = linkOf(p.ra); if (s.entriesShipped + s.lagEntries === i + 1) return true; throw new Error(JSON.stringify(s)) }, { timeoutMs: 10_000, what: `the link read m${i}` })
  }
}

t.test('coalesce - entries read while a batch is in flight go in one batch once it is answered', async (t) => {
  // A held batch waits for the answer alone here: its deadline and size bounds are out of reach.
  const p = await pair(t, { REPL_BATCH_COALESCE_MS: HELD_ANSWER_TIMEOUT_MS / 2, REPL_BATCH_COALESCE_ENTRIES_MIN: 100, REPL_BATCH_COALESCE_BYTES_MIN: 1024 * 1024 })
  await firstInFlight(p)
  const N = 6
  await publishOneByOne(p, 1, N)
  t.same(p.o.batches, [1], 'nothing more was sent while the first batch was unanswered')
  t.ok(linkOf(p.ra).coalesceHolds >= N, `each read added to the held batch (${linkOf(p.ra).coalesceHolds})`)
  p.o.release()
  await waitFor(async () => (await payloads(p.b)).length === N + 1, { timeoutMs: 30_000, what: 'b holds every entry' })
  t.same(p.o.batches, [1, N], `the ${N} entries went in one batch`)
  t.same(await payloads(p.b), Array.from({ length: N + 1 }, (_, i) => `m${i}`), 'once each, in order')
  await waitFor(() => linkOf(p.ra).lagEntries === 0, { timeoutMs: 30_000, what: 'a\'s link drains' })
  t.equal(linkOf(p.ra).entryBatchesSent, 2, 'two batches carried entries')
})

t.test('coalesce - a held batch reaching REPL_BATCH_COALESCE_ENTRIES_MIN goes without waiting for the answer', async (t) => {
  const p = await pair(t, { REPL_BATCH_COALESCE_MS: HELD_ANSWER_TIMEOUT_MS / 2, REPL_BATCH_COALESCE_ENTRIES_MIN: 3, REPL_BATCH_COALESCE_BYTES_MIN: 1024 * 1024 })
  await firstInFlight(p)
  await publishOneByOne(p, 1, 3)
  await waitFor(() => p.o.batches.length === 2, { timeoutMs: 30_000, what: 'the held batch goes at 3 entries' })
  t.same(p.o.batches, [1, 3], 'three entries in the second batch, the first still unanswered')
  p.o.release()
  await waitFor(async () => (await payloads(p.b)).length === 4, { timeoutMs: 30_000, what: 'b holds every entry' })
  t.same(await payloads(p.b), ['m0', 'm1', 'm2', 'm3'], 'once each, in order')
})

t.test('coalesce - a held batch goes after REPL_BATCH_COALESCE_MS though the batch in flight is unanswered', async (t) => {
  const p = await pair(t, { REPL_BATCH_COALESCE_MS: 200, REPL_BATCH_COALESCE_ENTRIES_MIN: 100, REPL_BATCH_COALESCE_BYTES_MIN: 1024 * 1024 })
  await firstInFlight(p)
  await publish(p.a, 'm1')
  await waitFor(() => p.o.batches.length === 2, { timeoutMs: 30_000, what: 'the held batch goes by its deadline' })
  t.same(p.o.batches, [1, 1], 'the second batch went while the first was unanswered')
  p.o.release()
  await waitFor(async () => (await payloads(p.b)).length === 2, { timeoutMs: 30_000, what: 'b holds every entry' })
  t.same(await payloads(p.b), ['m0', 'm1'], 'once each, in order')
})

t.test('coalesce - off (REPL_BATCH_COALESCE_MS 0): each read goes as its own batch', async (t) => {
  const p = await pair(t, { REPL_BATCH_COALESCE_MS: 0 })
  await firstInFlight(p)
  await publishOneByOne(p, 1, 3)
  await waitFor(() => p.o.batches.length === 4, { timeoutMs: 30_000, what: 'one batch per read' })
  t.same(p.o.batches, [1, 1, 1, 1], 'one entry per batch')
  t.equal(linkOf(p.ra).coalesceHolds, 0, 'nothing held')
  p.o.release()
  await waitFor(async () => (await payloads(p.b)).length === 4, { timeoutMs: 30_000, what: 'b holds every entry' })
})
