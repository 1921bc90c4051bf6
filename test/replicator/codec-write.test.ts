/**
 * Batches are written by hand (common/cbor-writer.ts via replicator/codec.ts):
 * a receiver must read exactly what the generic encoder's bytes said, for
 * every item kind and value shape, plain and compressed.
 */
import t from 'tap'
import { Encoder } from 'cbor-x'
import { batchOf, decodeBatch, decodeBatchHead, encodeBatch, encodeBatchCompressed, type Batch, type CancelItem, type WireItem } from '../../replicator/codec.js'

const generic = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false })

/** The batch as the generic encoder wrote it before (the reference). */
function genericBytes (b: Batch): Buffer {
  const items = b.items.map((it) => it.kind === 'message'
    ? ['m', it.lsn, it.topic, it.entryId, it.publishTime, it.payload, it.props]
    : it.kind === 'meta' ? ['d', it.lsn, it.space, it.key, it.value ?? null] : ['c', it.lsn, it.topic, (it as CancelItem).originSite, (it as CancelItem).originEntryId])
  return generic.encode({ v: 1, from: b.from, to: b.to, lane: b.lane, after: b.after, through: b.through, items })
}

const base = 2 ** 33 // lsns above 32 bits (segment ids in the high half)
const items: WireItem[] = [
  {
    kind: 'message', lsn: base + 10, topic: 'public/default/x', entryId: 7, publishTime: 1_700_000_000_123, payload: Buffer.from('hi'),
    props: { priority: 4, userProperties: [['a', 'b'], ['ключ', 'значение']], correlationData: Buffer.from([1, 2]), replicatedVia: ['c'], originSite: 'c', originEntryId: 3, deliverAt: 1.5e12 + 0.25, expiresAt: -5, contentType: 'x'.repeat(40) }
  },
  { kind: 'meta', lsn: base + 11, space: 'retained', key: 'public/default/x', value: { entryId: 5, nested: { a: [1, 'x'] }, buf: Buffer.from('z') } },
  { kind: 'meta', lsn: base + 12, space: 'retained', key: 'k2', value: undefined },
  { kind: 'cancel', lsn: base + 13, topic: 'public/default/x', originSite: 'a', originEntryId: 9 },
  { kind: 'message', lsn: base + 14, topic: 'ü/ns/a-topic-name-longer-than-twenty-four-chars', entryId: 0, publishTime: 5, payload: Buffer.alloc(300_000, 1), props: {} }
]

t.test('codec - a batch written by hand decodes like the generic encoding, plain and compressed', async (t) => {
  for (const n of [0, 1, items.length]) {
    const b: Batch = { from: 'a', to: 'b', lane: 2, after: base + 5, through: base + 900, items: items.slice(0, n) }
    const want = decodeBatch(genericBytes(b))
    t.same(decodeBatch(encodeBatch(b)), want, `${n} items, plain`)
    t.same(await batchOf(decodeBatchHead(await encodeBatchCompressed(b, 0))), want, `${n} items, compressed`)
  }
})
