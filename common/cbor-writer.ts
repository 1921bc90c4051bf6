/**
 * CBOR written by hand into shared chunks: for the two per-message encodes on
 * the replication path (the store's replicated records, store/message-encoder.ts;
 * a link's batches, replicator/codec.ts), where the generic encoder (cbor-x) and
 * a buffer per item were a large part of the CPU (session 5 profiles). The
 * common shapes are written here; anything else goes through `fallback` (the
 * generic encoder) as one item. Output decodes with cbor-x to the same values
 * (ints of 32 bits as ints, other numbers as float64, as cbor-x does: its
 * decoder gives a 64-bit int back as a BigInt).
 *
 * Results are views of a chunk; bytes once handed out are never written again
 * (a full chunk is replaced, not reused), so a view stays valid for as long as
 * it is held, and a chunk lives until its last view is dropped.
 */

/** Size of a fresh chunk. */
export const CBOR_WRITER_CHUNK_BYTES = 256 * 1024
/** Strings up to this many UTF-16 units are tried as ASCII by hand (a one-byte length head). */
const TEXT_BY_HAND_CHARS_MAX = 64
/** Copies of this many bytes and more go through Buffer.copy (below, a loop is faster: 64 B ~ the same). */
const COPY_NATIVE_BYTES_MIN = 64
/** Arrays nested deeper than this go through the fallback (props hold pairs at most: two levels). */
const ARRAY_BY_HAND_DEPTH_MAX = 4

export const CborMajor = { uint: 0, negint: 1, bytes: 2, text: 3, array: 4, map: 5 } as const
export type CborMajor = typeof CborMajor[keyof typeof CborMajor]

export class CborWriter {
  private buf: Buffer = Buffer.allocUnsafe(CBOR_WRITER_CHUNK_BYTES)
  /** Write position, and where the item being written starts. */
  private at = 0
  private start = 0

  constructor (private readonly fallback: (v: unknown) => Uint8Array) {}

  /** Start an item of about `bytesHint` bytes (a fresh chunk now rather than a move half way). */
  begin (bytesHint = 0): void {
    this.start = this.at
    this.room(bytesHint)
  }

  /** Bytes of the item written since begin() (where the next byte goes in what end() returns). */
  get written (): number { return this.at - this.start }

  /** The item written since begin(), a view of the chunk. */
  end (): Buffer {
    const out = this.buf.subarray(this.start, this.at)
    this.start = this.at
    return out
  }

  /** Make room for n more bytes: a new chunk, with the part of the item written so far moved over. */
  private room (n: number): void {
    if (this.at + n <= this.buf.length) return
    const partial = this.at - this.start
    const next = Buffer.allocUnsafe(Math.max(CBOR_WRITER_CHUNK_BYTES, 2 * (partial + n)))
    this.buf.copy(next, 0, this.start, this.at)
    this.buf = next
    this.start = 0
    this.at = partial
  }

  byte (b: number): void {
    this.room(1)
    this.buf[this.at++] = b
  }

  /** A head of major type `major` with argument n (a non-negative integer below 2^32: lengths and ints). */
  head (major: CborMajor, n: number): void {
    this.room(5)
    const m = major << 5
    const buf = this.buf
    if (n < 24) { buf[this.at++] = m | n } else if (n < 0x100) { buf[this.at++] = m | 24; buf[this.at++] = n } else if (n < 0x10000) {
      buf[this.at++] = m | 25; buf.writeUInt16BE(n, this.at); this.at += 2
    } else {
      buf[this.at++] = m | 26; buf.writeUInt32BE(n, this.at); this.at += 4
    }
  }

  number (n: number): void {
    if (typeof n !== 'number') { this.value(n); return } // untyped callers (undefined where a number belongs): as cbor-x would
    if (Number.isInteger(n) && n >= -0x100000000 && n < 0x100000000) {
      if (n >= 0) this.head(CborMajor.uint, n)
      else this.head(CborMajor.negint, -1 - n)
      return
    }
    this.room(9)
    this.buf[this.at++] = 0xfb
    this.buf.writeDoubleBE(n, this.at)
    this.at += 8
  }

  text (s: string): void {
    const n = s.length
    if (n <= TEXT_BY_HAND_CHARS_MAX) {
      // Site ids, keys and topics: ASCII by hand (Buffer.byteLength and write are two native calls each).
      this.room(n + 2)
      const at = this.at
      const buf = this.buf
      const first = n < 24 ? at + 1 : at + 2
      buf[at] = n < 24 ? 0x60 | n : 0x78
      if (n >= 24) buf[at + 1] = n
      let i = 0
      for (; i < n; i++) {
        const c = s.charCodeAt(i)
        if (c > 0x7f) break
        buf[first + i] = c
      }
      if (i === n) { this.at = first + n; return }
    }
    const bytes = Buffer.byteLength(s)
    this.head(CborMajor.text, bytes)
    this.room(bytes)
    this.at += this.buf.write(s, this.at, bytes, 'utf8')
  }

  bytes (b: Uint8Array): void {
    this.head(CborMajor.bytes, b.length)
    this.raw(b)
  }

  /** Bytes copied as they are (an item encoded elsewhere). */
  raw (b: Uint8Array): void {
    this.room(b.length)
    this.buf.set(b, this.at)
    this.at += b.length
  }

  /** Bytes src[start, end) copied as they are (parts of a record encoded elsewhere: store/plain-record.ts). */
  copy (src: Buffer, start: number, end: number): void {
    const n = end - start
    this.room(n)
    if (n >= COPY_NATIVE_BYTES_MIN) { this.at += src.copy(this.buf, this.at, start, end); return }
    // A few bytes (props pairs): a loop beats the native copy's ~65 ns call (session 15).
    const buf = this.buf
    let at = this.at
    for (let i = start; i < end; i++) buf[at++] = src[i] as number
    this.at = at
  }

  /**
   * A value: strings, numbers, booleans, null, bytes and arrays of them (nested up to ARRAY_BY_HAND_DEPTH_MAX:
   * user properties are pairs) by hand; anything else through the fallback.
   */
  value (v: unknown, depth = 0): void {
    if (typeof v === 'string') this.text(v)
    else if (typeof v === 'number') this.number(v)
    else if (typeof v === 'boolean') this.byte(v ? 0xf5 : 0xf4)
    else if (v === null) this.byte(0xf6)
    else if (v === undefined) this.byte(0xf7)
    else if (v instanceof Uint8Array) this.bytes(v)
    else if (Array.isArray(v) && depth < ARRAY_BY_HAND_DEPTH_MAX) {
      this.head(CborMajor.array, v.length)
      for (const x of v) this.value(x, depth + 1)
    } else this.raw(this.fallback(v))
  }
}
