/**
 * The batch's topic table (replicator/codec.ts): a sender names each topic of a batch once ('n' items index the
 * table); a receiver reads those and the items of senders before the table ('m', the topic in each).
 */
import t from 'tap'
import { Encoder } from 'cbor-x'
import { isFerryError } from '../../common/errors.js'
import { ReplCode } from '../../replicator/errors.js'
import { batchOf, decodeBatch, decodeBatchHead, encodeBatch, encodeBatchCompressed, type Batch, type CancelItem, type WireItem } from '../../replicator/codec.js'

const generic = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false })
const base = 2 ** 33

const topics = ['public/default/one', 'public/default/two', 'ü/ns/three']
const items: WireItem[] = Array.from({ length: 30 }, (_, i): WireItem => i === 12
  ? { kind: 'cancel', lsn: base + i, topic: 'public/default/one', originSite: 'c', originEntryId: 4 }
  : i === 20
    ? { kind: 'meta', lsn: base + i, space: 'retained', key: 'k', value: { a: 1 } }
    : { kind: 'message', lsn: base + i, topic: topics[Math.floor(i / 4) % 3] as string, entryId: i, publishTime: 1_700_000_000_000 + i, payload: Buffer.from(`p${i}`), props: i % 5 === 0 ? { priority: 4 } : {} })
const batch: Batch = { from: 'a', to: 'b', lane: 2, after: base - 1, through: base + 100, items }

const occurrences = (bytes: Buffer, s: string): number => {
  let n = 0
  for (let at = bytes.indexOf(s); at >= 0; at = bytes.indexOf(s, at + 1)) n++
  return n
}

t.test('codec topics - each topic name crosses once per batch, and the batch reads back as written', async (t) => {
  const bytes = encodeBatch(batch)
  t.equal(occurrences(bytes, 'public/default/two'), 1, 'a topic of many messages: once')
  t.equal(occurrences(bytes, 'public/default/one'), 2, 'once in the table, once in the cancel (cancels name theirs)')
  const back = decodeBatch(bytes)
  t.same(back, batch, 'plain')
  t.same(await batchOf(decodeBatchHead(await encodeBatchCompressed(batch, 0))), batch, 'compressed')
  const msgs = back.items.filter((it) => it.kind === 'message')
  t.ok(msgs.every((it) => it.kind === 'message' && it.topic === msgs.find((m) => m.kind === 'message' && m.topic === it.topic)?.topic), 'topic strings shared')
  t.same(decodeBatch(encodeBatch({ ...batch, items: [] })).items, [], 'an empty batch (no table)')
})

t.test('codec topics - a batch of a sender before the table (topic in each item) reads the same', async (t) => {
  const old = generic.encode({
    v: 1, from: 'a', to: 'b', lane: 2, after: batch.after, through: batch.through,
    items: items.map((it) => it.kind === 'message'
      ? ['m', it.lsn, it.topic, it.entryId, it.publishTime, it.payload, it.props]
      : it.kind === 'meta' ? ['d', it.lsn, it.space, it.key, it.value ?? null] : ['c', it.lsn, it.topic, (it as CancelItem).originSite, (it as CancelItem).originEntryId])
  })
  t.same(decodeBatch(old), batch)
})

t.test('codec topics - an index outside the table, or a table that is not one, refuses the batch', async (t) => {
  const refused = (doc: unknown): boolean => {
    try {
      decodeBatch(generic.encode(doc))
      return false
    } catch (err) {
      return isFerryError(err) && err.code === ReplCode.BAD_BATCH
    }
  }
  const head = { v: 1, from: 'a', to: 'b', lane: 2, after: 0, through: 9 }
  const item = (index: unknown): unknown[] => ['n', 1, index, 0, 1, Buffer.from('p'), {}]
  t.notOk(refused({ ...head, topics: ['x/y/z'], items: [item(0)] }), 'index 0 of a table of one')
  t.ok(refused({ ...head, topics: ['x/y/z'], items: [item(1)] }), 'past the end')
  t.ok(refused({ ...head, topics: ['x/y/z'], items: [item(-1)] }), 'negative')
  t.ok(refused({ ...head, topics: ['x/y/z'], items: [item('x/y/z')] }), 'a name, not an index')
  t.ok(refused({ ...head, items: [item(0)] }), 'no table')
  t.ok(refused({ ...head, topics: 'x/y/z', items: [item(0)] }), 'a table that is not an array')
  t.ok(refused({ ...head, topics: ['x/y/z', 7], items: [item(0)] }), 'a table entry that is not text')
  t.ok(refused({ ...head, topics: [''], items: [item(0)] }), 'an empty name')
})
