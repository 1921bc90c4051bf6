/**
 * File-ledger behaviour beyond the conformance suite: group commit, recovery
 * from a checkpoint vs from the log, torn tails, retention, limits.
 */
import t from 'tap'
import { mkdtemp, rm, appendFile, readdir, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SimDisk } from '../../store/disk/sim-disk.js'
import { createFileLedger, StoreCode, type TopicStorePolicy } from '../../store/index.js'
import type { FileLedgerOptions } from '../../store/options.js'
import { fakeClock, policy } from './helpers.js'

const dirs: string[] = []
t.teardown(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }) })
async function tmp (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ferry-store-'))
  dirs.push(d)
  return d
}

function sim (disk: SimDisk, over: Partial<FileLedgerOptions> = {}): ReturnType<typeof createFileLedger> {
  return createFileLedger({ siteId: 's', dir: '/d', disk: disk.view(), policyOf: () => policy('sync'), checkpointIntervalMs: 0, retentionIntervalMs: 0, ...over })
}

t.test('store - group commit merges concurrent appends', async (t) => {
  const disk = new SimDisk(1)
  const l = sim(disk)
  await l.open()
  const before = l.stats().fsyncs
  const rs = await Promise.all(Array.from({ length: 200 }, async (_, i) => await l.append({ topic: `t/${i % 7}`, payload: Buffer.alloc(100, i) })))
  const fsyncs = l.stats().fsyncs - before
  t.equal(rs.length, 200)
  t.ok(fsyncs <= 2, `200 concurrent appends took ${fsyncs} fsyncs`)
  await l.close()
})

t.test('store - group commit respects groupCommitMaxBytes', async (t) => {
  const disk = new SimDisk(2)
  const l = sim(disk, { groupCommitMaxBytes: 1024 })
  await l.open()
  const before = l.stats().fsyncs
  await Promise.all(Array.from({ length: 50 }, async (_, i) => await l.append({ topic: 't', payload: Buffer.alloc(200, i) })))
  const fsyncs = l.stats().fsyncs - before
  t.ok(fsyncs >= 10, `batches of at most 1 KiB: ${fsyncs} fsyncs`)
  await l.close()
})

t.test('store - group commit with a wait gathers appends that arrive later', async (t) => {
  const disk = new SimDisk(3)
  const l = sim(disk, { groupCommitWaitMs: 20 })
  await l.open()
  const before = l.stats().fsyncs
  const first = l.append({ topic: 't', payload: Buffer.from('a') })
  await new Promise((resolve) => setImmediate(resolve))
  const second = l.append({ topic: 't', payload: Buffer.from('b') })
  await Promise.all([first, second])
  t.equal(l.stats().fsyncs - before, 1, 'one fsync for both')
  await l.close()
})

t.test('store - async topics resolve before fsync and are synced by the timer', async (t) => {
  const disk = new SimDisk(4)
  const l = sim(disk, { policyOf: () => policy('async'), asyncFlushMs: 5 })
  await l.open()
  const before = l.stats().fsyncs
  await l.append({ topic: 't', payload: Buffer.from('a') })
  t.equal(l.stats().fsyncs, before, 'resolved without an fsync')
  const { waitFor } = await import('./helpers.js')
  await waitFor(() => l.stats().fsyncs > before, 'timer fsync')
  await l.close()
})

t.test('store - recovery uses the checkpoint and replays only the tail', async (t) => {
  const dir = await tmp()
  // lockDir false: the crash below is simulated in this process, whose first ledger keeps its lock.
  const opts: FileLedgerOptions = { siteId: 's', dir, policyOf: () => policy('sync'), checkpointIntervalMs: 0, retentionIntervalMs: 0, segmentSizeBytes: 16 * 1024, lockDir: false }
  let l = createFileLedger(opts)
  await l.open()
  await l.appendMany(Array.from({ length: 500 }, (_, i) => ({ topic: `t/${i % 10}`, payload: Buffer.alloc(64, i) })))
  await l.checkpoint()
  await l.appendMany(Array.from({ length: 5 }, (_, i) => ({ topic: 't/0', payload: Buffer.alloc(64, i) })))
  // Simulated crash: no close (the file handles are left to the GC).
  l = createFileLedger(opts)
  const report = await l.open()
  t.equal(report.recordsReplayed, 5, 'only records after the checkpoint')
  t.equal(report.truncatedBytes, 0)
  t.ok(report.segments > 1)
  t.equal(report.topics, 10)
  t.equal(l.topicInfo('t/0')?.nextEntryId, 55)
  t.equal((await l.readOne('t/3', 49))?.payload[0], 493 % 256)
  await l.close()
  l = createFileLedger(opts)
  t.equal((await l.open()).recordsReplayed, 0, 'close writes a checkpoint')
  await l.close()
})

t.test('store - a torn tail is cut and reported', async (t) => {
  const dir = await tmp()
  const opts: FileLedgerOptions = { siteId: 's', dir, policyOf: () => policy('sync'), checkpointIntervalMs: 0, retentionIntervalMs: 0 }
  let l = createFileLedger(opts)
  await l.open()
  for (let i = 0; i < 10; i++) await l.append({ topic: 't', payload: Buffer.from(`m${i}`) })
  await l.close()
  const seg = join(dir, (await readdir(dir)).filter((n) => n.startsWith('seg-')).sort().pop() as string)
  const sizeBefore = (await stat(seg)).size
  await appendFile(seg, Buffer.from([40, 0, 0, 0, 1, 2, 3, 4, 5, 6])) // a frame header promising 40 bytes, then 2
  l = createFileLedger(opts)
  const report = await l.open()
  t.equal(report.truncatedBytes, 10)
  t.equal((await stat(seg)).size, sizeBefore, 'file cut back')
  t.equal(l.topicInfo('t')?.nextEntryId, 10)
  t.equal((await l.append({ topic: 't', payload: Buffer.from('next') })).entryId, 10)
  await l.close()
})

