/**
 * Batches are read by hand (replicator/batch-reader.ts via codec.ts): a
 * receiver must read exactly what cbor-x reads from the same bytes, whatever
 * encoder wrote them (Ferry's hand writer, cbor-x with its defaults), and
 * refuse malformed bytes with E_REPL_BAD_BATCH, never another error.
 */
import t from 'tap'
import { Encoder } from 'cbor-x'
import { isFerryError } from '../../common/errors.js'
import { decodeBatch, decodeBatchHead, encodeBatch } from '../../replicator/codec.js'
import { ReplCode } from '../../replicator/errors.js'

const generic = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false })
/** cbor-x with its own defaults (tags for typed arrays, float32 where exact). */
const defaults = new Encoder({ useRecords: false, mapsAsObjects: true, useFloat32: 1 })
const decoder = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false })

/** What the receiver read before the hand reader: cbor-x's decode of the whole batch (payloads as Buffers). */
function reference (bytes: Uint8Array): unknown {
  const d = decoder.decode(bytes) as { items: unknown[][] }
  return d.items.map((raw) => {
    if (raw[0] === 'm') {
      const [, lsn, topic, entryId, publishTime, payload, props] = raw
      return { kind: 'message', lsn, topic, entryId, publishTime, payload: Buffer.from(payload as Uint8Array), props }
    }
    if (raw[0] === 'd') return { kind: 'meta', lsn: raw[1], space: raw[2], key: raw[3], value: raw[4] === null ? undefined : raw[4] }
    return { kind: 'cancel', lsn: raw[1], topic: raw[2], originSite: raw[3], originEntryId: raw[4] }
  })
}

const PROPS: unknown[] = [
  {},
  { priority: 7, originSite: 'c', originEntryId: 3, replicatedVia: ['c', 'd'], replicatedLsn: 2 ** 40 + 3 },
  { userProperties: [['a', 'b'], ['ключ', 'значение'], ['a', 'b']], correlationData: Buffer.from([0, 1, 255]), contentType: 'x'.repeat(100) },
  { deliverAt: 1.5e12 + 0.25, expiresAt: -5, payloadFormat: 1, qos: 0, half: 0.5, tiny: 1e-300, neg: -(2 ** 31), big: 2 ** 31 + 5 },
  { orderingKey: 'ü€😀', key: '', flag: true, off: false, none: null },
  { __proto__x: 1, ['__proto__']: 2 },
  { nested: { a: [1, [2, [3, { b: 'c' }]]] } },
  { when: new Date(1_700_000_000_000), set: new Set([1, 2]), huge: 2n ** 60n, typed: new Uint16Array([1, 2, 3]) }
]

function batchBytes (enc: Encoder, props: unknown): Buffer {
  const items = [
    ['m', 1, 'ns/x/a-topic', 0, 1_700_000_000_123, Buffer.from('payload'), props],
    ['d', 2, 'retained', 'ns/x/a-topic', { entryId: 5, nested: { a: [1, 'x'] }, buf: Buffer.from('z'), f: 0.1 }],
    ['d', 3, 'retained', 'k2', null],
    ['m', 4, 'ns/x/a-topic', 1, 5, Buffer.alloc(3000, 7), props],
    ['c', 5, 'ns/x/a-topic', 'a', 9]
  ]
  return enc.encode({ v: 1, from: 'a', to: 'b', lane: 2, after: 0, through: 9, items })
}

t.test('codec read - every value reads as cbor-x reads it, from either encoder', async (t) => {
  for (const [name, enc] of [['tagUint8Array off', generic], ['cbor-x defaults', defaults]] as const) {
    for (const props of PROPS) {
      const bytes = batchBytes(enc, props)
      t.same(decodeBatch(bytes).items, reference(bytes), `${name}: ${Object.keys(props as object).join(',') || 'no props'}`)
    }
  }
})

t.test('codec read - header fields in another order, before or after the items, and unknown fields', async (t) => {
  const items = [['m', 1, 'ns/x/t', 0, 1, Buffer.from('p'), {}]]
  for (const doc of [
    { items, through: 1, after: 0, lane: 2, to: 'b', from: 'a', v: 1 },
    { v: 1, items, from: 'a', extra: [1, { z: 2 }], to: 'b', after: 0, through: 1 },
    { v: 1, from: 'a', to: 'b', after: 0, through: 1, items, later: 'x' }
  ]) {
    const b = decodeBatch(generic.encode(doc))
    t.same({ from: b.from, to: b.to, lane: b.lane, after: b.after, through: b.through, n: b.items.length }, { from: 'a', to: 'b', lane: 2, after: 0, through: 1, n: 1 })
  }
})

