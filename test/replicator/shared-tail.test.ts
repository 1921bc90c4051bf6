import t from 'tap'
import { HIGH_LANE_PRIORITY_MIN, createFileLedger, type Ledger, type LogItem } from '../../store/index.js'
import { SharedTail, TailKinds, type SharedTailBounds, type TailWant } from '../../replicator/shared-tail.js'
import type { TapTest } from '../helpers/tap-test.js'
import { tmpDir } from '../helpers/tmp.js'

const policyOf = (): { durability: 'sync', retentionMs: number, retentionBytes: number, ttlMs: number } => ({ durability: 'sync', retentionMs: 0, retentionBytes: -1, ttlMs: 0 })
const filter = { topics: (topic: string): boolean => topic.startsWith('t/a/'), meta: (space: string): boolean => space === 'retained' }

async function openLedger (dir: string, tailCacheBytes?: number): Promise<Ledger> {
  const l = createFileLedger({ dir, siteId: 's', policyOf, segmentSizeBytes: 64 * 1024, checkpointIntervalMs: 0, retentionIntervalMs: 0, ...(tailCacheBytes !== undefined ? { tailCacheBytes } : {}) })
  await l.open()
  return l
}

/** Messages of two namespaces, priorities 0..9, retained values now and then, some from another site. */
async function fill (l: Ledger, n: number): Promise<void> {
  const batch: Array<Promise<unknown>> = []
  for (let i = 0; i < n; i++) {
    const topic = i % 5 === 0 ? 't/b/x' : `t/a/${i % 3}`
    const props = i % 7 === 0 ? { priority: i % 10, originSite: 'o', originEntryId: i, replicatedVia: ['o', 'hub'] } : { priority: i % 10 }
    batch.push(l.append({ topic, payload: Buffer.from(`m${i}`), props }))
    if (i % 50 === 0) batch.push(l.putMeta('retained', 't/a/0', { payload: Buffer.from(`r${i}`) }))
    if (batch.length >= 64) await Promise.all(batch.splice(0))
  }
  await Promise.all(batch)
}

const label = (it: LogItem): string => it.kind === 'message' ? `${it.lsn}:${it.payload.toString()}` : it.kind === 'meta' ? `${it.lsn}:meta:${it.key}` : `${it.lsn}:cancel`

/** What one lane reads of the log by itself (the reference: one lane, no sharing), read to the end. */
async function alone (l: Ledger, kinds: TailKinds, want: Omit<TailWant, 'kinds'>, skipVia?: string): Promise<string[]> {
  const out: string[] = []
  let pos = -1
  for (let i = 0; i < 100_000; i++) {
    const r = await l.readLog(pos, { maxItems: want.maxItems, maxBytes: want.maxBytes, maxScanBytes: want.maxScanBytes, ...(kinds === TailKinds.meta ? { meta: filter.meta } : { topics: filter.topics }), ...(skipVia !== undefined ? { skipVia } : {}) })
    out.push(...r.items.map(label))
    if (r.throughLsn === pos) break
    pos = r.throughLsn
  }
  return out
}

interface LaneSim { kinds: TailKinds, want: TailWant, pos: number, got: string[], done: boolean }

/** Lanes of different bounds taking turns in a fixed irregular order (like a link's weighted schedule), each to the end of the log. */
async function lanesThroughShared (tail: SharedTail, lanes: LaneSim[], schedule: readonly number[], check?: () => void): Promise<void> {
  for (let turn = 0; turn < 100_000 && lanes.some((x) => !x.done); turn++) {
    const lane = lanes[schedule[turn % schedule.length] as number] as LaneSim
    if (lane.done) continue
    let floor = lane.pos
    for (const o of lanes) floor = Math.min(floor, o.pos)
    const r = await tail.read(lane.pos, lane.want, floor)
    const prev = lane.got[lane.got.length - 1]
    lane.got.push(...r.items.map(label))
    if (r.items.length > 0) t.ok(prev === undefined || Number(prev.split(':')[0]) < (r.items[0] as LogItem).lsn, 'a lane never gets a record twice')
    if (r.throughLsn === lane.pos) lane.done = true
    lane.pos = r.throughLsn
    check?.()
  }
}