t.test('store - record size limit on the file ledger', async (t) => {
  const disk = new SimDisk(5)
  const l = sim(disk, { maxRecordBytes: 1000 })
  await l.open()
  await t.rejects(l.append({ topic: 't', payload: Buffer.alloc(1000) }), { code: StoreCode.RECORD_TOO_LARGE })
  t.equal((await l.append({ topic: 't', payload: Buffer.alloc(900) })).entryId, 0, 'nothing was appended by the refused one')
  await l.close()
})

t.test('store - retention deletes segments only when every entry in them may go', async (t) => {
  const clock = fakeClock()
  const policies: Record<string, TopicStorePolicy> = {
    'acked/x': policy('sync', { retentionMs: 0 }),
    'keep/x': policy('sync', { retentionMs: -1, retentionBytes: -1 }),
    'ttl/x': policy('sync', { retentionMs: 0, ttlMs: 60_000 })
  }
  const disk = new SimDisk(6)
  const opts = { segmentSizeBytes: 2048, nowMs: clock.now, policyOf: (topic: string) => policies[topic] ?? policy('sync', { retentionMs: 0 }) }
  let l = sim(disk, opts)
  await l.open()
  const c = await l.cursor('acked/x', 's', { durable: true, start: { kind: 'earliest' } })
  const ttlCursor = await l.cursor('ttl/x', 's', { durable: true, start: { kind: 'earliest' } })
  for (let i = 0; i < 60; i++) await l.append({ topic: 'acked/x', payload: Buffer.alloc(100, i) })
  t.equal(await l.runRetention(), 0, 'nothing acknowledged yet')
  await c.ackCumulative(39)
  const segsBefore = l.stats().segments
  const deleted = await l.runRetention()
  t.ok(deleted > 0, `${deleted} segments deleted`)
  t.equal(l.stats().segments, segsBefore - deleted)
  const first = l.topicInfo('acked/x')?.firstEntryId ?? 0
  t.ok(first > 0 && first <= 40, `first entry now ${first}`)
  t.equal(c.backlogEntries(), 20)
  t.same((await l.read('acked/x', 0, { maxEntries: 100 })).map((e) => e.entryId), Array.from({ length: 60 - first }, (_, i) => first + i))
  // An unacknowledged topic with a durable cursor holds its segment back.
  await l.append({ topic: 'keep/x', payload: Buffer.from('keep me') })
  await l.append({ topic: 'ttl/x', payload: Buffer.from('expire me') })
  for (let i = 0; i < 60; i++) await l.append({ topic: 'acked/x', payload: Buffer.alloc(100, i) })
  await c.ackCumulative(119)
  await l.runRetention()
  t.equal(l.topicInfo('keep/x')?.firstEntryId, 0, 'kept forever')
  t.equal(ttlCursor.backlogEntries(), 1)
  clock.advance(120_000)
  await l.append({ topic: 'acked/x', payload: Buffer.from('tick') })
  // After restart the checkpoint covers the deleted segments.
  await l.close()
  l = sim(disk, opts)
  await l.open()
  t.equal((await l.readOne('keep/x', 0))?.payload.toString(), 'keep me')
  t.equal(l.topicInfo('acked/x')?.nextEntryId, 121)
  await l.close()
})

t.test('store - a fuzzy checkpoint taken during appends recovers exactly', async (t) => {
  const disk = new SimDisk(8)
  const opts = { segmentSizeBytes: 1024 * 1024 }
  let l = sim(disk, opts)
  await l.open()
  const topics = 12_000 // more than one checkpoint slice
  await l.appendMany(Array.from({ length: topics }, (_, i) => ({ topic: `f/${i}`, payload: Buffer.from(`first ${i}`) })))
  const c = await l.cursor('f/1', 's', { durable: true, start: { kind: 'earliest' } })
  const during: Array<Promise<unknown>> = []
  const cp = l.checkpoint()
  for (let i = 0; i < 50; i++) {
    during.push(l.append({ topic: `f/${(i * 997) % topics}`, payload: Buffer.from(`during ${i}`) }))
    during.push(l.append({ topic: 'f/1', payload: Buffer.from(`f1 ${i}`) }).then(async (r) => { await c.ack([r.entryId]) }))
    await new Promise((resolve) => setImmediate(resolve))
  }
  await Promise.all([cp, ...during])
  const expectNext = new Map<string, number>()
  for (let i = 0; i < topics; i++) expectNext.set(`f/${i}`, l.topicInfo(`f/${i}`)?.nextEntryId ?? -1)
  const acked = c.ackedRanges()
  const md = c.markDelete()
  disk.powerLoss() // everything acknowledged was synced
  l = sim(disk, opts)
  const report = await l.open()
  t.ok(report.recordsReplayed > 0, `${report.recordsReplayed} records replayed after the checkpoint`)
  let wrong = 0
  for (const [topic, next] of expectNext) if (l.topicInfo(topic)?.nextEntryId !== next) wrong++
  t.equal(wrong, 0, 'every topic has exactly its entries')
  const c2 = l.cursors('f/1')[0]
  t.equal(c2?.markDelete(), md)
  t.same(c2?.ackedRanges(), acked)
  t.same((await l.read('f/1', 0, { maxEntries: 100 })).map((e) => e.payload.toString()), ['first 1', ...Array.from({ length: 50 }, (_, i) => `f1 ${i}`)].slice(0, (expectNext.get('f/1') ?? 0)))
  await l.close()
})
