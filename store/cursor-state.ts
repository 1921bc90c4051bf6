/**
 * Acknowledgement state of one (topic, subscription): mark-delete position,
 * individually acknowledged ranges above it, and delivery counts
 * (delivery-counts.ts: a handed-out watermark plus the counts it cannot derive).
 *
 * Ranges are a flat ascending array [s0, e0, s1, e1, ...] of inclusive,
 * disjoint, non-adjacent ranges, all above markDelete + 1 (a range touching
 * markDelete + 1 is folded into markDelete at once).
 */
import { DeliveryCounts, type HandOut } from './delivery-counts.js'
import type { CursorMemory } from './types.js'

export interface CursorSnapshot {
  sub: string
  markDelete: number
  ranges: number[]
  /** Flat [entryId, count, ...]: explicit counts (before the watermark existed: every count). */
  deliveries: number[]
  /** Handed-out watermark; absent in checkpoints written before it existed (then: markDelete). */
  handedOutUpTo?: number
  /** Flat ranges at or below the watermark never handed out. */
  holes?: number[]
}

/**
 * The ranges of a cursor without any (most cursors: one per idle topic behind
 * a wildcard subscription): shared and frozen, replaced by a real array on the
 * first range (ackOne) and given back when the last one folds away.
 */
export const NO_RANGES: number[] = Object.freeze([]) as unknown as number[]

export class CursorState {
  markDelete: number
  ranges: number[] = NO_RANGES
  /** Null until something is handed out above markDelete (most cursors of idle topics). */
  deliveries: DeliveryCounts | null = null

  constructor (readonly sub: string, readonly durable: boolean, markDelete: number) {
    this.markDelete = markDelete
  }

  isAcked (entryId: number): boolean {
    if (entryId <= this.markDelete) return true
    const i = this.rangeIndexOf(entryId)
    return i >= 0
  }