const control = { maxItems: 1000, maxBytes: 512 * 1024, maxScanBytes: 8 * 1024 * 1024 }
const high = { maxItems: 400, maxBytes: 512 * 1024, maxScanBytes: 8 * 1024 * 1024 }
const normal = { maxItems: 40, maxBytes: 512 * 1024, maxScanBytes: 8 * 1024 * 1024 }

t.test('shared tail - each lane gets exactly what its own read of the log would give, in lsn order, with far fewer reads of the log', async (t) => {
  const tmp = await tmpDir('ferry-shared-tail-')
  t.teardown(tmp.cleanup)
  const l = await openLedger(tmp.dir)
  t.teardown(async () => { await l.close() })
  await fill(l, 3000)
  const tail = new SharedTail(l, 'dest', filter)
  const lanes: LaneSim[] = [
    { kinds: TailKinds.meta, want: { kinds: TailKinds.meta, ...control }, pos: -1, got: [], done: false },
    { kinds: TailKinds.entries, want: { kinds: TailKinds.entries, ...high }, pos: -1, got: [], done: false },
    { kinds: TailKinds.entries, want: { kinds: TailKinds.entries, ...normal }, pos: -1, got: [], done: false }
  ]
  await lanesThroughShared(tail, lanes, [0, 1, 1, 1, 1, 2])
  t.same(lanes[0]?.got, await alone(l, TailKinds.meta, control, 'dest'), 'control lane: every meta record, in order')
  t.same(lanes[1]?.got, await alone(l, TailKinds.entries, high, 'dest'), 'high lane: every entry of the namespace, in order')
  t.same(lanes[2]?.got, await alone(l, TailKinds.entries, normal, 'dest'), 'normal lane: every entry of the namespace, in order')
  t.ok((lanes[2]?.got.length ?? 0) > 2000, 'the namespace\'s entries are there')
  t.ok(tail.counts.logReads * 3 < tail.counts.laneReads, `lanes share reads (${tail.counts.logReads} reads of the log for ${tail.counts.laneReads} lane reads)`)
})

/** What a lane asks of the tail besides its kinds. */
type LaneWant = Omit<TailWant, 'kinds'>

/** A ledger of 2,000 entries behind a shared tail with small bounds, and a fast and a slow lane's wants. */
async function boundedTail (t: TapTest): Promise<{ l: Ledger, bounds: SharedTailBounds, tail: SharedTail, fast: LaneWant, slow: LaneWant }> {
  const tmp = await tmpDir('ferry-shared-tail-')
  t.teardown(tmp.cleanup)
  const l = await openLedger(tmp.dir)
  t.teardown(async () => { await l.close() })
  await fill(l, 2000)
  const bounds = { itemsMax: 100, bytesMax: 64 * 1024, piecesMax: 3 }
  const tail = new SharedTail(l, 'dest', filter, bounds)
  const fast: LaneWant = { maxItems: 90, maxBytes: 512 * 1024, maxScanBytes: 8 * 1024 * 1024 }
  const slow: LaneWant = { maxItems: 7, maxBytes: 512 * 1024, maxScanBytes: 8 * 1024 * 1024 }
  return { l, bounds, tail, fast, slow }
}

t.test('shared tail - bounded: lanes far apart read unshared, and still get every record once, in order', async (t) => {
  const { l, bounds, tail, fast, slow } = await boundedTail(t)
  const lanes: LaneSim[] = [
    { kinds: TailKinds.entries, want: { kinds: TailKinds.entries, ...fast }, pos: -1, got: [], done: false },
    { kinds: TailKinds.entries, want: { kinds: TailKinds.entries, ...slow }, pos: -1, got: [], done: false },
    { kinds: TailKinds.meta, want: { kinds: TailKinds.meta, ...control }, pos: -1, got: [], done: false }
  ]
  let over = 0
  // The fast lane takes nine turns for each of the slow one's: it runs far ahead of what the bounds hold.
  await lanesThroughShared(tail, lanes, [0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1], () => {
    const h = tail.held()
    if (h.pieces > 1 && (h.items > bounds.itemsMax || h.pieces > bounds.piecesMax)) over++
  })
  t.equal(over, 0, 'what the shared tail holds stays within its bounds')
  t.same(lanes[0]?.got, await alone(l, TailKinds.entries, fast, 'dest'), 'fast lane: every entry, in order')
  t.same(lanes[1]?.got, await alone(l, TailKinds.entries, slow, 'dest'), 'slow lane: every entry, in order')
  t.same(lanes[2]?.got, await alone(l, TailKinds.meta, control, 'dest'), 'control lane: every meta record, in order')
})

