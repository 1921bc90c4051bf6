/**
 * Logical log records and their CBOR encoding.
 *
 * Every record is a CBOR array whose first item is its kind, so new kinds
 * (transactions: 20..29 are reserved) can join the log without breaking old
 * readers of the other kinds. Topics are named once by a `topic` record and
 * referred to by a small integer id afterwards, so a message record does not
 * repeat a long topic name. Message properties use one-letter keys and are
 * omitted entirely when empty.
 */
import { Encoder } from 'cbor-x'
import { cborItemEnd } from './cbor-skip.js'
import type { MessageProps, MetaPut, MetaValue } from './types.js'

export const RecordKind = {
  pad: 0,
  topic: 1,
  message: 2,
  cursorCreate: 3,
  cursorDelete: 4,
  ack: 5,
  ackCumulative: 6,
  deliveries: 7,
  metaPut: 8,
  metaDelete: 9,
  cancel: 10,
  checkpoint: 11,
  /** A hand-out batch: the cursor's handed-out watermark (delivery-counts.ts); replaces `deliveries` for new logs. */
  handedOut: 12
  // 20..29 reserved for transaction records (begin, commit, abort).
} as const
export type RecordKind = typeof RecordKind[keyof typeof RecordKind]

export type LogRecord =
  | { kind: typeof RecordKind.pad, fill: Buffer }
  | { kind: typeof RecordKind.topic, topicId: number, name: string }
  /** `meta`: metadata puts applied with the message (one record: both or neither survive a crash). */
  | { kind: typeof RecordKind.message, topicId: number, entryId: number, publishTime: number, payload: Buffer, props: MessageProps, meta?: readonly MetaPut[] }
  | { kind: typeof RecordKind.cursorCreate, topicId: number, sub: string, markDelete: number }
  | { kind: typeof RecordKind.cursorDelete, topicId: number, sub: string }
  | { kind: typeof RecordKind.ack, topicId: number, sub: string, ids: readonly number[] }
  | { kind: typeof RecordKind.ackCumulative, topicId: number, sub: string, upTo: number }
  /** Older logs only (one count per listed id); new hand-outs are `handedOut` records. */
  | { kind: typeof RecordKind.deliveries, topicId: number, sub: string, ids: readonly number[] }
  | { kind: typeof RecordKind.handedOut, topicId: number, sub: string, upTo: number, again: readonly number[], skipped: readonly number[] }
  | { kind: typeof RecordKind.metaPut, space: string, key: string, value: MetaValue }
  | { kind: typeof RecordKind.metaDelete, space: string, key: string }
  | { kind: typeof RecordKind.cancel, topicId: number, entryId: number }
  | { kind: typeof RecordKind.checkpoint, replayFromLsn: number }

const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false })

/** Long property names mapped to one-letter wire keys. Never reuse a letter. */
const propKeys: ReadonlyArray<readonly [keyof MessageProps, string]> = [
  ['key', 'k'], ['orderingKey', 'o'], ['priority', 'p'], ['deliverAt', 'd'], ['expiresAt', 'x'],
  ['userProperties', 'u'], ['producerId', 'P'], ['producerSeq', 'S'], ['originSite', 'O'],
  ['originEntryId', 'E'], ['contentType', 'c'], ['payloadFormat', 'f'], ['responseTopic', 'r'],
  ['correlationData', 'C'], ['resultTopic', 'R'], ['deadLetterReason', 'D'], ['qos', 'q'],
  // Geo-replication (store/origin-marks.ts).
  ['replicatedVia', 'V'], ['replicatedLsn', 'L']
]
/** Known props (message-encoder.ts relies on fewer than 24). */
export const PROP_KEYS_COUNT = propKeys.length
const propByWire = new Map(propKeys.map(([long, wire]) => [wire, long]))
const wireByProp: Record<string, string> = Object.fromEntries(propKeys)
/** A Map: a lookup by a key that varies is a hash probe, where an object's keyed lookup went megamorphic. */
const wireCodeByProp = new Map<string, number>(propKeys.map(([long, wire]) => [long, wire.charCodeAt(0)]))

