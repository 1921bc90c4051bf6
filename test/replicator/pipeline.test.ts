/**
 * Pipelined batches on a link (replicator/link.ts, receiver.ts): several
 * batches in flight, the receiver applying them strictly in order. The case
 * Pulsar lost data in (apache/pulsar#26113): an earlier in-flight batch lost
 * or failed while later ones arrive. The later ones must be refused (they do
 * not start right after the held position) and resent after the rewind:
 * nothing lost, nothing twice, in order. Real nats-servers joined by a gateway.
 */
import t from 'tap'
import { createMemoryLedger, type Ledger } from '../../store/index.js'
import { silentLogger } from '../../common/log.js'
import { FerryError } from '../../common/errors.js'
import { Receiver } from '../../replicator/receiver.js'
import { decodeAnswer, decodeBatch, encodeAnswer, encodeBatch, type Batch, type WireItem } from '../../replicator/codec.js'
import { ReplCode, connectNats, startReplicator, staticPlan, type LinkLimits, type LinkTransport, type Replicator } from '../../replicator/index.js'
import { startNatsSupercluster } from '../helpers/services.js'
import { TEST_LINK_LIMITS } from '../helpers/network.js'
import { startTestGateway, type Teardownable, type TestGateway } from '../helpers/gateway.js'
import { waitFor } from '../helpers/wait.js'

const TOPIC = 'public/default/pipe'
/** Small batches so that many are in flight at once. */
const PIPE_LIMITS: Partial<LinkLimits> = { ...TEST_LINK_LIMITS, REPL_BATCH_ENTRIES_MAX: 10, REPL_INFLIGHT_BATCHES_MAX: 8 }

function msg (lsn: number, payload: string): WireItem {
  return { kind: 'message', lsn, topic: 'public/default/x', entryId: lsn, publishTime: 1000 + lsn, payload: Buffer.from(payload), props: {} }
}