/** The fill's priority of an entry label (`lsn:m{i}` has priority i % 10). */
const priorityOf = (label: string): number => Number(label.split(':')[1]?.slice(1)) % 10
const highOnly = (labels: string[] | undefined): string[] => (labels ?? []).filter((x) => priorityOf(x) >= HIGH_LANE_PRIORITY_MIN)
const normalOnly = (labels: string[] | undefined): string[] => (labels ?? []).filter((x) => priorityOf(x) < HIGH_LANE_PRIORITY_MIN)

t.test('shared tail - a lane ahead of what is held reads lane-only: its own records, every one once, in order', async (t) => {
  const { l, tail, fast, slow } = await boundedTail(t)
  const isHigh = (p: number | undefined): boolean => (p ?? 4) >= HIGH_LANE_PRIORITY_MIN
  const lanes: LaneSim[] = [
    { kinds: TailKinds.entries, want: { kinds: TailKinds.entries, ...fast, alone: { maxItems: 20, maxBytes: 512 * 1024, topics: filter.topics, priorities: isHigh } }, pos: -1, got: [], done: false },
    { kinds: TailKinds.entries, want: { kinds: TailKinds.entries, ...slow, alone: { maxItems: 7, maxBytes: 512 * 1024, topics: filter.topics, priorities: (p) => !isHigh(p) } }, pos: -1, got: [], done: false },
    { kinds: TailKinds.meta, want: { kinds: TailKinds.meta, ...control, alone: { maxItems: 1000, maxBytes: 512 * 1024, meta: filter.meta } }, pos: -1, got: [], done: false }
  ]
  await lanesThroughShared(tail, lanes, [0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1])
  t.ok(tail.counts.laneOnlyReads > 0, `lane-only reads happened (${tail.counts.laneOnlyReads})`)
  // What the link ships of each (link-read.ts keeps a lane's priorities): the same as the lane's own full read gives.
  t.same(highOnly(lanes[0]?.got), highOnly(await alone(l, TailKinds.entries, fast, 'dest')), 'fast (high) lane: every high entry, once, in order')
  t.same(normalOnly(lanes[1]?.got), normalOnly(await alone(l, TailKinds.entries, slow, 'dest')), 'slow (normal) lane: every normal entry, once, in order')
  t.same(lanes[2]?.got, await alone(l, TailKinds.meta, control, 'dest'), 'control lane: every meta record, in order')
  t.ok(highOnly(lanes[0]?.got).length > 300, 'the high entries are there')
})

t.test('shared tail - a ledger restart between reads: the lanes resume from their positions, nothing lost or repeated', async (t) => {
  const tmp = await tmpDir('ferry-shared-tail-')
  t.teardown(tmp.cleanup)
  let l = await openLedger(tmp.dir)
  await fill(l, 1500)
  let tail = new SharedTail(l, 'dest', filter)
  const lanes: LaneSim[] = [
    { kinds: TailKinds.meta, want: { kinds: TailKinds.meta, ...control }, pos: -1, got: [], done: false },
    { kinds: TailKinds.entries, want: { kinds: TailKinds.entries, ...high }, pos: -1, got: [], done: false },
    { kinds: TailKinds.entries, want: { kinds: TailKinds.entries, ...normal }, pos: -1, got: [], done: false }
  ]
  // A few turns, then the site restarts (a new ledger and a new link's shared tail; the lanes keep their positions, as persisted).
  for (let turn = 0; turn < 9; turn++) {
    const lane = lanes[[0, 1, 1, 2][turn % 4] as number] as LaneSim
    const r = await tail.read(lane.pos, lane.want, Math.min(...lanes.map((x) => x.pos)))
    lane.got.push(...r.items.map(label))
    lane.pos = r.throughLsn
  }
  t.ok((lanes[2]?.got.length ?? 0) > 0 && (lanes[2]?.got.length ?? 0) < 1000, 'the normal lane is part-way')
  await l.close()
  l = await openLedger(tmp.dir)
  t.teardown(async () => { await l.close() })
  await fill(l, 300) // more arrives after the restart
  tail = new SharedTail(l, 'dest', filter)
  await lanesThroughShared(tail, lanes, [0, 1, 1, 1, 1, 2])
  t.same(lanes[0]?.got, await alone(l, TailKinds.meta, control, 'dest'))
  t.same(lanes[1]?.got, await alone(l, TailKinds.entries, high, 'dest'))
  t.same(lanes[2]?.got, await alone(l, TailKinds.entries, normal, 'dest'))
})

