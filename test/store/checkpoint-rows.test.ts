/**
 * Checkpoint bodies: the rows are packed into large chunks while the checkpoint
 * is built (no Buffer per topic held to the end), and the body is the same CBOR
 * map as before, so bodies of either writer decode alike; a ledger with many
 * topics and cursors recovers from such a checkpoint with all of them.
 */
import t from 'tap'
import { join } from 'node:path'
import { checkpointName, decodeSnapshot, encodeSnapshot, encodeTopicRow, readCheckpointFile, RowChunks, writeCheckpointFile } from '../../store/checkpoint.js'
import { SimDisk } from '../../store/disk/sim-disk.js'
import { encodeValue } from '../../store/records.js'
import { TopicState } from '../../store/topic-state.js'
import { createFileLedger, Durability, type Ledger } from '../../store/index.js'
import { tmpDir } from '../helpers/tmp.js'

function topics (n: number): TopicState[] {
  const out: TopicState[] = []
  for (let i = 0; i < n; i++) {
    const ts = new TopicState(`acme/orders/${'x'.repeat(i % 300)}-${i}`, i + 1, Durability.sync, false)
    out.push(ts)
  }
  return out
}

t.test('checkpoint rows - packed rows decode to the same topics, across chunk boundaries, and old bodies still decode', async (t) => {
  for (const n of [0, 1, 30_000]) {
    const ts = topics(n)
    const rows = new RowChunks()
    for (const x of ts) rows.add(x)
    const meta = new Map([['space', new Map([['k', { v: 1 }]])]]) as never
    const body = encodeSnapshot({ replayFrom: 4096, nextTopicId: n + 1, rows, meta, segmentTimes: [[1, 2]] })
    const snap = decodeSnapshot(body)
    t.equal(snap.topics.length, n, `${n} topics back`)
    t.same(snap.topics.map((x) => [x.id, x.name]), ts.map((x) => [x.id, x.name]), 'ids and names in order')
    t.equal(snap.replayFrom, 4096)
    t.equal(snap.nextTopicId, n + 1)
    t.same(snap.segmentTimes, [[1, 2]])
    t.same(snap.meta.get('space')?.get('k'), { v: 1 })
    if (n === 30_000) t.ok(rows.chunks.length > 1, `rows spanned ${rows.chunks.length} chunks`)
    // The body the earlier writer made (cbor-x over a Buffer per row) decodes the same way.
    const old = encodeValue({ v: 2, replayFrom: 4096, nextTopicId: n + 1, rows: ts.map((x) => encodeTopicRow(x)), meta: [['space', [['k', { v: 1 }]]]], segmentTimes: [[1, 2]] })
    t.same(decodeSnapshot(old).topics.map((x) => [x.id, x.name]), ts.map((x) => [x.id, x.name]), 'an old body decodes alike')
  }
})

t.test('checkpoint rows - a ledger with 5,000 topics and a cursor on each recovers them from its checkpoint', async (t) => {
  const tmp = await tmpDir('ferry-ckrows-')
  t.teardown(tmp.cleanup)
  const dir = join(tmp.dir, 'l')
  const policyOf = (): { durability: 'sync', retentionMs: number, retentionBytes: number, ttlMs: number } => ({ durability: 'sync', retentionMs: -1, retentionBytes: -1, ttlMs: 0 })
  const open = (): Ledger => createFileLedger({ siteId: 's', dir, policyOf, checkpointIntervalMs: 0, retentionIntervalMs: 0 })
  const a = open()
  await a.open()
  const N = 5000
  await Promise.all(Array.from({ length: N }, async (_, i) => await a.append({ topic: `acme/orders/t${i}`, payload: Buffer.from(`m${i}`) })))
  await Promise.all(Array.from({ length: N }, async (_, i) => { const c = await a.cursor(`acme/orders/t${i}`, 'sub', { durable: true, start: { kind: 'earliest' } }); await c.ack([0]) }))
  await a.checkpoint()
  await a.close()
  const b = open()
  const report = await b.open()
  t.equal(report.recordsReplayed, 0, 'everything came from the checkpoint, nothing from replay')
  t.equal(report.corruptRecords, 0)
  t.teardown(async () => { await b.close() })
  let ok = 0
  let acked = 0
  for (let i = 0; i < N; i++) {
    const e = await b.read(`acme/orders/t${i}`, 0, { maxEntries: 2 })
    if (e.length === 1 && e[0]?.payload.toString() === `m${i}`) ok++
    const c = b.cursors(`acme/orders/t${i}`).find((x) => x.subscription === 'sub')
    if (c?.isAcked(0) === true) acked++
  }
  t.equal(ok, N, 'every topic and its message back')
  t.equal(acked, N, 'every cursor and its ack back')
})

t.test('checkpoint rows - a body written from its parts (never joined) reads back whole, its checksum over all of them', async (t) => {
  const rows = new RowChunks()
  for (const x of topics(30_000)) rows.add(x)
  const body = encodeSnapshot({ replayFrom: 8192, nextTopicId: 30_001, rows, meta: new Map() as never, segmentTimes: [] })
  t.ok(body.parts.length > 3, `${body.parts.length} parts`)
  const joined = Buffer.concat(body.parts as Buffer[])
  t.equal(joined.length, body.length)
  const disk = new SimDisk(3).view()
  await disk.mkdirp('/c')
  await writeCheckpointFile(disk, '/c', 8192, body)
  const back = await readCheckpointFile(disk, `/c/${checkpointName(8192)}`)
  t.ok(back?.equals(joined), 'the file holds the parts in order, and its checksum matches')
  t.equal(decodeSnapshot(back as Buffer).topics.length, 30_000)
})
