/**
 * A set of entry ids kept as inclusive, disjoint, non-adjacent ranges in one
 * flat ascending array [s0, e0, s1, e1, ...]: a run of a million ids costs two
 * numbers. Used for a cursor's "handed-out holes" (entries at or below the
 * handed-out watermark that were never delivered).
 */
export class RangeSet {
  private r: number[] = []

  get rangeCount (): number { return this.r.length / 2 }
  get isEmpty (): boolean { return this.r.length === 0 }

  /** Index (even) of the range containing id, or -1. */
  private indexOf (id: number): number {
    const r = this.r
    let lo = 0
    let hi = r.length / 2 - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if (id < (r[mid * 2] as number)) hi = mid - 1
      else if (id > (r[mid * 2 + 1] as number)) lo = mid + 1
      else return mid * 2
    }
    return -1
  }

  has (id: number): boolean { return this.indexOf(id) >= 0 }

  /** Add [s, e]. Ranges added above every existing one cost O(1) (the usual case). */
  add (s: number, e: number): void {
    if (e < s) return
    const r = this.r
    const lastEnd = r.length === 0 ? Number.NEGATIVE_INFINITY : r[r.length - 1] as number
    if (s > lastEnd + 1) { r.push(s, e); return }
    if (s >= (r[r.length - 2] as number)) { r[r.length - 1] = Math.max(lastEnd, e); return }
    // General case (not used on the hot path): rebuild with the union.
    const out: number[] = []
    let placed = false
    for (let i = 0; i < r.length; i += 2) {
      const rs = r[i] as number
      const re = r[i + 1] as number
      if (!placed && s < rs) { pushMerged(out, s, e); placed = true }
      pushMerged(out, rs, re)
    }
    if (!placed) pushMerged(out, s, e)
    this.r = out
  }

  delete (id: number): void {
    const i = this.indexOf(id)
    if (i < 0) return
    const r = this.r
    const s = r[i] as number
    const e = r[i + 1] as number
    if (s === e) r.splice(i, 2)
    else if (id === s) r[i] = s + 1
    else if (id === e) r[i + 1] = e - 1
    else { r[i + 1] = id - 1; r.splice(i + 2, 0, id + 1, e) }
  }

  /** Forget every id below `first`. O(ranges dropped). */
  dropBelow (first: number): void {
    const r = this.r
    let drop = 0
    while (drop < r.length && (r[drop + 1] as number) < first) drop += 2
    if (drop > 0) r.splice(0, drop)
    if (r.length > 0 && (r[0] as number) < first) r[0] = first
  }

  toArray (): number[] { return this.r.slice() }

  static fromArray (flat: readonly number[]): RangeSet {
    const s = new RangeSet()
    s.r = flat.slice()
    return s
  }
}

function pushMerged (out: number[], s: number, e: number): void {
  const n = out.length
  if (n > 0 && s <= (out[n - 1] as number) + 1) out[n - 1] = Math.max(out[n - 1] as number, e)
  else out.push(s, e)
}
