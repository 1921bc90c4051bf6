/**
 * Per-topic index: entry id -> log position (lsn) and record size.
 *
 * Compact on purpose (a million topics): a topic with one entry keeps it in
 * three small-integer fields of the topic's own object (TopicState extends
 * this class: one object per topic, not two); from the second entry on, an
 * IndexArrays object with two growing Float64Arrays holds the lsn and the
 * cumulative record bytes of each entry (16 bytes per entry, no JS object per
 * message). Entries are dense: slot i holds entry first + i.
 *
 * The single entry's lsn is split into two parts below 2^30 (lsnHigh,
 * lsnLow) because an lsn is segment * factor + offset, far above the small
 * integers V8 stores unboxed: one field holding it would box a 16-byte heap
 * number per topic. Both parts are exact for any integer lsn below 2^53.
 */
import assert from 'node:assert/strict'

const GROW_FIRST_SLOTS = 8
/** The split of a single entry's lsn: both parts stay small integers (unboxed in V8). */
const LSN_SPLIT = 2 ** 30

export interface EntryIndexSnapshot {
  first: number
  count: number
  lsns: Float64Array
  ends: Float64Array
}

/** The index of a topic with more than one entry (or once it had more). */
class IndexArrays {
  /** Slot of `first` in the arrays. */
  start = 0
  /** Cumulative bytes before `first` (ends are absolute, never rebased). */
  baseBytes = 0
  constructor (public lsns: Float64Array, public ends: Float64Array) {}
}

export class EntryIndex {
  /** Oldest entry id still indexed. */
  first = 0
  /** Entries indexed; next entry id is first + count. */
  count = 0
  /** The single entry (while arrays is null and count is 1): its lsn in two parts, and its record bytes. */
  private lsnHigh = 0
  private lsnLow = 0
  private bytes0 = 0
  private arrays: IndexArrays | null = null

  get next (): number { return this.first + this.count }

  private get lsn0 (): number { return this.lsnHigh * LSN_SPLIT + this.lsnLow }

  private setLsn0 (lsn: number): void {
    if (!Number.isSafeInteger(lsn) || lsn < 0) assert.fail('an lsn is a non-negative safe integer')
    // `| 0`: arithmetic on a heap-number lsn yields a heap number even when the value is small; V8 would then
    // store the field boxed. Both parts are below 2^31 for any safe integer (2^53 / 2^30 = 2^23).
    const high = Math.floor(lsn / LSN_SPLIT) | 0
    this.lsnHigh = high
    this.lsnLow = (lsn - high * LSN_SPLIT) | 0
  }

  push (lsn: number, recordBytes: number): void {
    // Hot in replay: the two invariants are checked without helper calls.
    if (!(recordBytes > 0)) assert.fail('records have a size')
    if (this.count > 0 && !(lsn > this.lastLsn())) assert.fail('lsns grow with entry ids')
    if (this.arrays === null && this.count === 0) {
      this.setLsn0(lsn)
      this.bytes0 = recordBytes
      this.count = 1
      return
    }
    if (this.arrays === null) this.toArrays(GROW_FIRST_SLOTS)
    let a = this.arrays as IndexArrays
    let slot = a.start + this.count
    if (slot >= a.lsns.length) {
      this.toArrays(Math.max(GROW_FIRST_SLOTS, this.count * 2))
      a = this.arrays as IndexArrays
      slot = a.start + this.count
    }
    const prevEnd = this.count === 0 ? a.baseBytes : a.ends[slot - 1] as number
    a.lsns[slot] = lsn
    a.ends[slot] = prevEnd + recordBytes
    this.count++
  }

  private lastLsn (): number {
    const a = this.arrays
    return a === null ? this.lsn0 : a.lsns[a.start + this.count - 1] as number
  }

  /** Re-lay out into arrays of `capacity` slots with `first` at slot 0. */
  private toArrays (capacity: number): void {
    assert.ok(capacity >= this.count, 'capacity holds every entry')
    const lsns = new Float64Array(capacity)
    const ends = new Float64Array(capacity)
    const a = this.arrays
    if (a === null) {
      if (this.count === 1) { lsns[0] = this.lsn0; ends[0] = this.bytes0 }
      this.arrays = new IndexArrays(lsns, ends)
      return
    }
    lsns.set(a.lsns.subarray(a.start, a.start + this.count))
    ends.set(a.ends.subarray(a.start, a.start + this.count))
    a.lsns = lsns
    a.ends = ends
    a.start = 0
  }

