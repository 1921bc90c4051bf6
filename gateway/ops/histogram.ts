/**
 * A histogram for the hot paths (publish, fsync, delivery): a fixed bucket
 * array, no labels, no allocation per observation. prom-client's Histogram
 * hashes a label object and builds a closure on every observe; this one is a
 * short loop and three additions. Exported through `CollectedMetric`.
 */
import type { Sample } from './collected.js'

export class LightHistogram {
  /** Non-cumulative counts; the last slot is +Inf. */
  private readonly counts: Float64Array
  private sum = 0
  private count = 0

  constructor (readonly boundsSeconds: readonly number[]) {
    for (let i = 1; i < boundsSeconds.length; i++) {
      if (!((boundsSeconds[i] as number) > (boundsSeconds[i - 1] as number))) throw new Error('histogram bounds must ascend')
    }
    this.counts = new Float64Array(boundsSeconds.length + 1)
  }

  observe (seconds: number): void {
    const b = this.boundsSeconds
    let i = 0
    while (i < b.length && seconds > (b[i] as number)) i++
    this.counts[i] = (this.counts[i] as number) + 1
    this.sum += seconds
    this.count++
  }

  /** Observations so far (tests, console). */
  get observations (): number { return this.count }

  /** Quantile estimate since start (upper bound of the bucket holding it). */
  quantile (q: number): number | undefined {
    return quantileOf(this.boundsSeconds, this.counts, q)
  }

  /** A copy of the bucket counts (for windowed quantiles). */
  countsCopy (): Float64Array { return Float64Array.from(this.counts) }

  /** Prometheus samples: cumulative `_bucket{le}`, `_sum`, `_count`. */
  samples (name: string): Sample[] {
    const out: Sample[] = []
    let cum = 0
    for (let i = 0; i < this.boundsSeconds.length; i++) {
      cum += this.counts[i] as number
      out.push({ metricName: `${name}_bucket`, labels: { le: this.boundsSeconds[i] as number }, value: cum })
    }
    cum += this.counts[this.boundsSeconds.length] as number
    out.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: cum })
    out.push({ metricName: `${name}_sum`, value: this.sum })
    out.push({ metricName: `${name}_count`, value: this.count })
    return out
  }
}

/** Quantile from non-cumulative bucket counts: the upper bound of the bucket holding it; undefined when empty. */
export function quantileOf (bounds: readonly number[], counts: Float64Array, q: number): number | undefined {
  let total = 0
  for (const c of counts) total += c
  if (total === 0) return undefined
  const target = q * total
  let seen = 0
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i] as number
    if (seen >= target) return i < bounds.length ? bounds[i] : Number.POSITIVE_INFINITY
  }
  return undefined
}

/** Snapshots kept per windowed quantile: one per second over the window. */
const RECENT_SNAPSHOTS_MAX = 64
/** Snapshots closer than this are not taken, ms. */
const RECENT_SNAPSHOT_MIN_MS = 1000

/**
 * Quantiles over the last `windowMs` (what the console's live charts show):
 * the histogram's counts now minus its counts one window ago, from a small
 * ring of snapshots taken when asked (at most one a second).
 */
export class RecentQuantiles {
  private readonly ring: Array<{ atMs: number, counts: Float64Array }> = []

  constructor (private readonly h: LightHistogram, private readonly windowMs = 10_000, startMs = Date.now()) {
    // Everything observed before the first question counts as recent.
    this.ring.push({ atMs: startMs, counts: new Float64Array(h.boundsSeconds.length + 1) })
  }

  quantile (q: number, nowMs = Date.now()): number | undefined {
    const last = this.ring[this.ring.length - 1]
    if (last === undefined || nowMs - last.atMs >= RECENT_SNAPSHOT_MIN_MS) {
      this.ring.push({ atMs: nowMs, counts: this.h.countsCopy() })
      if (this.ring.length > RECENT_SNAPSHOTS_MAX) this.ring.shift()
    }
    while (this.ring.length > 2 && nowMs - (this.ring[1] as { atMs: number }).atMs >= this.windowMs) this.ring.shift()
    const base = (this.ring[0] as { counts: Float64Array }).counts
    const now = this.h.countsCopy()
    for (let i = 0; i < now.length; i++) now[i] = (now[i] as number) - (base[i] as number)
    return quantileOf(this.h.boundsSeconds, now, q)
  }
}