t.test('shared tail - entries that passed the destination are left out; others of the same origin are not', async (t) => {
  const tmp = await tmpDir('ferry-shared-tail-')
  t.teardown(tmp.cleanup)
  const l = await openLedger(tmp.dir)
  t.teardown(async () => { await l.close() })
  await fill(l, 700)
  const toHub = await alone(l, TailKinds.entries, normal, 'hub')
  const toOther = await alone(l, TailKinds.entries, normal, 'elsewhere')
  const all = toOther.length
  const viaHub = Array.from({ length: 700 }, (_, i) => i).filter((i) => i % 5 !== 0 && i % 7 === 0).length
  t.equal(toHub.length, all - viaHub, 'entries whose replicatedVia names the destination do not go there')
  t.ok(toHub.every((x) => toOther.includes(x)), 'nothing else changes')
  const tail = new SharedTail(l, 'hub', filter)
  const lane: LaneSim = { kinds: TailKinds.entries, want: { kinds: TailKinds.entries, ...normal }, pos: -1, got: [], done: false }
  await lanesThroughShared(tail, [lane], [0])
  t.same(lane.got, toHub)
})

t.test('log tail - the freshly written tail from the writer\'s memory gives the same records as the file', async (t) => {
  const tmp = await tmpDir('ferry-shared-tail-')
  t.teardown(tmp.cleanup)
  const l = await openLedger(tmp.dir)
  await fill(l, 1200)
  const fromMemory = await alone(l, TailKinds.entries, high)
  const metaFromMemory = await alone(l, TailKinds.meta, control)
  await l.close()
  // The same log with no tail cache: every read goes to the segment files (and their checksums).
  const f = await openLedger(tmp.dir, 0)
  t.teardown(async () => { await f.close() })
  t.same(await alone(f, TailKinds.entries, high), fromMemory)
  t.same(await alone(f, TailKinds.meta, control), metaFromMemory)
  t.ok(fromMemory.length > 900)
})

t.test('shared tail - records gone before a lane came to them (retention): every lane that reaches the gap reports it', async (t) => {
  // A fake log (unit test): records 100..199 are there, everything before was removed by retention.
  const items: LogItem[] = Array.from({ length: 100 }, (_, i) => ({ kind: 'message', lsn: 100 + i, topic: 't/a/0', entryId: i, publishTime: 0, payload: Buffer.from(`m${i}`), props: {} }))
  const ledger = {
    readLog: async (after: number, o: { maxItems: number }) => {
      const from = items.filter((it) => it.lsn > after).slice(0, o.maxItems)
      const last = from[from.length - 1]
      return { items: from, throughLsn: last?.lsn ?? after, endLsn: 200, ...(after < 99 ? { gapToLsn: 100 } : {}) }
    }
  }
  const tail = new SharedTail(ledger, 'dest', filter)
  const want = { kinds: TailKinds.entries, maxItems: 30, maxBytes: 1 << 20, maxScanBytes: 1 << 20 }
  const a = await tail.read(10, want, 10)
  const b = await tail.read(20, want, 10)
  t.equal(a.gapToLsn, 100, 'the first lane reports the gap')
  t.equal(b.gapToLsn, 100, 'so does the second, though the first read the same records')
  t.same(a.items.map((x) => x.lsn), items.slice(0, 30).map((x) => x.lsn))
  t.same(b.items.map((x) => x.lsn), items.slice(0, 30).map((x) => x.lsn))
  // Past the gap, reads are shared again and report nothing.
  const c = await tail.read(a.throughLsn, want, a.throughLsn)
  const d = await tail.read(b.throughLsn, want, b.throughLsn)
  t.equal(c.gapToLsn, undefined)
  t.equal(d.gapToLsn, undefined)
  t.same(d.items, c.items)
  t.same(c.items.map((x) => x.lsn), items.slice(30, 60).map((x) => x.lsn))
})