t.test('pipeline - the receiver applies concurrent batches of a link in order and refuses one that skips ahead', async (t) => {
  const l = createMemoryLedger({ siteId: 'b', policyOf: () => ({ durability: 'memory', retentionMs: -1, retentionBytes: -1, ttlMs: 0 }), retentionIntervalMs: 0, checkpointIntervalMs: 0 })
  await l.open()
  t.teardown(async () => { await l.close() })
  const r = new Receiver(l, 'b', silentLogger)
  const batch = (after: number, through: number): Batch => ({ from: 'a', to: 'b', lane: 2, after, through, items: Array.from({ length: through - after }, (_, i) => msg(after + 1 + i, `m${after + 1 + i}`)) })
  // Three batches in flight at once (not awaited one by one), then one that does not follow.
  const answers = await Promise.all([batch(-1, 2), batch(2, 5), batch(5, 7), batch(9, 10)].map(async (b) => decodeAnswer(await r.handle(encodeBatch(b)))))
  t.same(answers.slice(0, 3), [{ ok: true, position: 2 }, { ok: true, position: 5 }, { ok: true, position: 7 }], 'each answered with the position it covers')
  t.match(answers[3], { ok: false, code: ReplCode.POSITION, position: 7 }, 'a batch after a gap is refused with the held position')
  const got = (await l.read('public/default/x', 0, { maxEntries: 100 })).map((e) => e.payload.toString())
  t.same(got, ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7'], 'once each, in order')
})

interface Faults {
  /** Item batches (1-based, in send order) the sender's side loses: never sent, the request fails after a while. */
  lose: Set<number>
  /** Item batches (1-based, in arrival order) the receiving side refuses with a disk-full answer, without applying. */
  refuse: Set<number>
  sent: number
  served: number
  outstanding: number
  maxOutstanding: number
}

const hasItems = (data: Uint8Array): boolean => { try { return decodeBatch(data).items.length > 0 } catch { return false } }

/** A real NATS transport with faults injected on either side. */
function faulty (inner: LinkTransport, f: Faults): LinkTransport {
  return {
    async request (site, data, timeoutMs) {
      f.outstanding++
      f.maxOutstanding = Math.max(f.maxOutstanding, f.outstanding)
      try {
        if (hasItems(data) && f.lose.has(++f.sent)) {
          await new Promise((resolve) => setTimeout(resolve, 300))
          throw new FerryError(ReplCode.UNAVAILABLE, 'injected: request lost')
        }
        return await inner.request(site, data, timeoutMs)
      } finally {
        f.outstanding--
      }
    },
    serve (site, handler) {
      return inner.serve(site, async (data) => {
        if (hasItems(data) && f.refuse.has(++f.served)) {
          // Answered late, so that the batches behind it reach the receiver first.
          await new Promise((resolve) => setTimeout(resolve, 300))
          return encodeAnswer({ ok: false, code: 'E_DISK_FULL', message: 'injected: disk full', position: -1 })
        }
        return await handler(data)
      })
    },
    connected: () => inner.connected(),
    close: async () => { await inner.close() }
  }
}

interface PipeSite { gw: TestGateway, start: () => Promise<Replicator> }

async function site (t: Teardownable, id: string, url: string, f: Faults): Promise<PipeSite> {
  const gw = await startTestGateway(t, { siteId: id })
  const transport = faulty(await connectNats({ servers: url, network: 'pipe', name: `pipe-${id}` }), f)
  let repl: Replicator | undefined
  t.teardown(async () => { await repl?.close(); await transport.close() })
  return {
    gw,
    start: async () => {
      repl = await startReplicator({ siteId: id, ledger: gw.gateway.ledger, transport, plan: staticPlan({ 'public/default': ['a', 'b'] }), logger: silentLogger, limits: PIPE_LIMITS })
      return repl
    }
  }
}

async function payloads (l: Ledger): Promise<string[]> {
  return (await l.read(TOPIC, 0, { maxEntries: 10_000 })).map((e) => e.payload.toString())
}

const none = (): Faults => ({ lose: new Set(), refuse: new Set(), sent: 0, served: 0, outstanding: 0, maxOutstanding: 0 })

for (const kind of ['lost', 'refused'] as const) {
  t.test(`pipeline - an earlier in-flight batch ${kind}, later ones arrive: they are refused and resent, nothing lost or doubled (apache/pulsar#26113)`, async (t) => {
    const nats = await startNatsSupercluster(t, ['a', 'b'])
    const fa = none()
    const fb = none()
    // The 3rd batch with entries fails; the 7th too, once the link has rewound and refilled its window.
    if (kind === 'lost') fa.lose = new Set([3, 7]); else fb.refuse = new Set([3, 7])
    const b = await site(t, 'b', (nats.regions.b as { url: string }).url, fb)
    const a = await site(t, 'a', (nats.regions.a as { url: string }).url, fa)
    const N = 400
    for (let i = 0; i < N; i += 50) {
      await Promise.all(Array.from({ length: 50 }, async (_, j) => await a.gw.gateway.dispatcher.publish({ topic: TOPIC, payload: Buffer.from(`a-${i + j}`) })))
    }
    const rb = await b.start()
    const ra = await a.start()
    await waitFor(async () => (await payloads(b.gw.gateway.ledger)).length >= N, { timeoutMs: 60_000, what: `b receives every message (${JSON.stringify(ra.stats().links[0])})` })
    await waitFor(() => ra.stats().links[0]?.lagEntries === 0, { timeoutMs: 30_000, what: 'a\'s link drains' })
    t.same(await payloads(b.gw.gateway.ledger), Array.from({ length: N }, (_, i) => `a-${i}`), 'b holds every message once, in order')
    t.ok(fa.maxOutstanding > 1, `several batches were in flight at once (at most ${fa.maxOutstanding})`)
    t.ok(fa.maxOutstanding <= (PIPE_LIMITS.REPL_INFLIGHT_BATCHES_MAX as number), 'never more than the window')
    t.ok(rb.stats().received.refusedPosition >= 1, `later batches were refused by position (${rb.stats().received.refusedPosition})`)
    t.ok((ra.stats().links[0]?.rewinds ?? 0) >= 1, 'the sender rewound')
  })
}
