/**
 * Delivery counts of one cursor, in memory bounded by what cannot be derived.
 *
 * The cursor persists a "handed out up to" watermark `upTo` per hand-out
 * batch instead of a count per delivered entry. For an unacknowledged entry:
 *   - an explicit count (the entry was handed out again: count >= 2), else
 *   - 1 when it is at or below `upTo` and not a hole, else
 *   - 0 (never handed out).
 * Holes are entries the watermark jumped over without handing them out
 * (delayed entries, entries held back by key or priority), kept as ranges.
 * Acknowledged entries need no count: their explicit count is dropped at
 * once, holes and counts below mark-delete are pruned as it advances. So one
 * stuck message followed by a million deliveries costs one explicit count,
 * not a million (issue 7, "Bounded memory").
 *
 * Bounds: explicit counts are entries handed out again and not yet
 * acknowledged (at most the backlog the dispatcher keeps in flight or waiting
 * for redelivery, which it bounds). Holes are ranges of entries skipped while
 * later ones went out: delayed entries (already held by the topic's delayed
 * index) and entries held back by key or priority inside the read-ahead
 * window; each hole range lies between two handed-out runs, and those runs,
 * once acknowledged, are ack ranges bounded by maxCursorAckRanges. Neither is
 * checked when a record is applied (replay must never refuse a logged record).
 *
 * A hand-out record (records.ts `handedOut`) carries the new watermark, the
 * ids delivered again (at or below the old watermark, or repeated in the
 * batch) and the ranges skipped: O(1) for in-order delivery. Replay over a
 * fuzzy checkpoint applies the watermark part only when it is ahead of the
 * state (idempotent); ids delivered again may be counted twice (the safe
 * direction, as before).
 */
import { RangeSet } from './range-set.js'

/** One hand-out batch as logged. */
export interface HandOut {
  upTo: number
  /** Ids delivered again: each adds one to its count. */
  again: readonly number[]
  /** Flat inclusive ranges [s, e, ...] in (old watermark, upTo] that were not handed out. */
  skipped: readonly number[]
}

export interface DeliverySnapshot {
  upTo: number
  /** Flat [entryId, count, ...]. */
  counts: number[]
  /** Flat ranges. */
  holes: number[]
}

export class DeliveryCounts {
  private counts: Map<number, number> | null = null
  private holes: RangeSet | null = null
  /** Entries mark-delete advanced over since the counts were last swept. */
  private sweepDebt = 0

  constructor (public upTo: number) {}

  /** Count of an entry known to be unacknowledged. */
  countOf (id: number): number {
    const explicit = this.counts?.get(id)
    if (explicit !== undefined) return explicit
    return id <= this.upTo && !(this.holes?.has(id) ?? false) ? 1 : 0
  }

  /** The record for handing out `ids` (ascending, may repeat, all above markDelete); undefined when nothing changes. */
  plan (ids: readonly number[], markDelete: number): HandOut | undefined {
    const base = Math.max(this.upTo, markDelete)
    let top = base
    const again: number[] = []
    const skipped: number[] = []
    for (const id of ids) {
      if (id > top) {
        if (id > top + 1) skipped.push(top + 1, id - 1)
        top = id
      } else {
        again.push(id)
      }
    }
    if (top === base && again.length === 0) return undefined
    return { upTo: top, again, skipped }
  }

  /** Apply a hand-out (live and at replay). */
  apply (h: HandOut, markDelete: number, isAcked: (id: number) => boolean): void {
    const base = Math.max(this.upTo, markDelete)
    if (h.upTo > base) {
      for (let i = 0; i < h.skipped.length; i += 2) {
        const s = Math.max(h.skipped[i] as number, base + 1)
        const e = h.skipped[i + 1] as number
        if (s <= e) { this.holes ??= new RangeSet(); this.holes.add(s, e) }
      }
      this.upTo = h.upTo
    }
    for (const id of h.again) if (!isAcked(id)) this.bump(id)
  }

  /** One more delivery of an unacknowledged entry. */
  bump (id: number): void {
    const n = this.countOf(id) + 1
    if (n === 1 && id <= this.upTo) {
      // A hole handed out at last: its count of 1 is derived again.
      this.holes?.delete(id)
      if (this.holes?.isEmpty === true) this.holes = null
      return
    }
    this.counts ??= new Map()
    this.counts.set(id, n)
  }

  /** The entry is acknowledged: its count is no longer needed. */
  forget (id: number): void {
    if (this.counts?.delete(id) === true && this.counts.size === 0) this.counts = null
  }

  /** Mark-delete moved from `before` to `markDelete`. Amortised O(1) per entry passed. */
  markDeleteAdvanced (before: number, markDelete: number): void {
    if (this.upTo < markDelete) this.upTo = markDelete
    if (this.holes !== null) {
      this.holes.dropBelow(markDelete + 1)
      if (this.holes.isEmpty) this.holes = null
    }
    if (this.counts === null) return
    this.sweepDebt += markDelete - before
    if (this.sweepDebt < this.counts.size) return
    this.sweepDebt = 0
    for (const id of this.counts.keys()) if (id <= markDelete) this.counts.delete(id)
    if (this.counts.size === 0) this.counts = null
  }

  /** Sizes of what is kept (tests, stats). */
  sizes (): { counted: number, holeRanges: number } {
    return { counted: this.counts?.size ?? 0, holeRanges: this.holes?.rangeCount ?? 0 }
  }

  snapshot (): DeliverySnapshot {
    const counts: number[] = []
    if (this.counts !== null) for (const [id, n] of this.counts) counts.push(id, n)
    return { upTo: this.upTo, counts, holes: this.holes?.toArray() ?? [] }
  }

  static fromSnapshot (s: DeliverySnapshot): DeliveryCounts {
    const d = new DeliveryCounts(s.upTo)
    if (s.counts.length > 0) {
      d.counts = new Map()
      for (let i = 0; i < s.counts.length; i += 2) d.counts.set(s.counts[i] as number, s.counts[i + 1] as number)
    }
    if (s.holes.length > 0) d.holes = RangeSet.fromArray(s.holes)
    return d
  }
}