/** The wire key of a property as its one character code (message-encoder.ts), undefined for an unknown property. */
export function propWireKeyOf (long: string): number | undefined {
  return wireCodeByProp.get(long)
}

function propsToWire (props: MessageProps): Record<string, unknown> | undefined {
  let wire: Record<string, unknown> | undefined
  for (const long in props) {
    const v = props[long as keyof MessageProps]
    const short = wireByProp[long]
    if (v !== undefined && short !== undefined) {
      wire ??= {}
      wire[short] = v
    }
  }
  return wire
}

function propsFromWire (wire: Record<string, unknown> | undefined): MessageProps {
  const props: Record<string, unknown> = {}
  if (wire === undefined || wire === null) return props
  for (const short of Object.keys(wire)) {
    const long = propByWire.get(short)
    if (long !== undefined) props[long] = wire[short]
  }
  return props as MessageProps
}

type WireMetaPut = [space: string, key: string, value?: MetaValue]

function metaToWire (meta: readonly MetaPut[]): WireMetaPut[] {
  return meta.map((m) => m.value === undefined ? [m.space, m.key] : [m.space, m.key, m.value])
}

function metaFromWire (w: unknown): MetaPut[] {
  if (!Array.isArray(w)) throw new Error('message meta is not an array')
  return (w as WireMetaPut[]).map((m) => ({ space: m[0], key: m[1], value: m.length > 2 ? m[2] : undefined }))
}

export function encodeRecord (r: LogRecord): Buffer {
  switch (r.kind) {
    case RecordKind.pad: return encoder.encode([r.kind, r.fill])
    case RecordKind.topic: return encoder.encode([r.kind, r.topicId, r.name])
    case RecordKind.message: {
      const wire = propsToWire(r.props)
      if (r.meta !== undefined && r.meta.length > 0) {
        // Seven items: props (null when empty), then [space, key, value] puts ([space, key] deletes).
        return encoder.encode([r.kind, r.topicId, r.entryId, r.publishTime, r.payload, wire ?? null, metaToWire(r.meta)])
      }
      return encoder.encode(wire === undefined
        ? [r.kind, r.topicId, r.entryId, r.publishTime, r.payload]
        : [r.kind, r.topicId, r.entryId, r.publishTime, r.payload, wire])
    }
    case RecordKind.cursorCreate: return encoder.encode([r.kind, r.topicId, r.sub, r.markDelete])
    case RecordKind.cursorDelete: return encoder.encode([r.kind, r.topicId, r.sub])
    case RecordKind.ack: return encoder.encode([r.kind, r.topicId, r.sub, r.ids])
    case RecordKind.ackCumulative: return encoder.encode([r.kind, r.topicId, r.sub, r.upTo])
    case RecordKind.deliveries: return encoder.encode([r.kind, r.topicId, r.sub, r.ids])
    case RecordKind.metaPut: return encoder.encode([r.kind, r.space, r.key, r.value])
    case RecordKind.metaDelete: return encoder.encode([r.kind, r.space, r.key])
    case RecordKind.cancel: return encoder.encode([r.kind, r.topicId, r.entryId])
    case RecordKind.checkpoint: return encoder.encode([r.kind, r.replayFromLsn])
    case RecordKind.handedOut: return encoder.encode([r.kind, r.topicId, r.sub, r.upTo, r.again, r.skipped])
  }
}

