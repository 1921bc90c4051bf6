/**
 * The decode side of a link's batches (wire format: codec.ts), read by hand
 * from the bytes: untrusted input, so every length is checked against the
 * bytes there are and every failure is E_REPL_BAD_BATCH.
 *
 * Profiled at a receiving site (session 8), the generic decode (cbor-x) of a
 * batch built an array per item, a copy of every payload, then an item object
 * each, and all of it stayed reachable until the batch was durable: about a
 * third of what a receiver allocated per message survived a scavenge, and the
 * GC was its largest single cost. Here the header is read first and the items
 * are left as bytes (`ItemsAt`), read in the batch's turn (codec.ts) straight
 * into the items the ledger appends: no array per item, a topic repeated from
 * the item before is the same string, the payloads copied into one buffer per
 * batch; and the receiver keeps none of it once submitted (receiver.ts).
 *
 * Values are read as cbor-x reads them (codec.ts's decoder, mapsAsObjects):
 * ints up to 32 bits and floats by hand; anything else (a 64-bit int, a tag,
 * an indefinite length, a map key that is not text) is measured here and
 * decoded by cbor-x, so what a value means never depends on which path read it.
 */
import { FerryError } from '../common/errors.js'
import { ReplCode } from './errors.js'
import { REPL_WIRE_DEPTH_MAX } from './constants.js'

/** Where a batch's items are: `count` items from byte `at` of `src` (plain or inflated). */
export interface ItemsAt { src: Uint8Array, at: number, count: number }

export function bad (why: string): FerryError {
  return new FerryError(ReplCode.BAD_BATCH, `replication batch: ${why}`)
}

/** Thrown inside a hand read when cbor-x must read the value instead (caught where the value started). */
const GENERIC = Symbol('generic value')

/** Text strings up to this many bytes are read in JavaScript when ASCII (a native utf8 slice costs more). */
const TEXT_IN_JS_BYTES_MAX = 32

export class WireReader {
  /** Read position in `src`. */
  at: number
  private readonly view: DataView
  private readonly buf: Buffer

  constructor (readonly src: Uint8Array, at: number, private readonly generic: (bytes: Uint8Array) => unknown) {
    this.at = at
    this.view = new DataView(src.buffer, src.byteOffset, src.byteLength)
    this.buf = Buffer.isBuffer(src) ? src : Buffer.from(src.buffer, src.byteOffset, src.byteLength)
  }

  private need (n: number): void {
    if (n > this.src.length - this.at) throw bad('truncated')
  }

  /** The argument of a head whose first byte was `b` (ai < 28), as a number; a 64-bit one only up to 2^53. */
  private arg (b: number): number {
    const ai = b & 0x1f
    if (ai < 24) return ai
    const v = this.view
    const at = this.at
    if (ai === 24) { this.need(1); this.at = at + 1; return v.getUint8(at) }
    if (ai === 25) { this.need(2); this.at = at + 2; return v.getUint16(at) }
    if (ai === 26) { this.need(4); this.at = at + 4; return v.getUint32(at) }
    if (ai === 27) {
      this.need(8)
      const hi = v.getUint32(at)
      if (hi >= 0x200000) throw bad('length or int beyond 2^53')
      this.at = at + 8
      return hi * 0x100000000 + v.getUint32(at + 4)
    }
    throw bad(`CBOR head ${b}`)
  }

  /** The length of an array (definite length), or -1 when the next item is not one (left unread). */
  arrayHead (): number { return this.headOf(4) }

  /** The length of a map (definite length), or -1 when the next item is not one (left unread). */
  mapHead (): number { return this.headOf(5) }

  private headOf (major: number): number {
    this.need(1)
    const b = this.src[this.at] as number
    if (b >> 5 !== major || (b & 0x1f) === 31) return -1
    this.at++
    return this.arg(b)
  }

  /** A value as cbor-x decodes it. */
  value (): unknown {
    const start = this.at
    try {
      return this.valueByHand(0)
    } catch (err) {
      if (err !== GENERIC) throw err
    }
    this.at = start
    this.skip(0)
    try {
      return this.generic(this.src.subarray(start, this.at))
    } catch (err) {
      throw bad(`value not decodable (${(err as Error).message})`)
    }
  }

  /**
   * A text string, with `same` returned instead of a new string when the bytes spell it (a topic repeated item
   * after item, a site id); other shapes as `value` reads them.
   */
  text (same: string | undefined): unknown {
    this.need(1)
    const b = this.src[this.at] as number
    if (b >> 5 !== 3 || (b & 0x1f) >= 28) return this.value()
    this.at++
    const n = this.arg(b)
    this.need(n)
    const start = this.at
    this.at += n
    if (same !== undefined && same.length === n && this.asciiEquals(start, same)) return same
    return this.textAt(start, n)
  }

  /** A byte string as a Buffer view of the source (no copy); other shapes as `value` reads them. */
  bytesView (): unknown {
    this.need(1)
    const b = this.src[this.at] as number
    if (b >> 5 !== 2 || (b & 0x1f) >= 28) return this.value()
    this.at++
    const n = this.arg(b)
    this.need(n)
    const out = Buffer.from(this.src.buffer, this.src.byteOffset + this.at, n)
    this.at += n
    return out
  }

