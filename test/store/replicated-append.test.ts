/**
 * Ledger.appendReplicated (store/ledger-replicated.ts): replicated entries in
 * one submission, their records written by hand (store/message-encoder.ts).
 * They must read back exactly as the props say, raise the link's position in
 * the same record, survive a reopen, and become visible only once durable.
 */
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createFileLedger, createMemoryLedger, positionOf, REPL_IN_SPACE, SimDisk, StoreCode,
  type Disk, type DiskFile, type Ledger, type MessageProps, type ReplicatedMessageInput
} from '../../store/index.js'
import { MessageEncoder } from '../../store/message-encoder.js'
import { RecordKind, decodeRecord, encodeRecord, peekMessage, peekViaIncludes } from '../../store/records.js'
import { openReceiver, policyByPrefix, readBack, waitFor, type ReadBack } from './helpers.js'

const dirs: string[] = []
t.teardown(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }) })

/** Props of every shape a replicated entry may carry (the origin's, completed by the receiver). */
const PROPS: MessageProps[] = [
  { originSite: 'a', originEntryId: 0, replicatedVia: ['a'], replicatedLsn: 17 },
  {
    key: 'k'.repeat(40), orderingKey: 'ü€😀', priority: 3, deliverAt: 1_700_000_000_000.5, expiresAt: 1_700_000_060_000,
    userProperties: [['a', 'b'], ['a', 'c'], ['ключ', 'значение']], contentType: 'text/plain', payloadFormat: 1,
    responseTopic: 'r/t', correlationData: Buffer.from([0, 1, 255]), qos: 2, deadLetterReason: 'x'.repeat(300),
    originSite: 'c', originEntryId: 4_000_000_000, replicatedVia: ['c', 'a'], replicatedLsn: 2 ** 40 + 7
  },
  { resultTopic: 'res', originSite: 'a', originEntryId: 9, replicatedVia: ['a'], replicatedLsn: 18 }
]

t.test('replicated append - records written by hand decode like encodeRecord\'s and keep the peeked shape', async (t) => {
  const enc = new MessageEncoder()
  // Payloads around and above the encoder's chunk (a record written across a chunk change moves over whole).
  for (const payload of [Buffer.alloc(0), Buffer.from('hello'), Buffer.alloc(200_000, 7), Buffer.alloc(300_000, 9)]) {
    // Also props with nothing to write (undefined, or no wire key): the 5-item record, as encodeRecord writes it.
    for (const props of [...PROPS, {}, { key: undefined }, { notAProp: 1 } as unknown as MessageProps]) {
      const body = enc.encode(3, 4_000_000_001, 1_700_000_000_123, payload, props)
      const ref = decodeRecord(encodeRecord({ kind: RecordKind.message, topicId: 3, entryId: 4_000_000_001, publishTime: 1_700_000_000_123, payload, props }))
      t.same(decodeRecord(Buffer.from(body)), ref, `decodes like encodeRecord (payload ${payload.length} B, ${Object.keys(props).length} props)`)
      const peeked = peekMessage(body, 0, body.length)
      t.same(peeked?.kind === RecordKind.message ? peeked.props : undefined, ref.kind === RecordKind.message ? ref.props : undefined, 'peekMessage reads its props')
      t.equal(peekViaIncludes(body, 0, body.length, Buffer.from('a')), props.replicatedVia?.includes('a') ?? false, 'peekViaIncludes reads its replicatedVia')
    }
  }
})

function inputs (n: number, from = 0): ReplicatedMessageInput[] {
  return Array.from({ length: n }, (_, i) => {
    const lsn = 100 + from + i
    return {
      topic: i % 3 === 0 ? 'r/one' : i % 3 === 1 ? 'r/two' : 'async/three',
      payload: Buffer.from(`m${from + i}-${'p'.repeat(i % 50)}`),
      publishTime: 1_700_000_000_000 + from + i,
      props: { ...(PROPS[i % PROPS.length] as MessageProps), originEntryId: from + i, replicatedVia: ['a'], replicatedLsn: lsn }
    }
  })
}

const contents = async (l: Ledger): Promise<ReadBack[]> => await readBack(l, ['r/one', 'r/two', 'async/three'])

function expected (ins: ReplicatedMessageInput[]): Array<{ topic: string, payload: string, publishTime: number, props: MessageProps }> {
  const out: Array<{ topic: string, payload: string, publishTime: number, props: MessageProps }> = []
  for (const topic of ['r/one', 'r/two', 'async/three']) {
    for (const i of ins) if (i.topic === topic) out.push({ topic, payload: i.payload.toString(), publishTime: i.publishTime, props: i.props })
  }
  return out
}