/** Decode one record. Throws on malformed CBOR or an unknown kind (the caller treats that as corruption). */
export function decodeRecord (buf: Buffer): LogRecord {
  const a = encoder.decode(buf) as unknown[]
  if (!Array.isArray(a)) throw new Error('record is not an array')
  const kind = a[0] as number
  switch (kind) {
    case RecordKind.pad: return { kind, fill: a[1] as Buffer }
    case RecordKind.topic: return { kind, topicId: a[1] as number, name: a[2] as string }
    case RecordKind.message: {
      const rec: LogRecord = {
        kind,
        topicId: a[1] as number,
        entryId: a[2] as number,
        publishTime: a[3] as number,
        payload: a[4] as Buffer,
        props: propsFromWire(a[5] as Record<string, unknown> | undefined)
      }
      if (a.length > 6) rec.meta = metaFromWire(a[6])
      return rec
    }
    case RecordKind.cursorCreate: return { kind, topicId: a[1] as number, sub: a[2] as string, markDelete: a[3] as number }
    case RecordKind.cursorDelete: return { kind, topicId: a[1] as number, sub: a[2] as string }
    case RecordKind.ack: return { kind, topicId: a[1] as number, sub: a[2] as string, ids: a[3] as number[] }
    case RecordKind.ackCumulative: return { kind, topicId: a[1] as number, sub: a[2] as string, upTo: a[3] as number }
    case RecordKind.deliveries: return { kind, topicId: a[1] as number, sub: a[2] as string, ids: a[3] as number[] }
    case RecordKind.metaPut: return { kind, space: a[1] as string, key: a[2] as string, value: a[3] as MetaValue }
    case RecordKind.metaDelete: return { kind, space: a[1] as string, key: a[2] as string }
    case RecordKind.cancel: return { kind, topicId: a[1] as number, entryId: a[2] as number }
    case RecordKind.checkpoint: return { kind, replayFromLsn: a[1] as number }
    case RecordKind.handedOut: return { kind, topicId: a[1] as number, sub: a[2] as string, upTo: a[3] as number, again: a[4] as number[], skipped: a[5] as number[] }
    default: throw new Error(`unknown record kind ${String(kind)}`)
  }
}

/** CBOR encode any snapshot value (checkpoints). */
export function encodeValue (v: unknown): Buffer {
  return encoder.encode(v)
}

export function decodeValue (b: Buffer): unknown {
  return encoder.decode(b)
}

/** Rough encoded size of a message, for memory topics that are never encoded. */
export function estimateMessageBytes (payload: Buffer, props: MessageProps, meta?: readonly MetaPut[]): number {
  let n = 32 + payload.length
  if (meta !== undefined && meta.length > 0) n += encoder.encode(metaToWire(meta)).length
  // Only the properties the message has (usually two or three of the ~20 known ones): on every append.
  for (const long in props) {
    if (wireByProp[long] === undefined) continue
    const v = props[long as keyof MessageProps]
    if (typeof v === 'string') n += 4 + Buffer.byteLength(v)
    else if (Buffer.isBuffer(v)) n += 4 + v.length
    // userProperties are pairs; replicatedVia is a list of site ids.
    else if (Array.isArray(v)) for (const x of v as ReadonlyArray<string | readonly [string, string]>) n += typeof x === 'string' ? 4 + Buffer.byteLength(x) : 6 + Buffer.byteLength(x[0]) + Buffer.byteLength(x[1])
    else if (v !== undefined) n += 10
  }
  return n
}

// ---- replay fast path ----------------------------------------------------------

const EMPTY = Buffer.alloc(0)
let peekAt = 0

/** A CBOR unsigned integer or float at buf[peekAt]; NaN when it is something else. */
function peekNumber (buf: Buffer): number {
  const b = buf[peekAt] as number
  const major = b >> 5
  const ai = b & 31
  if (major === 0) {
    if (ai < 24) { peekAt += 1; return ai }
    if (ai === 24) { peekAt += 2; return buf[peekAt - 1] as number }
    if (ai === 25) { peekAt += 3; return buf.readUInt16BE(peekAt - 2) }
    if (ai === 26) { peekAt += 5; return buf.readUInt32BE(peekAt - 4) }
    if (ai === 27) { peekAt += 9; return buf.readUInt32BE(peekAt - 8) * 2 ** 32 + buf.readUInt32BE(peekAt - 4) }
    return NaN
  }
  if (b === 0xfb) { peekAt += 9; return buf.readDoubleBE(peekAt - 8) }
  if (b === 0xfa) { peekAt += 5; return buf.readFloatBE(peekAt - 4) }
  return NaN
}

