import t from 'tap'
import { FRAME_HEADER_BYTES, FrameStatus, checkFrame, frameChecksum, writeFrameHeader } from '../../store/framing.js'
import { RecordKind, decodeRecord, encodeRecord, peekKindAndTopic, type LogRecord } from '../../store/records.js'
import { checkSegmentHeader, encodeSegmentHeader, lsnOf, offsetOfLsn, segmentOfLsn } from '../../store/segment.js'

function frame (payload: Buffer, seg: number, off: number): Buffer {
  const b = Buffer.alloc(FRAME_HEADER_BYTES + payload.length)
  writeFrameHeader(b, 0, payload.length, frameChecksum(seg, off, payload))
  payload.copy(b, FRAME_HEADER_BYTES)
  return b
}

t.test('store - framing - a frame checks at its own position only', async (t) => {
  const f = frame(Buffer.from('hello world'), 3, 100)
  t.equal(checkFrame(f, 0, 3, 100, 1024).status, FrameStatus.ok)
  t.equal(checkFrame(f, 0, 3, 104, 1024).status, FrameStatus.badChecksum, 'misdirected (offset)')
  t.equal(checkFrame(f, 0, 4, 100, 1024).status, FrameStatus.badChecksum, 'misdirected (segment)')
})

t.test('store - framing - every single bit flip is detected', async (t) => {
  const f = frame(Buffer.from('the quick brown fox'), 1, 32)
  let detected = 0
  for (let byte = 0; byte < f.length; byte++) {
    for (let bit = 0; bit < 8; bit++) {
      const g = Buffer.from(f)
      g[byte] = (g[byte] as number) ^ (1 << bit)
      if (checkFrame(g, 0, 1, 32, 1024).status !== FrameStatus.ok) detected++
    }
  }
  t.equal(detected, f.length * 8)
})

t.test('store - framing - torn and garbage frames', async (t) => {
  const f = frame(Buffer.from('payload bytes'), 1, 32)
  for (let cut = 0; cut < f.length; cut++) t.equal(checkFrame(f.subarray(0, cut), 0, 1, 32, 1024).status, FrameStatus.short, `cut at ${cut}`)
  t.equal(checkFrame(Buffer.alloc(16), 0, 1, 32, 1024).status, FrameStatus.badLength, 'zeros')
  const huge = Buffer.from(f); huge.writeUInt32LE(5000, 0)
  t.equal(checkFrame(huge, 0, 1, 32, 1024).status, FrameStatus.badLength, 'length beyond the limit')
})

t.test('store - framing - segment header and lsn arithmetic', async (t) => {
  const h = encodeSegmentHeader(7)
  t.ok(checkSegmentHeader(h, 7))
  t.notOk(checkSegmentHeader(h, 8), 'wrong id')
  const g = Buffer.from(h); g[20] = 1
  t.notOk(checkSegmentHeader(g, 7), 'damaged')
  const lsn = lsnOf(12345, 4_000_000_000)
  t.equal(segmentOfLsn(lsn), 12345)
  t.equal(offsetOfLsn(lsn), 4_000_000_000)
})

t.test('store - records - every kind round-trips', async (t) => {
  const recs: LogRecord[] = [
    { kind: RecordKind.topic, topicId: 1, name: 'public/default//a' },
    { kind: RecordKind.message, topicId: 1, entryId: 5, publishTime: 1.7e12, payload: Buffer.from('p'), props: {} },
    { kind: RecordKind.message, topicId: 1, entryId: 6, publishTime: 1.7e12, payload: Buffer.alloc(0), props: { key: 'k', userProperties: [['a', 'b']], priority: 0 } },
    { kind: RecordKind.cursorCreate, topicId: 1, sub: 's', markDelete: -1 },
    { kind: RecordKind.cursorDelete, topicId: 1, sub: 's' },
    { kind: RecordKind.ack, topicId: 1, sub: 's', ids: [1, 5, 9] },
    { kind: RecordKind.ackCumulative, topicId: 1, sub: 's', upTo: 4 },
    { kind: RecordKind.deliveries, topicId: 1, sub: 's', ids: [2] },
    { kind: RecordKind.metaPut, space: 'x', key: 'y', value: { a: [1, 'b', null, true] } },
    { kind: RecordKind.metaDelete, space: 'x', key: 'y' },
    { kind: RecordKind.cancel, topicId: 1, entryId: 3 },
    { kind: RecordKind.checkpoint, replayFromLsn: 2 ** 40 },
    { kind: RecordKind.pad, fill: Buffer.alloc(10) }
  ]
  for (const r of recs) t.same(decodeRecord(encodeRecord(r)), r, `kind ${r.kind}`)
  t.throws(() => decodeRecord(Buffer.from([0x82, 0x18, 99, 0])), 'unknown kind')
})

