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

  /** Quantile estimate from the buckets (upper bound of the bucket holding it), for the console. */
  quantile (q: number): number | undefined {
    if (this.count === 0) return undefined
    const target = q * this.count
    let seen = 0
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] as number
      if (seen >= target) return i < this.boundsSeconds.length ? this.boundsSeconds[i] : Number.POSITIVE_INFINITY
    }
    return undefined
  }

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
