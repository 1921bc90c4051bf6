/**
 * A message record's CBOR written straight into a shared chunk, for the
 * replicated append path (ledger-replicated.ts): the same record that
 * `encodeRecord` writes (records.ts: [kind, topicId, entryId, publishTime,
 * payload, props] with one-letter prop keys), without building the wire
 * array and props object and without a buffer per record. The bytes are not
 * identical to cbor-x's (floats are always float64, ints the shortest
 * head), but they decode to the same values with decodeRecord, and they keep
 * the shape the log tail peeks at (peekMessage, peekViaIncludes: a 6-item
 * array, a props map of one-letter text keys, `replicatedVia` an array of
 * text strings).
 *
 * Profiled at the receiving site (session 5): the generic encode of the
 * record (cbor-x plus propsToWire) was ~14% of its CPU during a drain, and
 * one buffer per record a good part of the GC (~24%).
 *
 * Bodies are views of a chunk; a chunk lives until the log writer has copied
 * every record of it into its write buffer.
 */
import { encodeValue, propWireKeyOf, RecordKind } from './records.js'
import type { MessageProps } from './types.js'

/** Size of a fresh chunk: a replication batch of small messages (1,000 of ~200 B) fits in a few. */
export const MESSAGE_ENCODER_CHUNK_BYTES = 256 * 1024

/** Strings up to this many UTF-16 units are tried as ASCII by hand (a one-byte length head: below 256). */
const TEXT_BY_HAND_CHARS_MAX = 64
const MAJOR_UINT = 0
const MAJOR_NEGINT = 1
const MAJOR_BYTES = 2
const MAJOR_TEXT = 3
const MAJOR_ARRAY = 4
const MAJOR_MAP = 5

export class MessageEncoder {
  private buf: Buffer = Buffer.allocUnsafe(MESSAGE_ENCODER_CHUNK_BYTES)
  /** Write position, and where the record being written starts. */
  private at = 0
  private start = 0

  /** The body of a message record (no meta), a view of the current chunk. */
  encode (topicId: number, entryId: number, publishTime: number, payload: Buffer, props: MessageProps): Buffer {
    this.start = this.at
    this.room(1 + 1 + 9 + 9 + 9 + 9 + payload.length + 3)
    const pairs = countPairs(props)
    this.byte(pairs === 0 ? 0x85 : 0x86)
    this.byte(RecordKind.message)
    this.number(topicId)
    this.number(entryId)
    this.number(publishTime)
    this.head(MAJOR_BYTES, payload.length)
    payload.copy(this.buf, this.at)
    this.at += payload.length
    if (pairs > 0) {
      this.head(MAJOR_MAP, pairs)
      for (const long in props) {
        const v = props[long as keyof MessageProps]
        const key = propWireKeyOf(long)
        if (v === undefined || key === undefined) continue
        this.room(2)
        this.byte(0x61) // a one-letter text string
        this.byte(key)
        this.value(v)
      }
    }
    const body = this.buf.subarray(this.start, this.at)
    this.start = this.at
    return body
  }

  /** Make room for n more bytes: a new chunk, with the part of the record written so far moved over. */
  private room (n: number): void {
    if (this.at + n <= this.buf.length) return
    const partial = this.at - this.start
    const next = Buffer.allocUnsafe(Math.max(MESSAGE_ENCODER_CHUNK_BYTES, 2 * (partial + n)))
    this.buf.copy(next, 0, this.start, this.at)
    this.buf = next
    this.start = 0
    this.at = partial
  }

  private byte (b: number): void {
    this.buf[this.at++] = b
  }

  /** A head of major type `major` with argument n (a non-negative integer below 2^32: lengths and ints). */
  private head (major: number, n: number): void {
    this.room(9)
    const m = major << 5
    const buf = this.buf
    if (n < 24) { buf[this.at++] = m | n } else if (n < 0x100) { buf[this.at++] = m | 24; buf[this.at++] = n } else if (n < 0x10000) {
      buf[this.at++] = m | 25; buf.writeUInt16BE(n, this.at); this.at += 2
    } else {
      buf[this.at++] = m | 26; buf.writeUInt32BE(n, this.at); this.at += 4
    }
  }

  /**
   * Integers of 32 bits as CBOR ints, everything else (publish times in ms among them) as float64: as cbor-x
   * does, whose decoder would give a 64-bit int back as a BigInt.
   */
  private number (n: number): void {
    if (Number.isInteger(n) && n >= -0x100000000 && n < 0x100000000) {
      if (n >= 0) this.head(MAJOR_UINT, n)
      else this.head(MAJOR_NEGINT, -1 - n)
      return
    }
    this.room(9)
    this.buf[this.at++] = 0xfb
    this.buf.writeDoubleBE(n, this.at)
    this.at += 8
  }

  private text (s: string): void {
    const n = s.length
    if (n <= TEXT_BY_HAND_CHARS_MAX) {
      // Site ids, short keys and topics: ASCII by hand (Buffer.byteLength and write are two native calls each).
      this.room(n + 2)
      const at = this.at
      const buf = this.buf
      let i = 0
      buf[at] = n < 24 ? 0x60 | n : 0x78
      const first = n < 24 ? at + 1 : at + 2
      if (n >= 24) buf[at + 1] = n
      for (; i < n; i++) {
        const c = s.charCodeAt(i)
        if (c > 0x7f) break
        buf[first + i] = c
      }
      if (i === n) { this.at = first + n; return }
    }
    const bytes = Buffer.byteLength(s)
    this.head(MAJOR_TEXT, bytes)
    this.room(bytes)
    this.at += this.buf.write(s, this.at, bytes, 'utf8')
  }

  private bytes (b: Uint8Array): void {
    this.head(MAJOR_BYTES, b.length)
    this.room(b.length)
    this.buf.set(b, this.at)
    this.at += b.length
  }

  /** A property value: the common shapes by hand, anything else through the generic encoder (one CBOR item). */
  private value (v: unknown): void {
    if (typeof v === 'string') { this.text(v); return }
    if (typeof v === 'number') { this.number(v); return }
    if (typeof v === 'boolean') { this.room(1); this.byte(v ? 0xf5 : 0xf4); return }
    if (v instanceof Uint8Array) { this.bytes(v); return }
    if (Array.isArray(v) && isTextTree(v)) {
      // replicatedVia (site ids) and userProperties (pairs of text).
      this.head(MAJOR_ARRAY, v.length)
      for (const x of v as ReadonlyArray<string | readonly string[]>) {
        if (typeof x === 'string') { this.text(x); continue }
        this.head(MAJOR_ARRAY, x.length)
        for (const y of x) this.text(y)
      }
      return
    }
    this.bytesRaw(encodeValue(v))
  }

  /** An item encoded elsewhere, copied as it is. */
  private bytesRaw (item: Buffer): void {
    this.room(item.length)
    item.copy(this.buf, this.at)
    this.at += item.length
  }
}

function countPairs (props: MessageProps): number {
  let n = 0
  for (const long in props) if (props[long as keyof MessageProps] !== undefined && propWireKeyOf(long) !== undefined) n++
  return n
}

/** An array of text strings, or of arrays of text strings. */
function isTextTree (a: readonly unknown[]): boolean {
  for (const x of a) {
    if (typeof x === 'string') continue
    if (!Array.isArray(x)) return false
    for (const y of x) if (typeof y !== 'string') return false
  }
  return true
}