t.test('replicated append - entries read back identical (payload, props, origin, replicatedVia), raise the position, survive a reopen', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-repl-append-'))
  dirs.push(dir)
  const open = async (): Promise<Ledger> => await openReceiver(dir)
  let l = await open()
  const first = inputs(400)
  const second = inputs(400, 400)
  const seen: string[] = []
  l.onAppend((topic, id) => { seen.push(`${topic}#${id}`) })
  await Promise.all([l.appendReplicated(first), l.appendReplicated(second)])
  const want = expected([...first, ...second])
  t.same(await contents(l), want, 'read back as given, in order, each once')
  t.equal(seen.length, 800, 'a listener heard every entry')
  t.equal(positionOf(l.getMeta(REPL_IN_SPACE, 'a')), 100 + 799, 'the position is the last entry\'s replicatedLsn')
  // Onward replication reads them from the log (the tail) with the same props.
  const log = await l.readLog(-1, { maxItems: 10_000, maxBytes: 64 * 1024 * 1024, topics: () => true })
  const messages = log.items.filter((it) => it.kind === 'message')
  t.equal(messages.length, 800, 'every entry is in the log tail')
  t.same(messages.map((m) => m.kind === 'message' ? m.props : undefined), [...first, ...second].map((i) => i.props), 'with its props')
  await l.close()
  l = await open()
  t.same(await contents(l), want, 'the same after a reopen (replayed from the log)')
  t.equal(positionOf(l.getMeta(REPL_IN_SPACE, 'a')), 899, 'and the position with them')
  await l.close()
})

t.test('replicated append - the memory ledger takes the same entries', async (t) => {
  const l = createMemoryLedger({ siteId: 'b', policyOf: policyByPrefix(), retentionIntervalMs: 0, checkpointIntervalMs: 0 })
  await l.open()
  t.teardown(async () => { await l.close() })
  const ins = inputs(30)
  await l.appendReplicated(ins)
  t.same(await contents(l), expected(ins))
  t.equal(positionOf(l.getMeta(REPL_IN_SPACE, 'a')), 129)
})

/** A disk whose fdatasyncs wait for `release` (and without the O_DSYNC fast path, so every sync is one). */
function gatedDisk (inner: Disk): { disk: Disk, hold: () => void, release: () => void, held: () => number } {
  let gate: Promise<void> | null = null
  let open: () => void = () => {}
  let waiting = 0
  const wrap = (f: DiskFile): DiskFile => ({
    write: async (buf, pos) => { await f.write(buf, pos) },
    read: async (pos, len) => await f.read(pos, len),
    datasync: async () => {
      if (gate !== null) { waiting++; await gate; waiting-- }
      await f.datasync()
    },
    truncate: async (n) => { await f.truncate(n) },
    size: async () => await f.size(),
    close: async () => { await f.close() }
  })
  const disk: Disk = { ...inner, open: async (p, c) => wrap(await inner.open(p, c)) }
  return {
    disk,
    hold: () => { gate = new Promise((resolve) => { open = resolve }) },
    release: () => { gate = null; open() },
    held: () => waiting
  }
}

t.test('replicated append - entries become visible to readers and listeners only once durable', async (t) => {
  const sim = new SimDisk(7)
  const g = gatedDisk(sim.view())
  const l = createFileLedger({ siteId: 'b', dir: '/sim/repl', disk: g.disk, policyOf: () => ({ durability: 'sync', retentionMs: -1, retentionBytes: -1, ttlMs: 0 }), checkpointIntervalMs: 0, retentionIntervalMs: 0 })
  await l.open()
  t.teardown(async () => { g.release(); await l.close() })
  const heard: number[] = []
  l.onAppend((_topic, id) => { heard.push(id) })
  g.hold()
  let done = false
  const ins = Array.from({ length: 50 }, (_, i): ReplicatedMessageInput => ({ topic: 'r/x', payload: Buffer.from(`v${i}`), publishTime: 1000 + i, props: { originSite: 'a', originEntryId: i, replicatedVia: ['a'], replicatedLsn: i + 1 } }))
  const applied = l.appendReplicated(ins).then(() => { done = true })
  await waitFor(() => g.held() > 0, 'the batch written and its fdatasync waiting')
  t.equal(done, false, 'not resolved before the fdatasync')
  t.same(await l.read('r/x', 0, { maxEntries: 100 }), [], 'no reader sees an entry before it is durable')
  t.same(heard, [], 'no listener heard of one')
  g.release()
  await applied
  t.equal((await l.read('r/x', 0, { maxEntries: 100 })).length, 50, 'all visible once durable')
  t.equal(heard.at(-1), 49, 'listeners told up to the last entry')
})

