/**
 * Per-topic index: entry id -> log position (lsn) and record size.
 *
 * Compact on purpose (a million topics): a topic with one entry keeps it in
 * two number fields; from the second entry on, two growing Float64Arrays hold
 * the lsn and the cumulative record bytes of each entry (16 bytes per entry,
 * no JS object per message). Entries are dense: slot i holds entry first + i.
 */
import assert from 'node:assert/strict'

const GROW_FIRST_SLOTS = 8

export interface EntryIndexSnapshot {
  first: number
  count: number
  lsns: Float64Array
  ends: Float64Array
}

export class EntryIndex {
  /** Oldest entry id still indexed. */
  first = 0
  /** Entries indexed; next entry id is first + count. */
  count = 0
  private lsn0 = 0
  private end0 = 0
  private lsns: Float64Array | null = null
  /** Cumulative record bytes through each slot (absolute, never rebased). */
  private ends: Float64Array | null = null
  /** Slot of `first` in the arrays. */
  private start = 0
  /** Cumulative bytes before `first`. */
  private baseBytes = 0

  get next (): number { return this.first + this.count }

  push (lsn: number, recordBytes: number): void {
    // Hot in replay: the two invariants are checked without helper calls.
    if (!(recordBytes > 0)) assert.fail('records have a size')
    if (this.count > 0 && !(lsn > (this.lsns === null ? this.lsn0 : this.lsns[this.start + this.count - 1] as number))) assert.fail('lsns grow with entry ids')
    if (this.lsns === null && this.count === 0) {
      this.lsn0 = lsn
      this.end0 = this.baseBytes + recordBytes
      this.count = 1
      return
    }
    if (this.lsns === null) this.toArrays(GROW_FIRST_SLOTS)
    const lsns = this.lsns as Float64Array
    let slot = this.start + this.count
    if (slot >= lsns.length) {
      this.toArrays(Math.max(GROW_FIRST_SLOTS, this.count * 2))
      slot = this.start + this.count
    }
    const ends = this.ends as Float64Array
    const prevEnd = this.count === 0 ? this.baseBytes : ends[slot - 1] as number
    ;(this.lsns as Float64Array)[slot] = lsn
    ends[slot] = prevEnd + recordBytes
    this.count++
  }

  /** Re-lay out into arrays of `capacity` slots with `first` at slot 0. */
  private toArrays (capacity: number): void {
    assert.ok(capacity >= this.count, 'capacity holds every entry')
    const lsns = new Float64Array(capacity)
    const ends = new Float64Array(capacity)
    if (this.lsns === null) {
      if (this.count === 1) { lsns[0] = this.lsn0; ends[0] = this.end0 }
    } else {
      lsns.set(this.lsns.subarray(this.start, this.start + this.count))
      ends.set((this.ends as Float64Array).subarray(this.start, this.start + this.count))
    }
    this.lsns = lsns
    this.ends = ends
    this.start = 0
  }

  has (entryId: number): boolean {
    return entryId >= this.first && entryId < this.next
  }

  lsnOf (entryId: number): number {
    assert.ok(this.has(entryId), 'entry is indexed')
    if (this.lsns === null) return this.lsn0
    return this.lsns[this.start + entryId - this.first] as number
  }

  private endOf (entryId: number): number {
    if (entryId < this.first) return this.baseBytes
    if (this.lsns === null) return this.end0
    return (this.ends as Float64Array)[this.start + entryId - this.first] as number
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
    return this.count === 0 ? 0 : this.endOf(this.next - 1) - this.baseBytes
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
    this.baseBytes = this.endOf(upTo - 1)
    const dropped = upTo - this.first
    this.count -= dropped
    this.first = entryId
    if (this.lsns !== null) {
      this.start += dropped
      if (this.count === 0) { this.lsns = null; this.ends = null; this.start = 0 } else if (this.start > this.count) this.toArrays(Math.max(GROW_FIRST_SLOTS, this.count * 2))
    }
  }

  snapshot (): EntryIndexSnapshot {
    const lsns = new Float64Array(this.count)
    const ends = new Float64Array(this.count)
    for (let i = 0; i < this.count; i++) {
      lsns[i] = this.lsnOf(this.first + i)
      ends[i] = this.endOf(this.first + i) - this.baseBytes
    }
    return { first: this.first, count: this.count, lsns, ends }
  }

  static fromSnapshot (s: EntryIndexSnapshot): EntryIndex {
    const ix = new EntryIndex()
    ix.first = s.first
    if (s.count === 1) {
      ix.lsn0 = s.lsns[0] as number
      ix.end0 = s.ends[0] as number
      ix.count = 1
    } else if (s.count > 1) {
      ix.lsns = Float64Array.from(s.lsns)
      ix.ends = Float64Array.from(s.ends)
      ix.count = s.count
    }
    return ix
  }
}