t.test('codec read - a topic repeated item after item is one string; payloads are the batch\'s own bytes', async (t) => {
  const data = new Uint8Array(batchBytes(generic, {}))
  const b = decodeBatch(data)
  const [m1, , , m2] = b.items
  t.ok(m1?.kind === 'message' && m2?.kind === 'message' && m1.topic === m2.topic)
  if (m1?.kind !== 'message') return
  t.ok(Buffer.isBuffer(m1.payload), 'a Buffer')
  t.not(m1.payload.buffer, data.buffer, 'not a view of the network bytes')
  data.fill(0)
  t.equal(m1.payload.toString(), 'payload', 'unchanged when they change')
})

t.test('codec read - a repeated topic is reused only when its bytes spell it', async (t) => {
  // 'é' is one UTF-16 unit; the lone byte 0xe9 is not UTF-8 for it (it reads as U+FFFD, as cbor-x reads it).
  const items = [['m', 1, 'é', 0, 1, Buffer.from('p'), {}], ['m', 2, 'x', 1, 1, Buffer.from('p'), {}]]
  const bytes = generic.encode({ v: 1, from: 'a', to: 'b', lane: 2, after: 0, through: 2, items })
  const at = bytes.indexOf(Buffer.from([0x61, 0x78])) // the second topic, 'x' (one byte head 0x61)
  bytes[at + 1] = 0xe9
  t.same(decodeBatch(bytes).items.map((it) => it.kind === 'message' ? it.topic : ''), (reference(bytes) as Array<{ topic: string }>).map((it) => it.topic))
})

t.test('codec read - malformed bytes are refused with E_REPL_BAD_BATCH, never another error', async (t) => {
  const good = encodeBatch(decodeBatch(batchBytes(generic, PROPS[2])))
  const refusedWith = (bytes: Uint8Array): string => {
    try {
      decodeBatch(bytes)
      return 'decoded'
    } catch (err) {
      return isFerryError(err) && err.code === ReplCode.BAD_BATCH ? 'bad' : `other: ${String(err)}`
    }
  }
  const others: string[] = []
  // Cut at every byte: never read past the end.
  for (let n = 0; n < good.length; n += 1) {
    const r = refusedWith(good.subarray(0, n))
    if (r.startsWith('other')) others.push(`cut at ${n}: ${r}`)
  }
  // Every byte flipped in turn: decoded (a change the format allows) or refused.
  for (let i = 0; i < good.length; i++) {
    for (const x of [0xff, 0x1b, 0x9f, 0x5f, 0xc1]) {
      const bytes = Buffer.from(good)
      bytes[i] = x
      const r = refusedWith(bytes)
      if (r.startsWith('other')) others.push(`byte ${i} = ${x}: ${r}`)
    }
  }
  t.same(others, [], 'only E_REPL_BAD_BATCH')
  t.equal(refusedWith(generic.encode({ v: 1, from: 'a', to: 'b', after: 0, through: 1, items: [['m', 1, 'ns/x/t', 0, 1, Buffer.from('p'), {}], 7] })), 'bad', 'an item that is not an array')
  t.equal(refusedWith(generic.encode({ v: 1, from: 'a', to: 'b', after: 0, through: 1, items: [['m', 1, 'ns/x/t', 0, 1, Buffer.from('p'), {}], ['m', 1, 'ns/x/t', 1, 1, Buffer.from('p'), {}]] })), 'bad', 'lsns that do not increase')
  t.equal(refusedWith(generic.encode({ v: 1, from: 'a', to: 'b', after: 0, through: 1, items: [['m', 1, 'ns/x/t', 0, 1, Buffer.from('p'), {}]] }).subarray(1)), 'bad', 'not a map')
  let deep: unknown = 1
  for (let i = 0; i < 200; i++) deep = [deep]
  t.equal(refusedWith(generic.encode({ v: 1, from: 'a', to: 'b', after: 0, through: 1, items: [['m', 1, 'ns/x/t', 0, 1, Buffer.from('p'), { deep }]] })), 'bad', 'values nested past the bound')
  t.equal(decodeBatchHead(good).from, 'a', 'the good batch reads')
})
