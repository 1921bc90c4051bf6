/**
 * 'r' items (replicator/codec.ts): a plain record crosses as the sender's log
 * holds it. The receiver reads the bytes in place, checks them plain, and
 * refuses the whole batch when they are not (untrusted input).
 */
import t from 'tap'
import { Encoder } from 'cbor-x'
import { batchOf, decodeBatch, decodeBatchHead, encodeBatch, encodeBatchCompressed, type Batch, type PlainItem, type WireItem } from '../../replicator/codec.js'
import { ReplCode } from '../../replicator/errors.js'
import { MessageEncoder } from '../../store/message-encoder.js'

const enc = new MessageEncoder()
const generic = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false })

/** A plain item as the log tail gives it: the record inside a larger block. */
function plainItem (lsn: number, topic: string, entryId: number, priority?: number): PlainItem {
  const body = Buffer.from(enc.encode(5, entryId, 1_700_000_000_000 + entryId, Buffer.from(`p${entryId}`), priority === undefined ? { key: 'k' } : { priority }))
  const src = Buffer.concat([Buffer.alloc(11, 0xee), body, Buffer.alloc(3, 0xee)])
  return { kind: 'plain', lsn, topic, entryId, publishTime: 1_700_000_000_000 + entryId, priority, src, start: 11, end: 11 + body.length }
}

const recordOf = (it: WireItem): Buffer | undefined => it.kind === 'plain' ? it.src.subarray(it.start, it.end) : undefined

t.test('codec plain - plain records cross byte for byte beside decoded items, plain and compressed', async (t) => {
  const items: WireItem[] = [
    plainItem(10, 'public/default/x', 1),
    { kind: 'message', lsn: 11, topic: 'public/default/x', entryId: 2, publishTime: 5, payload: Buffer.from('relayed'), props: { originSite: 'c', originEntryId: 9, replicatedVia: ['c'] } },
    plainItem(12, 'public/default/y', 3),
    plainItem(13, 'public/default/x', 4),
    { kind: 'meta', lsn: 14, space: 'retained', key: 'public/default/x', value: { entryId: 1 } }
  ]
  const b: Batch = { from: 'a', to: 'b', lane: 2, after: 9, through: 20, items }
  for (const [how, bytes] of [['plain', encodeBatch(b)], ['compressed', await encodeBatchCompressed(b, 0)]] as const) {
    const got = await batchOf(decodeBatchHead(bytes))
    t.equal(got.items.length, 5, how)
    t.same(got.items.map((it) => it.kind), ['plain', 'message', 'plain', 'plain', 'meta'])
    t.same(got.items.map(recordOf), items.map(recordOf), 'the records\' bytes as the sender\'s log holds them')
    t.same(got.items.map((it) => it.kind === 'plain' ? [it.topic, it.entryId, it.publishTime, it.priority] : undefined),
      items.map((it) => it.kind === 'plain' ? [it.topic, it.entryId, it.publishTime, it.priority] : undefined), 'their fields read from the bytes')
    const first = got.items[0]
    t.equal(first?.kind === 'plain' ? first.plain?.entryId : undefined, 1, 'checked for the store')
  }
  // The topic table names each topic once, 'r' items included.
  const raw = generic.decode(encodeBatch(b)) as { topics: string[], items: unknown[][] }
  t.same(raw.topics, ['public/default/x', 'public/default/y'])
  t.same(raw.items[0]?.slice(0, 3), ['r', 10, 0])
})

t.test('codec plain - a record that is not plain refuses the batch', async (t) => {
  const head = { v: 1, from: 'a', to: 'b', lane: 2, after: 0, through: 10, topics: ['t'] }
  const withOrigin = Buffer.from(enc.encode(5, 1, 5, Buffer.from('x'), { originSite: 'c' }))
  const cases: Array<[string, unknown[]]> = [
    ['a record carrying an origin', ['r', 1, 0, withOrigin]],
    ['a truncated record', ['r', 1, 0, Buffer.from(enc.encode(5, 1, 5, Buffer.from('xyz'), {})).subarray(0, 6)]],
    ['a record as text', ['r', 1, 0, 'not bytes']],
    ['no record', ['r', 1, 0]],
    ['a topic index outside the table', ['r', 1, 3, Buffer.from(enc.encode(5, 1, 5, Buffer.from('x'), {}))]]
  ]
  for (const [why, item] of cases) {
    t.throws(() => decodeBatch(generic.encode({ ...head, items: [item] })), { code: ReplCode.BAD_BATCH }, why)
  }
})
