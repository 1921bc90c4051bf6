/**
 * Rates from counters: each key keeps its last (value, time) sample; a rate
 * is the growth since the previous sample of the same key. Bounded: at most
 * RATE_SAMPLES_MAX keys, the oldest dropped first (a topic not looked at for
 * a while simply shows no rate on its next view).
 */
import { RATE_SAMPLES_MAX } from './constants.js'

/** Samples closer than this are not replaced, ms: two views in one burst would otherwise show 0. */
const RATE_SAMPLE_MIN_MS = 500

export class RateTracker {
  private readonly samples = new Map<string, { value: number, atMs: number, rate: number | undefined }>()

  /** Per-second rate of `value` since this key's previous sample; undefined on the first sample. */
  rate (key: string, value: number, nowMs = Date.now()): number | undefined {
    const s = this.samples.get(key)
    if (s === undefined) {
      if (this.samples.size >= RATE_SAMPLES_MAX) {
        const oldest = this.samples.keys().next().value
        if (oldest !== undefined) this.samples.delete(oldest)
      }
      this.samples.set(key, { value, atMs: nowMs, rate: undefined })
      return undefined
    }
    const dt = nowMs - s.atMs
    if (dt < RATE_SAMPLE_MIN_MS) return s.rate
    s.rate = Math.max(0, value - s.value) * 1000 / dt
    s.value = value
    s.atMs = nowMs
    // Refresh its place in the eviction order.
    this.samples.delete(key)
    this.samples.set(key, s)
    return s.rate
  }
}
