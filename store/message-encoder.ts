/**
 * A message record's CBOR written straight into a shared chunk, for the
 * replicated append path (ledger-replicated.ts): the same record that
 * `encodeRecord` writes (records.ts: [kind, topicId, entryId, publishTime,
 * payload, props] with one-letter prop keys), without building the wire
 * array and props object and without a buffer per record. The bytes are not
 * always cbor-x's, but they decode to the same values with decodeRecord, and
 * they keep the shape the log tail peeks at (peekMessage, peekViaIncludes: a
 * 5- or 6-item array, a props map of one-letter text keys, `replicatedVia` an
 * array of text strings).
 *
 * Profiled at the receiving site (session 5): the generic encode of the
 * record (cbor-x plus propsToWire) was ~14% of its CPU during a drain, and
 * one buffer per record a good part of the GC (~24%).
 *
 * Bodies are views of a chunk (common/cbor-writer.ts); a chunk lives until
 * the log writer has copied every record of it into its write buffer.
 */
import { CborMajor, CborWriter } from '../common/cbor-writer.js'
import { encodeValue, propWireKeyOf, RecordKind } from './records.js'
import type { MessageProps } from './types.js'

/** Bytes of a record besides its payload and props: array head, kind, three numbers, the payload's head. */
const RECORD_HEAD_BYTES_MAX = 1 + 1 + 9 + 9 + 9 + 5

export class MessageEncoder {
  private readonly w = new CborWriter(encodeValue)

  /** The body of a message record (no meta), a view of the current chunk. */
  encode (topicId: number, entryId: number, publishTime: number, payload: Buffer, props: MessageProps): Buffer {
    const w = this.w
    w.begin(RECORD_HEAD_BYTES_MAX + payload.length)
    const pairs = countPairs(props)
    w.byte(pairs === 0 ? 0x85 : 0x86)
    w.byte(RecordKind.message)
    w.number(topicId)
    w.number(entryId)
    w.number(publishTime)
    w.bytes(payload)
    if (pairs > 0) {
      w.head(CborMajor.map, pairs)
      for (const long in props) {
        const v = props[long as keyof MessageProps]
        const key = propWireKeyOf(long)
        if (v === undefined || key === undefined) continue
        w.byte(0x61) // a one-letter text string
        w.byte(key)
        w.value(v)
      }
    }
    return w.end()
  }
}

function countPairs (props: MessageProps): number {
  let n = 0
  for (const long in props) if (props[long as keyof MessageProps] !== undefined && propWireKeyOf(long) !== undefined) n++
  return n
}