t.test('store - records - an idle message record is small', async (t) => {
  const b = encodeRecord({ kind: RecordKind.message, topicId: 1000, entryId: 0, publishTime: Date.now(), payload: Buffer.alloc(0), props: {} })
  t.ok(b.length <= 20, `${b.length} bytes of overhead`)
})

t.test('store - records - the replay fast path reads what the decoder reads', async (t) => {
  const { peekMessage } = await import('../../store/records.js')
  const cases: LogRecord[] = [
    { kind: RecordKind.message, topicId: 1, entryId: 0, publishTime: 1234, payload: Buffer.from('a'), props: {} },
    { kind: RecordKind.message, topicId: 70000, entryId: 2 ** 33, publishTime: Date.now(), payload: Buffer.alloc(70000, 1), props: { key: 'k', deliverAt: 5, producerId: 'p', producerSeq: 9 } },
    { kind: RecordKind.message, topicId: 300, entryId: 255, publishTime: 1.5, payload: Buffer.alloc(300), props: { userProperties: [['a', 'b']] } }
  ]
  for (const r of cases) {
    const b = encodeRecord(r)
    const full = decodeRecord(b) as Extract<LogRecord, { kind: 2 }>
    const fast = peekMessage(b, 0, b.length) as Extract<LogRecord, { kind: 2 }>
    t.same({ ...fast, payload: full.payload }, full)
    t.equal(fast.payload.length, 0, 'payload skipped')
  }
  t.equal(peekMessage(encodeRecord({ kind: RecordKind.cancel, topicId: 1, entryId: 2 }), 0, 4), undefined, 'other kinds fall back')
})

t.test('store - records - the kind and topic peek (log tail skip) agrees with a full decode', async (t) => {
  const recs: LogRecord[] = [
    { kind: RecordKind.topic, topicId: 1, name: 'public/default//a' },
    { kind: RecordKind.message, topicId: 7, entryId: 5, publishTime: 1.7e12, payload: Buffer.from('p'), props: {} },
    { kind: RecordKind.message, topicId: 300, entryId: 6, publishTime: 1.7e12, payload: Buffer.alloc(0), props: { key: 'k', priority: 9 }, meta: [{ space: 's', key: 'k', value: 1 }] },
    { kind: RecordKind.message, topicId: 70_000, entryId: 1, publishTime: 1, payload: Buffer.alloc(3), props: {} },
    { kind: RecordKind.message, topicId: 2 ** 33, entryId: 1, publishTime: 1, payload: Buffer.alloc(3), props: {} },
    { kind: RecordKind.cancel, topicId: 23, entryId: 3 },
    { kind: RecordKind.cancel, topicId: 24, entryId: 3 },
    { kind: RecordKind.ack, topicId: 1, sub: 's', ids: [1, 5, 9] },
    { kind: RecordKind.metaPut, space: 'x', key: 'y', value: { a: 1 } },
    { kind: RecordKind.metaDelete, space: 'x', key: 'y' },
    { kind: RecordKind.checkpoint, replayFromLsn: 2 ** 40 },
    { kind: RecordKind.pad, fill: Buffer.alloc(10) }
  ]
  for (const r of recs) {
    const body = encodeRecord(r)
    const framed = Buffer.concat([Buffer.alloc(3), body])
    const p = peekKindAndTopic(framed, 3)
    t.ok(p !== undefined, `kind ${r.kind} peeked`)
    t.equal(p?.kind, r.kind, `kind ${r.kind}`)
    const topicId = r.kind === RecordKind.message || r.kind === RecordKind.cancel ? r.topicId : -1
    t.equal(p?.topicId, topicId, `topic id of kind ${r.kind}`)
  }
  t.equal(peekKindAndTopic(Buffer.from([0xa1, 0x01, 0x02]), 0), undefined, 'not an array: decode it instead')
})
