/**
 * Where one CBOR item ends, read from its bytes without decoding it: the
 * record peeks (records.ts) and the plain-record check (plain-record.ts) step
 * over values they do not need this way.
 */

/** Nesting stepped into before an item counts as not of the usual shape (props hold pairs at most: two levels). */
const SKIP_DEPTH_MAX = 8

/**
 * The end of the CBOR item at buf[at] (definite lengths only, bounded nesting), or -1 when it is not of that shape
 * or runs past `end`.
 */
export function cborItemEnd (buf: Buffer, at: number, end: number, depth = 0): number {
  if (at >= end || depth > SKIP_DEPTH_MAX) return -1
  const b = buf[at] as number
  const major = b >> 5
  const ai = b & 31
  if (major === 7) {
    const n = ai < 24 ? 1 : ai === 24 ? 2 : ai === 25 ? 3 : ai === 26 ? 5 : ai === 27 ? 9 : 0
    return n === 0 || at + n > end ? -1 : at + n
  }
  // The head's own bytes first: never read past `end` (a truncated item is not of the usual shape, not an error).
  const head = ai < 24 ? 1 : ai === 24 ? 2 : ai === 25 ? 3 : ai === 26 ? 5 : ai === 27 && major < 2 ? 9 : 0
  if (head === 0 || at + head > end) return -1
  if (ai === 27) return at + 9
  const len = ai < 24 ? ai : ai === 24 ? buf[at + 1] as number : ai === 25 ? buf.readUInt16BE(at + 1) : buf.readUInt32BE(at + 1)
  at += head
  switch (major) {
    case 0: case 1: return at
    case 2: case 3: at += len; return at <= end ? at : -1
    case 4: case 5: {
      const items = major === 5 ? 2 * len : len
      for (let i = 0; i < items && at >= 0; i++) at = cborItemEnd(buf, at, end, depth + 1)
      return at
    }
    default: return cborItemEnd(buf, at, end, depth + 1) // a tag and its item
  }
}
