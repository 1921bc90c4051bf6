/**
 * Plain replicated inputs (store/ledger-replicated.ts with plain-record.ts):
 * the origin's record re-framed without a decode. What a reader, a listener,
 * the link's position, the delayed index, a reopen and onward replication see
 * must be what the decoded path gives for the same entries; topics kept in
 * memory take them decoded.
 */
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createFileLedger, createMemoryLedger, plainRecordOf, positionOf, REPL_IN_SPACE, StoreCode,
  type Ledger, type MessageProps, type PlainRecord, type ReplicatedInput, type ReplicatedPlainInput
} from '../../store/index.js'
import { MessageEncoder } from '../../store/message-encoder.js'
import { openReceiver, policyByPrefix, readBack, type ReadBack } from './helpers.js'

const dirs: string[] = []
t.teardown(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }) })

const enc = new MessageEncoder()
const T0 = 1_700_000_000_000
/** Origin props of a site's own messages (plain: no route, no origin, no producer ids). */
const ORIGIN: MessageProps[] = [
  {},
  { priority: 8, key: 'k' },
  { userProperties: [['a', 'b'], ['a', 'c'], ['ключ', 'значение']], contentType: 'text/plain', correlationData: Buffer.from([0, 255]) },
  { deliverAt: 4_000_000_000_000, key: 'later' }
]

/** What site a's log holds for its own entry `i` of `topic`, and that as a received plain input. */
function plainInput (topic: string, i: number): { input: ReplicatedPlainInput, payload: string, props: MessageProps } {
  const origin = ORIGIN[i % ORIGIN.length] as MessageProps
  const payload = `m${i}-${'p'.repeat(i % 40)}`
  const body = Buffer.from(enc.encode(9, 1000 + i, T0 + i, Buffer.from(payload), origin))
  // Inside a larger buffer, as in a batch.
  const src = Buffer.concat([Buffer.from([0xde, 0xad]), body])
  const record = plainRecordOf(src, 2, src.length) as PlainRecord
  const lsn = 500 + i
  const props: MessageProps = { ...origin, originSite: 'a', originEntryId: 1000 + i, replicatedVia: ['a'], replicatedLsn: lsn }
  return { input: { topic, record, originSite: 'a', replicatedVia: ['a'], replicatedLsn: lsn }, payload, props }
}

const TOPICS = ['r/one', 'async/two', 'mem/three']
function batch (n: number, from = 0): Array<ReturnType<typeof plainInput>> {
  return Array.from({ length: n }, (_, k) => plainInput(TOPICS[(from + k) % TOPICS.length] as string, from + k))
}

const contents = async (l: Ledger, topics = TOPICS): Promise<ReadBack[]> => await readBack(l, topics)

function expected (b: Array<ReturnType<typeof plainInput>>, topics = TOPICS): Array<{ topic: string, payload: string, publishTime: number, props: MessageProps }> {
  const out: Array<{ topic: string, payload: string, publishTime: number, props: MessageProps }> = []
  for (const topic of topics) {
    for (const x of b) if (x.input.topic === topic) out.push({ topic, payload: x.payload, publishTime: T0 + (x.props.originEntryId as number) - 1000, props: x.props })
  }
  return out
}

t.test('replicated plain - entries read back with the origin\'s props and route, raise the position, survive a reopen', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-repl-plain-'))
  dirs.push(dir)
  const open = async (): Promise<Ledger> => await openReceiver(dir)
  let l = await open()
  const first = batch(300)
  const second = batch(300, 300)
  const heard: string[] = []
  l.onAppend((topic, id) => { heard.push(`${topic}#${id}`) })
  await Promise.all([l.appendReplicated(first.map((x) => x.input)), l.appendReplicated(second.map((x) => x.input))])
  const all = [...first, ...second]
  t.same(await contents(l), expected(all), 'read back as the decoded path gives them, in order, each once (memory topic included)')
  t.equal(heard.length, 600, 'a listener heard every entry')
  t.equal(positionOf(l.getMeta(REPL_IN_SPACE, 'a')), 500 + 599, 'the normal lane\'s position is the last normal entry\'s lsn')
  t.equal(positionOf(l.getMeta(REPL_IN_SPACE, 'a#1')), 500 + 597, 'the high lane\'s (priority 8) its last one\'s')
  const later = l.delayedBetween('r/one', T0, Number.POSITIVE_INFINITY, 1000)
  t.same(later.map((r) => r.deliverAt), all.filter((x) => x.input.topic === 'r/one' && x.props.deliverAt !== undefined).map(() => 4_000_000_000_000), 'deliverAt reaches the delayed index')
  // Onward replication reads them from the log: not plain (they carry their route), with the same props.
  const log = await l.readLog(-1, { maxItems: 10_000, maxBytes: 64 * 1024 * 1024, topics: () => true, plain: true })
  const persistent = all.filter((x) => !x.input.topic.startsWith('mem/'))
  t.ok(log.items.every((it) => it.kind === 'message'), 'a replicated entry is never plain at the next site')
  t.same(log.items.map((m) => m.kind === 'message' ? m.props : undefined), persistent.map((x) => x.props), 'with the origin and route the receiver added')
  await l.close()
  l = await open()
  t.same(await contents(l, ['r/one', 'async/two']), expected(all, ['r/one', 'async/two']), 'the same after a reopen (replayed from the log)')
  t.equal(positionOf(l.getMeta(REPL_IN_SPACE, 'a')), 1099, 'and the position with them')
  await l.close()
})

t.test('replicated plain - the memory ledger takes them decoded, each payload its own', async (t) => {
  const l = createMemoryLedger({ siteId: 'b', policyOf: policyByPrefix(), retentionIntervalMs: 0, checkpointIntervalMs: 0 })
  await l.open()
  t.teardown(async () => { await l.close() })
  const b = batch(30)
  await l.appendReplicated(b.map((x) => x.input))
  for (const x of b) (x.input.record as unknown as { src: Buffer }).src.fill(0) // the batch's bytes reused
  t.same(await contents(l), expected(b), 'as given, not views of the batch')
  t.equal(positionOf(l.getMeta(REPL_IN_SPACE, 'a')), 500 + 28, 'the position (entry 29 is of the high lane)')
})

t.test('replicated plain - a record not checked by plainRecordOf is refused, the prefix before it kept', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-repl-plain-bad-'))
  dirs.push(dir)
  const l = createFileLedger({ siteId: 'b', dir, policyOf: policyByPrefix(), checkpointIntervalMs: 0, retentionIntervalMs: 0 })
  await l.open()
  t.teardown(async () => { await l.close() })
  const good = plainInput('r/one', 0).input
  const forged = { ...plainInput('r/one', 1).input, record: { ...plainInput('r/one', 1).input.record } as unknown as PlainRecord }
  await t.rejects(l.appendReplicated([good, forged] as ReplicatedInput[]), { code: StoreCode.BAD_ARGUMENT })
  t.same((await l.read('r/one', 0, { maxEntries: 10 })).map((e) => e.payload.toString()), ['m0-'], 'the entry before it is applied')
})