/** Length of a CBOR byte string header at buf[peekAt] (advances past the header); NaN otherwise. */
function peekBytesLength (buf: Buffer): number {
  const b = buf[peekAt] as number
  if (b >> 5 !== 2) return NaN
  const ai = b & 31
  if (ai < 24) { peekAt += 1; return ai }
  if (ai === 24) { peekAt += 2; return buf[peekAt - 1] as number }
  if (ai === 25) { peekAt += 3; return buf.readUInt16BE(peekAt - 2) }
  if (ai === 26) { peekAt += 5; return buf.readUInt32BE(peekAt - 4) }
  return NaN
}

/**
 * A record's kind and, for message and cancel records, its topic id, read from
 * the first bytes of its CBOR array without decoding it: the log tail skips
 * records its reader does not want (a replication lane reading meta records
 * only, a namespace filter) at this cost instead of a full decode.
 * Undefined when the bytes are not of the usual shape (decode them instead).
 */
export function peekKindAndTopic (buf: Buffer, start: number): { kind: number, topicId: number } | undefined {
  const head = buf[start] as number
  if (head < 0x82 || head > 0x97) return undefined
  const kind = buf[start + 1] as number
  if (kind >= 24) return undefined
  if (kind !== RecordKind.message && kind !== RecordKind.cancel) return { kind, topicId: -1 }
  peekAt = start + 2
  const topicId = peekNumber(buf)
  return Number.isInteger(topicId) ? { kind, topicId } : undefined
}

/**
 * The log tail (replication) needs a whole message record: read it straight
 * from the CBOR like peekMessage, with the payload as a view of buf (no copy,
 * as the CBOR decoder would give it); only the props map, when there is one,
 * goes through the decoder. Undefined when buf[start] is not a message record
 * of the usual shape (decode it with decodeRecord instead).
 */
export function peekMessageWithPayload (buf: Buffer, start: number, end: number): LogRecord | undefined {
  return peekMessageRecord(buf, start, end, true)
}

/** A message record of the usual shape read from its CBOR; the payload a view of buf, or EMPTY when not wanted. */
function peekMessageRecord (buf: Buffer, start: number, end: number, withPayload: boolean): LogRecord | undefined {
  const head = buf[start]
  if ((head !== 0x85 && head !== 0x86) || buf[start + 1] !== RecordKind.message) return undefined
  peekAt = start + 2
  const topicId = peekNumber(buf)
  const entryId = peekNumber(buf)
  const publishTime = peekNumber(buf)
  const payloadBytes = peekBytesLength(buf)
  if (Number.isNaN(topicId) || Number.isNaN(entryId) || Number.isNaN(publishTime) || Number.isNaN(payloadBytes)) return undefined
  const payloadAt = peekAt
  peekAt += payloadBytes
  if (peekAt > end) return undefined
  let props: MessageProps = {}
  if (head === 0x86) props = propsFromWire(encoder.decode(buf.subarray(peekAt, end)) as Record<string, unknown>)
  else if (peekAt !== end) return undefined
  const payload = withPayload ? buf.subarray(payloadAt, payloadAt + payloadBytes) : EMPTY
  return { kind: RecordKind.message, topicId, entryId, publishTime, payload, props }
}

/** Skip one CBOR item at buf[peekAt] (cbor-skip.ts); false when it is not of that shape or runs past `end`. */
function peekSkip (buf: Buffer, end: number): boolean {
  const e = cborItemEnd(buf, peekAt, end)
  if (e < 0) return false
  peekAt = e
  return true
}

/**
 * Whether a message record's `replicatedVia` names `site` (utf8 bytes), read
 * from the CBOR without decoding it: a replication link skips the entries that
 * came through its destination (they never go back: loop prevention) at this
 * cost instead of a decode. Undefined when the bytes are not of the usual
 * shape (decode the record instead).
 */
export function peekViaIncludes (buf: Buffer, start: number, end: number, site: Buffer): boolean | undefined {
  return peekRoute(buf, start, end, site)?.via
}

/** What a replication lane asks of a message record before decoding it (peekRoute; one object, overwritten by each call). */
export interface PeekedRoute {
  /** Its replicatedVia names the site asked about. */
  via: boolean
  /** Its priority (undefined: none set). */
  priority: number | undefined
}

