/**
 * Replicated subscriptions without a network: the range arithmetic, the
 * bounded origin map, and cursor sync's rules (an ack that arrives before the
 * entry it names waits for it; ids are matched by origin, never by local id;
 * what a site sends is in origin coordinates).
 */
import t from 'tap'
import { createMemoryLedger, MetaSpace, type Cursor, type Ledger, type MessageProps } from '../../store/index.js'
import { silentLogger } from '../../common/log.js'
import { normalise, subtract, union, intersectInterval, firstRanges, isRanges } from '../../replicator/cursor-ranges.js'
import { OriginRuns } from '../../replicator/origin-runs.js'
import { CursorSync, cursorRecordKey, parseCursorRecord, type ReplicatedSubscriptionHost } from '../../replicator/cursor-sync.js'

const TOPIC = 'public/default/x'
const policyOf = (): { durability: 'memory', retentionMs: number, retentionBytes: number, ttlMs: number } => ({ durability: 'memory', retentionMs: -1, retentionBytes: -1, ttlMs: 0 })

async function ledger (site: string, t: { teardown: (f: () => Promise<void>) => void }): Promise<Ledger> {
  const l = createMemoryLedger({ siteId: site, policyOf, retentionIntervalMs: 0, checkpointIntervalMs: 0 })
  await l.open()
  t.teardown(async () => { await l.close() })
  return l
}

async function put (l: Ledger, payload: string, props: MessageProps = {}): Promise<number> {
  return (await l.append({ topic: TOPIC, payload: Buffer.from(payload), props })).entryId
}

/** A dispatcher stand-in: one replicated subscription 's' on TOPIC, its cursor created on demand. */
function hostOf (l: Ledger): ReplicatedSubscriptionHost & { cursor: () => Promise<Cursor> } {
  const cursor = async (): Promise<Cursor> => await l.cursor(TOPIC, 's', { durable: true, start: { kind: 'earliest' } })
  return {
    cursor,
    list: () => [{ namespace: 'public/default', filter: 'x', name: 's', mode: 'shared', cursorName: 's', topics: l.topicInfo(TOPIC) === undefined ? [] : [TOPIC] }],
    ensure: async () => { if (l.topicInfo(TOPIC) !== undefined) await cursor() },
    ackRemote: async (_def, _topic, ids) => { const c = await cursor(); const before = c.backlogEntries(); await c.ack(ids); return before - c.backlogEntries() }
  }
}

t.test('repl-sub - range arithmetic', async (t) => {
  t.same(normalise([5, 6, 1, 2, 3, 3, 8, 9]), [1, 3, 5, 6, 8, 9], 'sorted and joined')
  t.same(union([1, 3], [4, 6, 10, 11]), [1, 6, 10, 11])
  t.same(subtract([0, 10], [2, 3, 5, 5, 9, 12]), [0, 1, 4, 4, 6, 8])
  t.same(subtract([0, 3, 7, 9], []), [0, 3, 7, 9])
  t.same(intersectInterval([0, 3, 7, 9, 12, 20], 2, 13), [2, 3, 7, 9, 12, 13])
  t.same(firstRanges([0, 1, 3, 4, 6, 7], 2), [0, 1, 3, 4], 'bounded: later ranges left out')
  t.ok(isRanges([0, 1, 3, 4]))
  t.notOk(isRanges([3, 4, 0, 1]), 'unordered is not a range list')
  t.notOk(isRanges([0, 1, 1, 2]), 'overlapping is not a range list')
})

t.test('repl-sub - the origin map: runs per origin, both directions, trimmed and bounded', async (t) => {
  const b = await ledger('b', t)
  await put(b, 'own0') // 0: b's own
  for (let i = 0; i < 3; i++) await put(b, `a${i}`, { originSite: 'a', originEntryId: 10 + i }) // 1..3 <- a#10..12
  await put(b, 'c0', { originSite: 'c', originEntryId: 4 }) // 4 <- c#4
  await put(b, 'a3', { originSite: 'a', originEntryId: 13 }) // 5 <- a#13 (a new run: c interleaved)
  const m = new OriginRuns(TOPIC, 'b', 0)
  await m.extend(b, 100)
  t.equal(m.scannedThrough, 5)
  t.equal(m.runCount, 3, 'a, c, a')
  t.same(m.toLocal('a', [11, 13]), [2, 3, 5, 5], 'a#11..13 are local 2, 3, 5')
  t.same(m.toLocal('c', [0, 100]), [4, 4])
  t.same([...m.toOrigin([0, 5])].sort(), [['a', [10, 13]], ['c', [4, 4]]], 'local 0..5 in origin coordinates (own entry 0 is not a run)')
  m.trim(4)
  t.same(m.toLocal('a', [10, 13]), [5, 5], 'trimmed runs below low are forgotten')
  const small = new OriginRuns(TOPIC, 'b', 0, 2)
  await small.extend(b, 100)
  t.ok(small.full, 'the bound holds')
  t.equal(small.runCount, 2)
  t.ok(small.scannedThrough < 5, 'scanning pauses at the bound')
})

t.test('repl-sub - an ack that arrives before its entry waits for it; local ids never stand for origin ids', async (t) => {
  const b = await ledger('b', t)
  const host = hostOf(b)
  await put(b, 'b0') // local 0, b's own: the same number as a#0 below
  await put(b, 'b1')
  const cursor = await host.cursor()
  const sync = new CursorSync('b', b, host, silentLogger, 60_000)
  t.teardown(async () => { await sync.close() })
  // a's record arrives first (the control lane overtook the entries): a's consumer acknowledged a#0..2.
  await b.putMeta(MetaSpace.replCursor, cursorRecordKey(TOPIC, 'a', 's'), {
    v: 1, site: 'a', topic: TOPIC, namespace: 'public/default', filter: 'x', name: 's', mode: 'shared', seq: 1, md: 2, r: [], o: { a: [0, 2] }, replicatedVia: ['a']
  })
  await sync.tick()
  await sync.tick()
  t.equal(cursor.markDelete(), -1, 'b\'s own entries 0 and 1 are not taken for a#0 and a#1')
  t.equal(sync.stats().remoteCursors, 1, 'the record is kept')
  for (let i = 0; i < 4; i++) await put(b, `a${i}`, { originSite: 'a', originEntryId: i }) // local 2..5 <- a#0..3
  await sync.tick()
  t.same([0, 1, 2, 3, 4, 5].map((id) => cursor.isAcked(id)), [false, false, true, true, true, false], 'a#0..2 acknowledged here once they arrived, a#3 not')

  // What b sends: its own ack of b0 and of a#3, in origin coordinates.
  await cursor.ack([0, 5])
  await sync.tick()
  const mine = parseCursorRecord(b.getMeta(MetaSpace.replCursor, cursorRecordKey(TOPIC, 'b', 's')))
  t.ok(mine !== undefined, 'b wrote its record')
  t.same(mine?.o.a, [0, 3], 'a#0..3 (the ones applied from a, and the one acked here)')
  t.ok(mine?.o.b !== undefined && intersectInterval(mine.o.b, 0, 0).length === 2, 'b\'s own entry 0 in b\'s coordinates')
  t.notOk(mine?.o.b !== undefined && intersectInterval(mine.o.b, 1, 1).length > 0, 'b1 (never acknowledged) is not claimed')
})
