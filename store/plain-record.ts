/**
 * Plain message records: the shape a replication link ships as the log holds
 * it, without a decode at the sender and a re-encode at the receiver.
 *
 * A record is plain when it is a message record of the usual shape (records.ts:
 * [2, topicId, entryId, publishTime, payload] or the same with a props map),
 * carries no meta, and its props map holds only one-letter keys of known
 * properties that say nothing about replication or producers: no origin
 * (O, E), no route (V, L), no producer ids (P, S). Every message published at
 * a site is plain in its own log (an origin's own entries are nearly all a
 * link ships); entries that came from elsewhere are not, and travel decoded.
 *
 * The receiver re-frames a plain record with its own topic id and entry id,
 * copies the publish time, the payload and the props pairs byte for byte, and
 * appends the origin's pairs (message-encoder.ts encodePlain): the record it
 * writes decodes to what the decoded path would have written.
 *
 * Profiled during a drain (session 15): a replicated message's decode at the
 * sender (its LogRecord, props object, payload view and item) and its encode
 * on the wire, then the receiver's decode into items and props objects and its
 * record encode, were about a fifth of each end's CPU and most of its garbage.
 *
 * The bytes come from the network at the receiver: every length is checked
 * against the end, and anything that is not plain is refused (undefined).
 */
import { cborItemEnd } from './cbor-skip.js'
import { RecordKind } from './records.js'

/** Props wire keys a plain record may hold (records.ts propKeys): all known ones but O, E, V, L, P, S. */
const PLAIN_KEYS = new Uint8Array(128)
for (const c of 'kopdxucfrCRDq') PLAIN_KEYS[c.charCodeAt(0)] = 1
const KEY_PRIORITY = 0x70 // 'p'
const KEY_DELIVER_AT = 0x64 // 'd'


/** Where the parts of a plain record are in its bytes, and the fields the store needs without a decode. */
export interface PlainFields {
  topicId: number
  entryId: number
  publishTime: number
  /** [publishAt, payloadEnd): the publish time and the payload (its head and bytes), copied as they are. */
  publishAt: number
  payloadAt: number
  payloadEnd: number
  /** Props pairs: how many, and their bytes [pairsAt, end). */
  pairs: number
  pairsAt: number
  end: number
  priority: number | undefined
  deliverAt: number | undefined
}

let at = 0

/** A CBOR unsigned int or float at buf[at] (advances); NaN when it is something else or runs past `end`. */
function num (buf: Buffer, end: number): number {
  if (at >= end) return NaN
  const b = buf[at] as number
  const ai = b & 31
  if (b >> 5 === 0) {
    if (ai < 24) { at += 1; return ai }
    const n = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0
    if (n === 0 || at + 1 + n > end) return NaN
    const p = at + 1
    at += 1 + n
    if (n === 1) return buf[p] as number
    if (n === 2) return buf.readUInt16BE(p)
    if (n === 4) return buf.readUInt32BE(p)
    const hi = buf.readUInt32BE(p)
    return hi >= 0x200000 ? NaN : hi * 0x100000000 + buf.readUInt32BE(p + 4)
  }
  if (b === 0xfb && at + 9 <= end) { at += 9; return buf.readDoubleBE(at - 8) }
  if (b === 0xfa && at + 5 <= end) { at += 5; return buf.readFloatBE(at - 4) }
  return NaN
}

/** The argument of a definite-length head at buf[at] of major type `major` (advances); -1 otherwise. */
function lengthOf (buf: Buffer, end: number, major: number): number {
  if (at >= end) return -1
  const b = buf[at] as number
  if (b >> 5 !== major) return -1
  const ai = b & 31
  if (ai < 24) { at += 1; return ai }
  if (ai === 24 && at + 2 <= end) { at += 2; return buf[at - 1] as number }
  if (ai === 25 && at + 3 <= end) { at += 3; return ((buf[at - 2] as number) << 8) | (buf[at - 1] as number) }
  if (ai === 26 && at + 5 <= end) { at += 5; return buf.readUInt32BE(at - 4) }
  return -1
}

