/**
 * Lane-only reads of the log tail (store/log-tail.ts `priorities`,
 * records.peekRoute; replicator/link-read.ts): a lane's read returns exactly
 * what a read of everything returns, kept to the lane's priorities (meta
 * records for the control lane), in lsn order, each record once, whatever the
 * size of the calls; for the file ledger from files, from the writer's
 * memory and after a restart, and for the memory ledger.
 */
import t from 'tap'
import { createFileLedger, createMemoryLedger, Lane, laneOfPriority, type Ledger, type LogItem, type LogReadOptions } from '../../store/index.js'
import { RecordKind, encodeRecord, peekRoute } from '../../store/records.js'
import { tmpDir } from '../helpers/tmp.js'
import type { TapTest } from '../helpers/tap-test.js'

const policyOf = (): { durability: 'sync', retentionMs: number, retentionBytes: number, ttlMs: number } => ({ durability: 'sync', retentionMs: 0, retentionBytes: -1, ttlMs: 0 })
const topics = (topic: string): boolean => topic.startsWith('t/a/')
const meta = (space: string): boolean => space === 'retained'

/** Messages of two namespaces, priorities none and 0..9, some from another site through `hub`, retained values and cancels now and then. */
async function fill (l: Ledger, n: number): Promise<void> {
  const batch: Array<Promise<unknown>> = []
  for (let i = 0; i < n; i++) {
    const topic = i % 5 === 0 ? 't/b/x' : `t/a/${i % 3}`
    const props = i % 7 === 0
      ? { priority: i % 10, originSite: 'o', originEntryId: i, replicatedVia: ['o', 'hub'] }
      : i % 4 === 0 ? {} : { priority: i % 10, userProperties: [['k', `v${i}`]] as Array<[string, string]> }
    batch.push(l.append({ topic, payload: Buffer.from(`m${i}`), props }))
    if (i % 50 === 0) batch.push(l.putMeta('retained', 't/a/0', { payload: Buffer.from(`r${i}`) }))
    if (batch.length >= 64) await Promise.all(batch.splice(0))
  }
  await Promise.all(batch)
}

const label = (it: LogItem): string => it.kind === 'message' ? `${it.lsn}:${it.payload.toString()}:${String(it.props.priority)}` : it.kind === 'meta' ? `${it.lsn}:meta:${it.key}` : `${it.lsn}:cancel`

/** The log read to its end in calls of `maxItems`. */
async function readAll (l: Ledger, opts: Omit<LogReadOptions, 'maxItems' | 'maxBytes'>, maxItems: number): Promise<string[]> {
  const out: string[] = []
  let pos = -1
  for (let i = 0; i < 100_000; i++) {
    const r = await l.readLog(pos, { maxItems, maxBytes: 1 << 20, maxScanBytes: 16 * 1024, ...opts })
    out.push(...r.items.map(label))
    if (r.throughLsn === pos) break
    pos = r.throughLsn
  }
  return out
}

const isLane = (lane: Lane) => (p: number | undefined): boolean => laneOfPriority(p) === lane

async function checkLanes (t: TapTest, l: Ledger, what: string): Promise<void> {
  // The reference: everything the link's namespaces hold (what passed `hub` left out), read in one go per call of 10,000.
  const all = await readAll(l, { topics, skipVia: 'hub' }, 10_000)
  t.ok(all.length > 100, `${what}: the log holds records`)
  for (const lane of [Lane.high, Lane.normal]) {
    const want = all.filter((s) => { const p = s.split(':')[2]; return p === undefined || laneOfPriority(p === 'undefined' ? undefined : Number(p)) === lane })
    for (const step of [1, 7, 1000]) {
      const got = await readAll(l, { topics, skipVia: 'hub', priorities: isLane(lane) }, step)
      t.same(got, want, `${what}: lane ${lane} in calls of ${step} gets its records, once each, in order`)
    }
  }
  const metas = await readAll(l, { meta }, 3)
  t.ok(metas.length > 0 && metas.every((s) => s.includes(':meta:')), `${what}: the control lane reads meta records only`)
}

t.test('lane reads - file ledger: from files, from the writer memory, after a restart', async (t) => {
  const { dir, cleanup } = await tmpDir()
  t.teardown(cleanup)
  let l = createFileLedger({ dir, siteId: 's', policyOf, segmentSizeBytes: 64 * 1024, checkpointIntervalMs: 0, retentionIntervalMs: 0 })
  await l.open()
  await fill(l, 3000)
  await checkLanes(t, l, 'writer memory')
  await l.close()
  l = createFileLedger({ dir, siteId: 's', policyOf, segmentSizeBytes: 64 * 1024, tailCacheBytes: 0, checkpointIntervalMs: 0, retentionIntervalMs: 0 })
  await l.open()
  t.teardown(async () => { await l.close() })
  await checkLanes(t, l, 'files after a restart')
})

t.test('lane reads - memory ledger', async (t) => {
  const l = createMemoryLedger({ siteId: 's', policyOf: () => ({ durability: 'sync', retentionMs: -1, retentionBytes: -1, ttlMs: 0 }), retentionIntervalMs: 0, checkpointIntervalMs: 0 })
  await l.open()
  t.teardown(async () => { await l.close() })
  await fill(l, 1000)
  await checkLanes(t, l, 'memory')
})

t.test('lane reads - peekRoute agrees with a full decode', async (t) => {
  const shapes = [{}, { priority: 9 }, { priority: 0, replicatedVia: ['a', 'hub'] }, { replicatedVia: ['hub'], priority: 7, key: 'k' }, { userProperties: [['p', 'x']] as Array<[string, string]>, priority: 3 }, { replicatedVia: ['a'] }]
  for (const props of shapes) {
    const body = encodeRecord({ kind: RecordKind.message, topicId: 3, entryId: 12, publishTime: 1e12, payload: Buffer.from('x'), props })
    const r = peekRoute(body, 0, body.length, Buffer.from('hub'))
    t.same(r === undefined ? undefined : { ...r }, { via: props.replicatedVia?.includes('hub') ?? false, priority: props.priority }, JSON.stringify(props))
    // A record without props says so in its first byte; with props, cut bytes are never read as a route.
    if (body[0] === 0x86) for (let cut = 2; cut < body.length; cut += 3) t.equal(peekRoute(body, 0, cut, Buffer.from('hub')), undefined, `truncated at ${cut}: not the usual shape`)
  }
})