  has (entryId: number): boolean {
    return entryId >= this.first && entryId < this.next
  }

  lsnOf (entryId: number): number {
    assert.ok(this.has(entryId), 'entry is indexed')
    const a = this.arrays
    if (a === null) return this.lsn0
    return a.lsns[a.start + entryId - this.first] as number
  }

  /** Cumulative bytes through entryId (relative to an origin that only differences cancel). */
  private endOf (entryId: number): number {
    const a = this.arrays
    if (a === null) return entryId < this.first ? 0 : this.bytes0
    if (entryId < this.first) return a.baseBytes
    return a.ends[a.start + entryId - this.first] as number
  }

  /** Encoded record bytes of one entry (frame included). */
  bytesOf (entryId: number): number {
    return this.endOf(entryId) - this.endOf(entryId - 1)
  }

  /** Record bytes of entries [fromId, toId). */
  bytesBetween (fromId: number, toId: number): number {
    if (toId <= fromId) return 0
    return this.endOf(toId - 1) - this.endOf(fromId - 1)
  }

  /** Record bytes of every indexed entry. */
  storedBytes (): number {
    return this.count === 0 ? 0 : this.endOf(this.next - 1) - this.endOf(this.first - 1)
  }

  /** Last entry whose lsn <= lsn, or first - 1 when none. Binary search. */
  lastAtOrBelowLsn (lsn: number): number {
    let lo = this.first
    let hi = this.next - 1
    let found = this.first - 1
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2)
      if (this.lsnOf(mid) <= lsn) { found = mid; lo = mid + 1 } else hi = mid - 1
    }
    return found
  }

  /** First entry whose lsn >= lsn, or next when none. */
  firstAtOrAboveLsn (lsn: number): number {
    return this.lastAtOrBelowLsn(lsn - 0.5) + 1
  }

  /** First entry id such that the entries after it hold at most `bytes` bytes (for retentionBytes). */
  firstWithBytesAfterAtMost (bytes: number, upTo: number): number {
    let lo = this.first
    let hi = upTo
    const endAt = this.endOf(upTo - 1)
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2)
      if (endAt - this.endOf(mid - 1) <= bytes) hi = mid
      else lo = mid + 1
    }
    return lo
  }

  /** Forget entries below entryId (retention). */
  trimTo (entryId: number): void {
    if (entryId <= this.first) return
    const upTo = Math.min(entryId, this.next)
    const dropped = upTo - this.first
    const a = this.arrays
    if (a !== null) a.baseBytes = this.endOf(upTo - 1)
    this.count -= dropped
    this.first = entryId
    if (a === null) return
    a.start += dropped
    // Nothing left: back to the compact form (the next entry is a single one again).
    if (this.count === 0) this.arrays = null
    else if (a.start > this.count) this.toArrays(Math.max(GROW_FIRST_SLOTS, this.count * 2))
  }

  snapshot (): EntryIndexSnapshot {
    const lsns = new Float64Array(this.count)
    const ends = new Float64Array(this.count)
    const base = this.endOf(this.first - 1)
    for (let i = 0; i < this.count; i++) {
      lsns[i] = this.lsnOf(this.first + i)
      ends[i] = this.endOf(this.first + i) - base
    }
    return { first: this.first, count: this.count, lsns, ends }
  }

  /** Replace this index with a snapshot's (checkpoint load). */
  loadSnapshot (s: EntryIndexSnapshot): void {
    this.first = s.first
    this.count = 0
    this.arrays = null
    if (s.count === 1) {
      this.setLsn0(s.lsns[0] as number)
      this.bytes0 = s.ends[0] as number
      this.count = 1
    } else if (s.count > 1) {
      this.arrays = new IndexArrays(Float64Array.from(s.lsns), Float64Array.from(s.ends))
      this.count = s.count
    }
  }

  static fromSnapshot (s: EntryIndexSnapshot): EntryIndex {
    const ix = new EntryIndex()
    ix.loadSnapshot(s)
    return ix
  }
}