t.test('replicated append - a refusal part way keeps the prefix (visible once durable) and rejects', async (t) => {
  const l = createFileLedger({ siteId: 'b', dir: '/sim/refuse', disk: new SimDisk(3).view(), policyOf: policyByPrefix(), maxRecordBytes: 4096, checkpointIntervalMs: 0, retentionIntervalMs: 0 })
  await l.open()
  t.teardown(async () => { await l.close() })
  const ins = inputs(5)
  ins[3] = { ...(ins[3] as ReplicatedMessageInput), payload: Buffer.alloc(8192) }
  await t.rejects(l.appendReplicated(ins), { code: StoreCode.RECORD_TOO_LARGE })
  t.same(await contents(l), expected(ins.slice(0, 3)), 'the entries before the refused one are applied and readable')
  t.equal(positionOf(l.getMeta(REPL_IN_SPACE, 'a')), 102, 'the position covers exactly those')
  const withProducer = inputs(1, 10)
  ;(withProducer[0] as ReplicatedMessageInput).props.producerId = 'p'
  await t.rejects(l.appendReplicated(withProducer), { code: StoreCode.BAD_ARGUMENT }, 'producer ids are refused: replication dedups by position')
})

t.test('replicated append - a failed fdatasync rejects the batch; none of it becomes visible, nor its position', async (t) => {
  const sim = new SimDisk(11)
  const l = createFileLedger({ siteId: 'b', dir: '/sim/fail', disk: sim.view(), policyOf: () => ({ durability: 'sync', retentionMs: -1, retentionBytes: -1, ttlMs: 0 }), checkpointIntervalMs: 0, retentionIntervalMs: 0 })
  await l.open()
  t.teardown(async () => { await l.close() })
  const heard: number[] = []
  l.onAppend((_topic, id) => { heard.push(id) })
  sim.failFsyncs(1)
  const ins = Array.from({ length: 20 }, (_, i): ReplicatedMessageInput => ({ topic: 'r/x', payload: Buffer.from(`v${i}`), publishTime: 1000 + i, props: { originSite: 'a', originEntryId: i, replicatedVia: ['a'], replicatedLsn: i + 1 } }))
  await t.rejects(l.appendReplicated(ins), { code: StoreCode.FSYNC_FAILED })
  t.same(heard, [], 'no listener heard of an entry')
  await l.whenUnfenced()
  t.same(await l.read('r/x', 0, { maxEntries: 100 }), [], 'nothing readable after the ledger reopened from disk')
  t.equal(positionOf(l.getMeta(REPL_IN_SPACE, 'a')), -1, 'the position did not move: the batch is resent whole')
  await l.appendReplicated(ins)
  t.equal((await l.read('r/x', 0, { maxEntries: 100 })).length, 20, 'the resent batch is applied once')
})

t.test('replicated append - an entry kept in memory owns its payload: the bytes it came from may change after', async (t) => {
  // A receiver hands over payloads as views of its batch's bytes (replicator/codec.ts); a memory-kept entry lives
  // on with its topic, so it must not keep (nor follow) them.
  const l = createMemoryLedger({ siteId: 'b', policyOf: policyByPrefix(), retentionIntervalMs: 0, checkpointIntervalMs: 0 })
  await l.open()
  t.teardown(async () => { await l.close() })
  const batch = Buffer.alloc(64 * 1024, 0x61)
  const ins: ReplicatedMessageInput[] = [0, 1].map((i) => ({
    topic: 'r/one', payload: batch.subarray(i * 100, i * 100 + 10), publishTime: 1_700_000_000_000 + i,
    // correlationData too: the wire reader gives bytes props as views of the batch as well (batch-reader.ts).
    props: { originSite: 'a', originEntryId: i, replicatedVia: ['a'], replicatedLsn: 10 + i, correlationData: batch.subarray(50 + i * 100, 54 + i * 100) }
  }))
  await l.appendReplicated(ins)
  batch.fill(0x7a)
  const got = await l.read('r/one', 0, { maxEntries: 10 })
  t.same(got.map((e) => e.payload.toString()), ['a'.repeat(10), 'a'.repeat(10)], 'the entries read as appended')
  t.same(got.map((e) => e.props.correlationData?.toString()), ['aaaa', 'aaaa'], 'their correlation data too')
  t.ok(got.every((e) => e.payload.buffer.byteLength < batch.length && (e.props.correlationData?.buffer.byteLength ?? 0) < batch.length), 'and do not keep the batch\'s bytes')
})