  /** Index (even) of the range containing entryId, or -1. */
  private rangeIndexOf (entryId: number): number {
    const r = this.ranges
    let lo = 0
    let hi = r.length / 2 - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const s = r[mid * 2] as number
      const e = r[mid * 2 + 1] as number
      if (entryId < s) hi = mid - 1
      else if (entryId > e) lo = mid + 1
      else return mid * 2
    }
    return -1
  }

  ackOne (entryId: number): void {
    if (entryId <= this.markDelete) return
    this.deliveries?.forget(entryId)
    if (entryId === this.markDelete + 1) {
      this.markDelete = entryId
      this.foldRanges()
      return
    }
    const r = this.ranges
    // Position of the first range whose start > entryId.
    let lo = 0
    let hi = r.length / 2
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((r[mid * 2] as number) > entryId) hi = mid
      else lo = mid + 1
    }
    const next = lo
    const prev = lo - 1
    if (prev >= 0 && (r[prev * 2 + 1] as number) >= entryId) return
    const joinPrev = prev >= 0 && (r[prev * 2 + 1] as number) === entryId - 1
    const joinNext = next < r.length / 2 && (r[next * 2] as number) === entryId + 1
    if (joinPrev && joinNext) {
      r[prev * 2 + 1] = r[next * 2 + 1] as number
      r.splice(next * 2, 2)
    } else if (joinPrev) {
      r[prev * 2 + 1] = entryId
    } else if (joinNext) {
      r[next * 2] = entryId
    } else {
      // No bound here: this runs for records already in the log (replay too);
      // the ledger bounds ranges when it admits an ack (rangesAddedBy).
      if (r === NO_RANGES) this.ranges = [entryId, entryId]
      else r.splice(next * 2, 0, entryId, entryId)
    }
  }

  get rangeCount (): number { return this.ranges.length / 2 }

  /**
   * How many ranges acknowledging `ids` would add (negative when it joins
   * ranges), without changing anything. `ids` ascending, unique, unacked,
   * above markDelete. A new range starts at each id whose predecessor stays
   * unacknowledged; an existing range stops being one when the id just below
   * its start is acknowledged.
   */
  rangesAddedBy (ids: readonly number[]): number {
    const batch = new Set(ids)
    let delta = 0
    for (const id of ids) {
      if (!batch.has(id - 1) && !this.isAcked(id - 1)) delta++
      const j = this.rangeIndexOf(id + 1)
      if (j >= 0 && (this.ranges[j] as number) === id + 1) delta--
    }
    return delta
  }

  ackCumulative (upTo: number): void {
    if (upTo <= this.markDelete) return
    const before = this.markDelete
    this.markDelete = upTo
    const r = this.ranges
    let drop = 0
    while (drop < r.length && (r[drop + 1] as number) <= upTo) drop += 2
    if (drop > 0) r.splice(0, drop)
    if (r.length > 0 && (r[0] as number) <= upTo) r[0] = upTo + 1
    if (r.length === 0) this.ranges = NO_RANGES
    this.foldRanges(before)
  }

  /** Entries below `first` no longer exist: they count as acknowledged. */
  advanceTo (first: number): void {
    if (first - 1 > this.markDelete) this.ackCumulative(first - 1)
  }

  private foldRanges (before = this.markDelete - 1): void {
    const r = this.ranges
    let drop = 0
    while (drop < r.length && (r[drop] as number) <= this.markDelete + 1) {
      this.markDelete = Math.max(this.markDelete, r[drop + 1] as number)
      drop += 2
    }
    if (drop > 0) r.splice(0, drop)
    if (r.length === 0) this.ranges = NO_RANGES
    this.deliveries?.markDeleteAdvanced(before, this.markDelete)
  }

  memory (): CursorMemory {
    const d = this.deliveries?.sizes()
    return { ackRanges: this.rangeCount, countedEntries: d?.counted ?? 0, holeRanges: d?.holeRanges ?? 0 }
  }

  /** The hand-out record for `ids` (valid, unsorted, may repeat); undefined when it changes nothing. */
  planHandOut (ids: readonly number[]): HandOut | undefined {
    // In-order delivery (nearly every batch) hands the ids over ascending already: no copy and no sort then.
    const sorted = isAscending(ids) ? ids : ids.slice().sort((a, b) => a - b)
    return (this.deliveries ?? new DeliveryCounts(this.markDelete)).plan(sorted, this.markDelete)
  }

  applyHandOut (h: HandOut): void {
    this.deliveries ??= new DeliveryCounts(this.markDelete)
    this.deliveries.apply(h, this.markDelete, (id) => this.isAcked(id))
  }

  /** One more delivery of entryId (the per-entry record of older logs, and tests). */
  recordDelivery (entryId: number): void {
    if (this.isAcked(entryId)) return
    this.deliveries ??= new DeliveryCounts(this.markDelete)
    this.deliveries.bump(entryId)
  }

  deliveryCount (entryId: number): number {
    if (this.deliveries === null || this.isAcked(entryId)) return 0
    return this.deliveries.countOf(entryId)
  }

  /** Unacknowledged entries in [max(markDelete + 1, first), next). */
  backlog (first: number, next: number): number {
    const from = Math.max(this.markDelete + 1, first)
    if (next <= from) return 0
    let n = next - from
    const r = this.ranges
    for (let i = 0; i < r.length; i += 2) {
      const s = Math.max(r[i] as number, from)
      const e = Math.min(r[i + 1] as number, next - 1)
      if (e >= s) n -= e - s + 1
    }
    return n
  }

  rangePairs (): Array<readonly [number, number]> {
    const out: Array<readonly [number, number]> = []
    for (let i = 0; i < this.ranges.length; i += 2) out.push([this.ranges[i] as number, this.ranges[i + 1] as number])
    return out
  }

  snapshot (): CursorSnapshot {
    const s: CursorSnapshot = { sub: this.sub, markDelete: this.markDelete, ranges: this.ranges.slice(), deliveries: [] }
    if (this.deliveries !== null) {
      const d = this.deliveries.snapshot()
      s.deliveries = d.counts
      s.handedOutUpTo = d.upTo
      if (d.holes.length > 0) s.holes = d.holes
    }
    return s
  }

  static fromSnapshot (s: CursorSnapshot): CursorState {
    const c = new CursorState(s.sub, true, s.markDelete)
    c.ranges = s.ranges.length === 0 ? NO_RANGES : s.ranges.slice()
    if (s.handedOutUpTo !== undefined || s.deliveries.length > 0) {
      // Older checkpoints have no watermark: their counts are all explicit (the watermark starts at markDelete).
      c.deliveries = DeliveryCounts.fromSnapshot({ upTo: s.handedOutUpTo ?? s.markDelete, counts: s.deliveries, holes: s.holes ?? [] })
    }
    return c
  }
}

/**
 * Whether ids[i] <= ids[i + 1] throughout (repeats allowed). In-order delivery hands the ids over ascending nearly
 * always: checking first spares the copy and the sort's scratch array per round (with the dispatcher's own sort
 * before it, ~6% of the gateway's bytes in an allocation sample of the open-loop run, session 14).
 */
function isAscending (ids: readonly number[]): boolean {
  for (let i = 1; i < ids.length; i++) if ((ids[i - 1] as number) > (ids[i] as number)) return false
  return true
}