const peeked: PeekedRoute = { via: false, priority: undefined }

/**
 * A message record's route as a replication lane needs it, read from the
 * CBOR without decoding it: whether its `replicatedVia` names `site` (utf8
 * bytes; loop prevention) and its priority (which lane ships it). A lane
 * that ships few of the records it passes (the high lane over a backlog of
 * normal ones) skips the others at this cost instead of a decode. Undefined
 * when the bytes are not of the usual shape (decode the record instead). The
 * object returned is reused by the next call.
 */
export function peekRoute (buf: Buffer, start: number, end: number, site: Buffer | undefined): PeekedRoute | undefined {
  // Reads stop at `end`, but a header may claim bytes past buf's end: a RangeError means "not the usual shape".
  try { return peekRouteOf(buf, start, end, site) } catch { return undefined }
}

function peekRouteOf (buf: Buffer, start: number, end: number, site: Buffer | undefined): PeekedRoute | undefined {
  const head = buf[start]
  if ((head !== 0x85 && head !== 0x86) || buf[start + 1] !== RecordKind.message) return undefined
  peeked.via = false
  peeked.priority = undefined
  if (head === 0x85) return peeked // no props
  peekAt = start + 2
  if (Number.isNaN(peekNumber(buf)) || Number.isNaN(peekNumber(buf)) || Number.isNaN(peekNumber(buf))) return undefined
  const payloadBytes = peekBytesLength(buf)
  if (Number.isNaN(payloadBytes)) return undefined
  peekAt += payloadBytes
  // The props map (cbor-x writes objects with a 16-bit length).
  const m = buf[peekAt] as number
  if (peekAt >= end || m >> 5 !== 5) return undefined
  const ai = m & 31
  let pairs: number
  if (ai < 24) { pairs = ai; peekAt += 1 } else if (ai === 24) { pairs = buf[peekAt + 1] as number; peekAt += 2 } else if (ai === 25) { pairs = buf.readUInt16BE(peekAt + 1); peekAt += 3 } else return undefined
  if (peekAt > end) return undefined
  for (let i = 0; i < pairs; i++) {
    // Keys are one-letter text strings (propKeys); 'V' is replicatedVia, an array of site ids; 'p' the priority.
    if (buf[peekAt] !== 0x61 || peekAt + 2 > end) return undefined
    const key = buf[peekAt + 1]
    peekAt += 2
    if (key === 0x70) {
      const p = peekNumber(buf)
      if (Number.isNaN(p) || peekAt > end) return undefined
      peeked.priority = p
      continue
    }
    if (key !== 0x56 || site === undefined) { if (!peekSkip(buf, end)) return undefined; continue }
    const a = buf[peekAt] as number
    if (a >> 5 !== 4 || (a & 31) > 24) return undefined
    const n = (a & 31) === 24 ? buf[peekAt + 1] as number : a & 31
    peekAt += (a & 31) === 24 ? 2 : 1
    for (let k = 0; k < n; k++) {
      const t = buf[peekAt] as number
      if (t >> 5 !== 3 || (t & 31) > 24) return undefined
      const len = (t & 31) === 24 ? buf[peekAt + 1] as number : t & 31
      const at = peekAt + ((t & 31) === 24 ? 2 : 1)
      peekAt = at + len
      if (peekAt > end) return undefined
      if (len === site.length && sameBytes(buf, at, site)) peeked.via = true
    }
  }
  return peekAt === end ? peeked : undefined
}

/** buf[at, at + b.length) equals b: site ids are a few bytes, where a loop beats the native call (Buffer.compare). */
function sameBytes (buf: Buffer, at: number, b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (buf[at + i] !== b[i]) return false
  return true
}

/**
 * Replay needs a message's topic, entry id, publish time and props, not its
 * payload: read them straight from the CBOR (the payload comes back empty).
 * Undefined when buf[start] is not a message record of the usual shape.
 */
export function peekMessage (buf: Buffer, start: number, end: number): LogRecord | undefined {
  return peekMessageRecord(buf, start, end, false)
}