  /**
   * Where the bytes of a byte string of definite length start in `buffer` (read past them: they end at `at`), or -1
   * when the next value is not one (left unread).
   */
  bytesAt (): number {
    this.need(1)
    const b = this.src[this.at] as number
    if (b >> 5 !== 2 || (b & 0x1f) >= 28) return -1
    this.at++
    const n = this.arg(b)
    this.need(n)
    const start = this.at
    this.at += n
    return start
  }

  /** The source as a Buffer (the same bytes). */
  get buffer (): Buffer { return this.buf }

  private asciiEquals (start: number, s: string): boolean {
    const src = this.src
    // ASCII only: a byte of 0x80 or more is not the character of that code (é is two bytes in UTF-8).
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i)
      if (c > 0x7f || src[start + i] !== c) return false
    }
    return true
  }

  private textAt (start: number, n: number): string {
    if (n <= TEXT_IN_JS_BYTES_MAX) {
      const src = this.src
      let s = ''
      let i = 0
      for (; i < n; i++) {
        const c = src[start + i] as number
        if (c > 0x7f) break
        s += String.fromCharCode(c)
      }
      if (i === n) return s
    }
    return this.buf.toString('utf8', start, start + n)
  }

  private valueByHand (depth: number): unknown {
    if (depth > REPL_WIRE_DEPTH_MAX) throw bad(`values nested deeper than ${REPL_WIRE_DEPTH_MAX}`)
    this.need(1)
    const b = this.src[this.at++] as number
    const major = b >> 5
    const ai = b & 0x1f
    if (major === 7) {
      if (ai === 20) return false
      if (ai === 21) return true
      if (ai === 22) return null
      if (ai === 23) return undefined
      const v = this.view
      const at = this.at
      if (ai === 25) { this.need(2); this.at = at + 2; return float16(v.getUint16(at)) }
      if (ai === 26) { this.need(4); this.at = at + 4; return v.getFloat32(at) }
      if (ai === 27) { this.need(8); this.at = at + 8; return v.getFloat64(at) }
      throw GENERIC
    }
    // 64-bit ints (BigInt in cbor-x), tags and indefinite lengths: cbor-x's.
    if (ai >= 27 || major === 6) throw GENERIC
    const n = this.arg(b)
    if (major === 0) return n
    if (major === 1) return -1 - n
    if (major === 2) {
      this.need(n)
      const out = this.src.subarray(this.at, this.at + n) // as cbor-x: a view of the same kind as the source
      this.at += n
      return out
    }
    if (major === 3) {
      this.need(n)
      const start = this.at
      this.at += n
      return this.textAt(start, n)
    }
    if (major === 4) {
      if (n > this.src.length - this.at) throw bad('array longer than the batch') // every item takes a byte at least
      const out: unknown[] = []
      for (let i = 0; i < n; i++) out.push(this.valueByHand(depth + 1))
      return out
    }
    return this.mapByHand(n, depth)
  }

  /** A map with text keys, as an object (cbor-x's mapsAsObjects); `__proto__` renamed as cbor-x does. */
  private mapByHand (n: number, depth: number): Record<string, unknown> {
    if (n > this.src.length - this.at) throw bad('map longer than the batch')
    const out: Record<string, unknown> = {}
    for (let i = 0; i < n; i++) {
      const k = this.valueByHand(depth + 1)
      if (typeof k !== 'string') throw GENERIC
      out[k === '__proto__' ? '__proto_' : k] = this.valueByHand(depth + 1)
    }
    return out
  }

  /** Step over one value of any shape (its extent, for cbor-x or for fields a reader ignores). */
  skip (depth: number): void {
    if (depth > REPL_WIRE_DEPTH_MAX) throw bad(`values nested deeper than ${REPL_WIRE_DEPTH_MAX}`)
    this.need(1)
    const b = this.src[this.at++] as number
    const major = b >> 5
    const ai = b & 0x1f
    if (ai === 31) {
      if (major < 2 || major === 6) throw bad(`CBOR head ${b}`)
      if (major === 7) throw bad('break outside an indefinite-length item')
      for (;;) {
        this.need(1)
        if (this.src[this.at] === 0xff) { this.at++; return }
        this.skip(depth + 1)
        if (major === 5) this.skip(depth + 1)
      }
    }
    if (major === 0 || major === 1 || major === 6 || major === 7) {
      // Ints, tag numbers and simple values: only the head's own bytes (a 64-bit one may be past 2^53).
      if (ai >= 28) throw bad(`CBOR head ${b}`)
      const n = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0
      this.need(n)
      this.at += n
      if (major === 6) this.skip(depth + 1)
      return
    }
    const n = this.arg(b)
    if (major === 2 || major === 3) { this.need(n); this.at += n; return }
    if (major === 4 || major === 5) {
      if (n > this.src.length - this.at) throw bad('container longer than the batch')
      const items = major === 5 ? 2 * n : n
      for (let i = 0; i < items; i++) this.skip(depth + 1)
    }
  }
}

/** IEEE 754 half precision, as cbor-x reads it. */
function float16 (h: number): number {
  const exp = (h >> 10) & 0x1f
  const mant = h & 0x3ff
  const sign = (h & 0x8000) !== 0 ? -1 : 1
  if (exp === 0) return sign * mant * 2 ** -24
  if (exp === 31) return mant === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN
  return sign * (1 + mant / 1024) * 2 ** (exp - 15)
}
