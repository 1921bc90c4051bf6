/**
 * Plain records (store/plain-record.ts): which message records a link may
 * ship as the log holds them, and the receiver's re-framing of one, which
 * must decode to exactly the record the decoded path writes.
 */
import t from 'tap'
import { Encoder } from 'cbor-x'
import { MessageEncoder } from '../../store/message-encoder.js'
import { plainRecordOf, readPlain, type PlainFields } from '../../store/plain-record.js'
import { RecordKind, decodeRecord, encodeRecord } from '../../store/records.js'
import type { MessageProps } from '../../store/types.js'

const enc = new MessageEncoder()
const generic = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false })
const payload = Buffer.from('hello, plain')
const own = (props: MessageProps): Buffer => Buffer.from(enc.encode(3, 41, 1_700_000_000_123, payload, props))

const plainProps: MessageProps[] = [
  {},
  { priority: 0 },
  { priority: 9, key: 'k' },
  { key: 'k', orderingKey: 'o', deliverAt: 1.7e12 + 0.5, expiresAt: 1.8e12, userProperties: [['a', 'b'], ['ключ', 'значение'], ['a', 'again']] },
  { contentType: 'text/plain', payloadFormat: 1, responseTopic: 'r/t', correlationData: Buffer.from([1, 2, 3]), resultTopic: 'res', deadLetterReason: 'x'.repeat(300), qos: 1 }
]

t.test('plain record - a site\'s own records are plain, their fields read without a decode', async (t) => {
  for (const props of plainProps) {
    const body = own(props)
    const f = {} as PlainFields
    t.ok(readPlain(body, 0, body.length, f), JSON.stringify(props).slice(0, 60))
    t.equal(f.topicId, 3)
    t.equal(f.entryId, 41)
    t.equal(f.publishTime, 1_700_000_000_123)
    t.same(body.subarray(f.payloadAt, f.payloadEnd), payload, 'where the payload is')
    t.equal(f.priority, props.priority)
    t.equal(f.deliverAt, props.deliverAt)
  }
  // The generic encoder's records (older logs, records with meta written otherwise) read the same when plain.
  const g = encodeRecord({ kind: RecordKind.message, topicId: 3, entryId: 41, publishTime: 5, payload, props: { priority: 2, key: 'k' } })
  t.ok(plainRecordOf(g, 0, g.length), 'the generic encoder\'s record')
  // Inside a larger buffer (a log block, a batch): offsets, not a view.
  const inside = Buffer.concat([Buffer.alloc(17, 0xff), own({ priority: 7 }), Buffer.alloc(9, 0xff)])
  const r = plainRecordOf(inside, 17, inside.length - 9)
  t.equal(r?.priority, 7, 'read in place')
  t.same(r?.bytes(), own({ priority: 7 }))
})

t.test('plain record - anything with a route, an origin, producer ids, meta or an unknown shape is not plain', async (t) => {
  const notPlain: Array<[string, Buffer]> = [
    ['origin site', own({ originSite: 'a' })],
    ['origin entry id', own({ originEntryId: 1 })],
    ['route', own({ replicatedVia: ['a'] })],
    ['replicated lsn', own({ replicatedLsn: 5 })],
    ['producer id', own({ producerId: 'p' })],
    ['producer seq', own({ producerSeq: 1 })],
    ['meta with the message', encodeRecord({ kind: RecordKind.message, topicId: 3, entryId: 1, publishTime: 5, payload, props: {}, meta: [{ space: 's', key: 'k', value: 1 }] })],
    ['a cancel record', encodeRecord({ kind: RecordKind.cancel, topicId: 3, entryId: 1 })],
    ['a topic record', encodeRecord({ kind: RecordKind.topic, topicId: 3, name: 't' })],
    ['an unknown props key', generic.encode([RecordKind.message, 3, 1, 5, payload, { z: 1 }])],
    ['a long props key', generic.encode([RecordKind.message, 3, 1, 5, payload, { priority: 1 }])],
    ['priority 10', generic.encode([RecordKind.message, 3, 1, 5, payload, { p: 10 }])],
    ['priority 1.5', generic.encode([RecordKind.message, 3, 1, 5, payload, { p: 1.5 }])],
    ['priority text', generic.encode([RecordKind.message, 3, 1, 5, payload, { p: '1' }])],
    ['deliverAt text', generic.encode([RecordKind.message, 3, 1, 5, payload, { d: 'soon' }])],
    ['entry id negative', generic.encode([RecordKind.message, 3, -1, 5, payload, {}])],
    ['publish time text', generic.encode([RecordKind.message, 3, 1, 'now', payload])],
    ['payload as text', generic.encode([RecordKind.message, 3, 1, 5, 'text'])],
    ['props not a map', generic.encode([RecordKind.message, 3, 1, 5, payload, [1]])]
  ]
  for (const [why, body] of notPlain) t.equal(plainRecordOf(body, 0, body.length), undefined, why)
  const good = own({ priority: 3, userProperties: [['a', 'b']] })
  for (let cut = 0; cut < good.length; cut++) t.equal(plainRecordOf(good, 0, cut), undefined, `cut at ${cut}`)
  t.equal(plainRecordOf(Buffer.concat([good, Buffer.from([0])]), 0, good.length + 1), undefined, 'a byte after the record')
  t.equal(plainRecordOf(good, 0, good.length + 5), undefined, 'an end past the buffer')
})

t.test('plain record - re-framed at the receiver it decodes to what the decoded path writes', async (t) => {
  for (const props of plainProps) {
    const body = own(props)
    const r = plainRecordOf(body, 0, body.length)
    if (r === undefined) { t.fail('plain'); continue }
    const via = ['a']
    const framed = Buffer.from(enc.plain(12, 7, r, 'a', via, 2 ** 33 + 5))
    // The decoded path: the origin's props with what the receiver adds (replicator/receiver.ts replicatedProps).
    const decoded = Buffer.from(enc.encode(12, 7, 1_700_000_000_123, payload, { ...props, originSite: 'a', originEntryId: 41, replicatedVia: via, replicatedLsn: 2 ** 33 + 5 }))
    t.same(decodeRecord(framed), decodeRecord(decoded), JSON.stringify(props).slice(0, 60))
    const f = {} as PlainFields
    t.notOk(readPlain(framed, 0, framed.length, f), 'and is not plain itself (it carries its route)')
  }
})

t.test('plain record - a record cut short at the end of its buffer is refused, never a thrown RangeError', async (t) => {
  const good = own({ priority: 3, userProperties: [['a', 'b']], contentType: 'x'.repeat(30), deadLetterReason: 'y'.repeat(300) })
  for (let cut = 0; cut < good.length; cut++) {
    const alone = Buffer.from(good.subarray(0, cut)) // nothing after the cut: a read past it would throw
    t.equal(plainRecordOf(alone, 0, alone.length), undefined, `cut at ${cut}`)
  }
})

t.test('plain record - records re-framed for senders in turn carry each its own route', async (t) => {
  const body = own({ key: 'k' })
  const r = plainRecordOf(body, 0, body.length)
  if (r === undefined) { t.fail('plain'); return }
  const routes: Array<[string, string[]]> = [['a', ['a']], ['c', ['c']], ['a', ['a']], ['edge_1', ['edge_1', 'hub']], ['edge_1', ['edge_1']]]
  for (const [site, via] of routes) {
    const rec = decodeRecord(Buffer.from(enc.plain(1, 2, r, site, [...via], 99)))
    t.same(rec.kind === RecordKind.message ? [rec.props.originSite, rec.props.replicatedVia] : undefined, [site, via], `${site} via ${via.join(',')}`)
  }
})