/** Step over one CBOR item (cbor-skip.ts); false when it is not of the usual shape or runs past `end`. */
function skip (buf: Buffer, end: number): boolean {
  const e = cborItemEnd(buf, at, end)
  if (e < 0) return false
  at = e
  return true
}

/**
 * Read buf[start, end) as a plain record into `out`; false when it is not one
 * (not a message record of the usual shape, meta, a key that is not plain, a
 * priority outside 0..9, a deliverAt that is not a number, bytes past the end).
 */
export function readPlain (buf: Buffer, start: number, end: number, out: PlainFields): boolean {
  const head = buf[start]
  if (end > buf.length || (head !== 0x85 && head !== 0x86) || buf[start + 1] !== RecordKind.message || start + 2 > end) return false
  at = start + 2
  const topicId = num(buf, end)
  const entryId = num(buf, end)
  if (!Number.isInteger(topicId) || !Number.isInteger(entryId)) return false
  const publishAt = at
  const publishTime = num(buf, end)
  if (!Number.isFinite(publishTime)) return false
  const payloadBytes = lengthOf(buf, end, 2)
  if (payloadBytes < 0) return false
  const payloadAt = at
  at += payloadBytes
  if (at > end) return false
  const payloadEnd = at
  let pairs = 0
  let priority: number | undefined
  let deliverAt: number | undefined
  let pairsAt = at
  if (head === 0x86) {
    pairs = lengthOf(buf, end, 5)
    if (pairs < 0) return false
    pairsAt = at
    for (let i = 0; i < pairs; i++) {
      // One-letter text keys (records.ts propKeys), plain ones only.
      if (at + 2 > end || buf[at] !== 0x61) return false
      const key = buf[at + 1] as number
      if (key >= 128 || PLAIN_KEYS[key] !== 1) return false
      at += 2
      if (key === KEY_PRIORITY) {
        const p = num(buf, end)
        if (!Number.isInteger(p) || p < 0 || p > 9) return false
        priority = p
      } else if (key === KEY_DELIVER_AT) {
        const d = num(buf, end)
        if (Number.isNaN(d)) return false
        deliverAt = d
      } else if (!skip(buf, end)) return false
    }
  }
  if (at !== end) return false
  out.topicId = topicId
  out.entryId = entryId
  out.publishTime = publishTime
  out.publishAt = publishAt
  out.payloadAt = payloadAt
  out.payloadEnd = payloadEnd
  out.pairs = pairs
  out.pairsAt = pairsAt
  out.end = end
  out.priority = priority
  out.deliverAt = deliverAt
  return true
}

/**
 * A plain record received from another site (replicator/receiver.ts), checked
 * once: where its bytes are (src[start, end), a batch's bytes: no view per
 * record) and where their parts are. Only `plainRecordOf` makes one, so the
 * store can take its fields as read.
 */
export class PlainRecord implements PlainFields {
  topicId = 0
  entryId = 0
  publishTime = 0
  publishAt = 0
  payloadAt = 0
  payloadEnd = 0
  pairs = 0
  pairsAt = 0
  end = 0
  priority: number | undefined = undefined
  deliverAt: number | undefined = undefined
  private constructor (readonly src: Buffer, readonly start: number) {}

  static of (src: Buffer, start: number, end: number): PlainRecord | undefined {
    const r = new PlainRecord(src, start)
    return readPlain(src, start, end, r) ? r : undefined
  }

  /** The record's bytes (a view: for a decode). */
  bytes (): Buffer { return this.src.subarray(this.start, this.end) }
}

/** The record src[start, end) holds, checked plain (undefined: it is not one; the caller refuses it). */
export function plainRecordOf (src: Buffer, start: number, end: number): PlainRecord | undefined {
  return PlainRecord.of(src, start, end)
}
