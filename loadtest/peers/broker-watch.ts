/**
 * What a Node-hosted broker's own process did during a measured run, for
 * telling where a latency tail comes from (broker-child.ts answers it on
 * `watch-start` / `watch-stop`):
 *
 *   loopDelay  the broker's event-loop delay (perf_hooks, 1 ms resolution):
 *              a message arriving during a long turn waits for its end
 *   gc         every GC pause (PerformanceObserver 'gc'): count, p99, max and
 *              total by kind (minor = scavenge, major = mark-compact,
 *              incremental = marking steps, weakcb = weak callbacks)
 *   publish    Ferry only: each publish from receipt to its durable
 *              acknowledgement (the gateway's own publish timer, gateway/ops)
 *   fsync      Ferry only: each ledger fdatasync or O_DSYNC write
 *
 * publish and fsync are read by wrapping the `observe` of the gateway's
 * metrics histograms in this benchmark process: nothing in the gateway
 * changes, and their values are the ones /metrics would bucket.
 */
import { monitorEventLoopDelay, PerformanceObserver, constants as perfConstants, type IntervalHistogram } from 'node:perf_hooks'

/** Sampling period of the loop delay monitor, ms (its finest). */
const LOOP_DELAY_RESOLUTION_MS = 1
/** Most timings a series keeps (10,000 msgs/s for a minute); past it, the series counts but does not keep. */
const SERIES_VALUES_MAX = 600_000

export interface SeriesFigures { count: number, p50Ms: number, p99Ms: number, maxMs: number, totalMs: number }
export interface BrokerWatchFigures {
  /** How long the watch ran, ms. */
  windowMs: number
  loopDelay: { p50Ms: number, p99Ms: number, maxMs: number }
  gc: SeriesFigures & { byKind: Record<string, { count: number, totalMs: number, maxMs: number }> }
  publish?: SeriesFigures
  fsync?: SeriesFigures
}

const round2 = (ms: number): number => Math.round(ms * 100) / 100

/** Timings in ms, kept to take percentiles at the end. */
export class Series {
  private values: number[] = []
  private count = 0
  private total = 0
  private max = 0

  add (ms: number): void {
    this.count++
    this.total += ms
    if (ms > this.max) this.max = ms
    if (this.values.length < SERIES_VALUES_MAX) this.values.push(ms)
  }

  figures (): SeriesFigures {
    const s = Float64Array.from(this.values).sort()
    const at = (q: number): number => s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number
    return { count: this.count, p50Ms: round2(at(0.5)), p99Ms: round2(at(0.99)), maxMs: round2(this.max), totalMs: round2(this.total) }
  }
}

const GC_KIND: Record<number, string> = {
  [perfConstants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb'
}

/** Something with an `observe(seconds)` (the gateway's LightHistogram). */
export interface Observed { observe: (seconds: number) => void }

export class BrokerWatch {
  private readonly loop: IntervalHistogram = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS })
  private readonly gc = new Series()
  private readonly gcByKind = new Map<string, { count: number, totalMs: number, maxMs: number }>()
  private readonly observer: PerformanceObserver
  private readonly startMs = performance.now()
  private readonly taps: Array<{ name: 'publish' | 'fsync', series: Series, target: Observed, original: Observed['observe'] }> = []

  constructor () {
    this.observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        this.gc.add(e.duration)
        const kind = GC_KIND[((e as unknown as { detail?: { kind?: number } }).detail)?.kind ?? -1] ?? 'other'
        const k = this.gcByKind.get(kind) ?? { count: 0, totalMs: 0, maxMs: 0 }
        k.count++
        k.totalMs += e.duration
        k.maxMs = Math.max(k.maxMs, e.duration)
        this.gcByKind.set(kind, k)
      }
    })
    this.observer.observe({ entryTypes: ['gc'] })
    this.loop.enable()
  }

  /** Also records every value TARGET observes (seconds) as NAME, until stop(). */
  tap (name: 'publish' | 'fsync', target: Observed): void {
    const series = new Series()
    const original = target.observe
    target.observe = (seconds) => { series.add(seconds * 1000); original.call(target, seconds) }
    this.taps.push({ name, series, target, original })
  }

  stop (): BrokerWatchFigures {
    this.loop.disable()
    this.observer.disconnect()
    for (const t of this.taps) t.target.observe = t.original
    const ms = (ns: number): number => Number.isFinite(ns) ? round2(ns / 1e6) : 0
    const byKind: Record<string, { count: number, totalMs: number, maxMs: number }> = {}
    for (const [k, v] of this.gcByKind) byKind[k] = { count: v.count, totalMs: round2(v.totalMs), maxMs: round2(v.maxMs) }
    const out: BrokerWatchFigures = {
      windowMs: round2(performance.now() - this.startMs),
      loopDelay: this.loop.count > 0 ? { p50Ms: ms(this.loop.percentile(50)), p99Ms: ms(this.loop.percentile(99)), maxMs: ms(this.loop.max) } : { p50Ms: 0, p99Ms: 0, maxMs: 0 },
      gc: { ...this.gc.figures(), byKind }
    }
    for (const t of this.taps) out[t.name] = t.series.figures()
    return out
  }
}
