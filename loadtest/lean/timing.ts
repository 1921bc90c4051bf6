/**
 * What the lean generator measures, apart from what it checks: latency
 * histograms, the open loop's schedule, and how late the generator itself was,
 * so a reader can tell the broker's tail from the generator's.
 *
 * Open loop, a message's due time is on the 1 ms tick grid: publisher p's
 * message seq is due at the first tick at or after seq / rate. The sender wakes
 * at each tick's absolute time (not an interval that drifts by the callback's
 * own time) and sends every message due by then; a punctual loop therefore
 * sends each tick's few messages at their due time (send lateness ~0), and only
 * a late event loop sends a tick's backlog at once, which sendLate shows.
 *
 *   ack            PUBACK − due time: what a client that wanted to send at the
 *                  due time waits (coordinated-omission free)
 *   ackFromSend    PUBACK − actual send
 *   delivery       delivery to a subscriber − due time (the `latencyMs` figures)
 *   deliveryFromSend  delivery − actual send
 *   sendLate       actual send − due time (0 in closed loop)
 *   loopDelay      the generator's own event-loop delay (perf_hooks)
 */
import * as hdr from 'hdr-histogram-js'
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'

/** Open-loop scheduler tick, ms: due times sit on this grid. */
export const OPEN_LOOP_TICK_MS = 1
/** Highest latency the histograms track, µs (one minute). */
const LATENCY_US_MAX = 60_000_000
/** Sampling period of the generator's event-loop delay monitor, ms (its finest). */
const LOOP_DELAY_RESOLUTION_MS = 1

export interface Percentiles { p50: number, p99: number, p999: number, max: number }

/** Due time of message SEQ of a publisher sending PER_PUB_RATE msgs/s from START_MS, ms: on the tick grid. */
export function openLoopDueMs (startMs: number, seq: number, perPubRatePerSec: number): number {
  const exactMs = (seq * 1000) / perPubRatePerSec
  // The float error of seq * 1000 / rate must not push an exact tick to the next one.
  const ticks = Math.ceil(exactMs / OPEN_LOOP_TICK_MS - 1e-9)
  return startMs + ticks * OPEN_LOOP_TICK_MS
}

/** Messages of one publisher due by ELAPSED_MS after the start (the count of seqs whose due time has come). */
export function openLoopDueCount (elapsedMs: number, perPubRatePerSec: number): number {
  const ticks = Math.floor(elapsedMs / OPEN_LOOP_TICK_MS + 1e-9)
  return Math.floor((ticks * OPEN_LOOP_TICK_MS * perPubRatePerSec) / 1000 + 1e-9) + 1
}

class Hist {
  private readonly h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: LATENCY_US_MAX, numberOfSignificantValueDigits: 3 })

  recordMs (ms: number): void {
    this.h.recordValue(Math.min(Math.max(1, Math.round(ms * 1000)), LATENCY_US_MAX))
  }

  percentiles (): Percentiles {
    const pct = (q: number): number => Math.round(this.h.getValueAtPercentile(q) / 10) / 100
    return { p50: pct(50), p99: pct(99), p999: pct(99.9), max: Math.round(this.h.maxValue / 10) / 100 }
  }

  destroy (): void { this.h.destroy() }
}

export interface LeanTimingFigures {
  /** Delivery to a subscriber, from the due time (open loop) or the send (closed loop). */
  delivery: Percentiles
  deliveryFromSend: Percentiles
  /** PUBACK, from the due time. */
  ack: Percentiles
  ackFromSend: Percentiles
  sendLate: Percentiles
  /** The generator's own event-loop delay while measuring, ms. */
  generatorLoopDelay: { p50: number, p99: number, max: number }
}

export class LeanTiming {
  readonly delivery = new Hist()
  readonly deliveryFromSend = new Hist()
  readonly ack = new Hist()
  readonly ackFromSend = new Hist()
  readonly sendLate = new Hist()
  private readonly loop: IntervalHistogram = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS })

  /** Start sampling the generator's loop delay (when measuring starts). */
  startLoopMonitor (): void { this.loop.enable() }
  stopLoopMonitor (): void { this.loop.disable() }

  figures (): LeanTimingFigures {
    const ms = (ns: number): number => Number.isFinite(ns) ? Math.round(ns / 1e4) / 100 : 0
    return {
      delivery: this.delivery.percentiles(),
      deliveryFromSend: this.deliveryFromSend.percentiles(),
      ack: this.ack.percentiles(),
      ackFromSend: this.ackFromSend.percentiles(),
      sendLate: this.sendLate.percentiles(),
      generatorLoopDelay: this.loop.count > 0 ? { p50: ms(this.loop.percentile(50)), p99: ms(this.loop.percentile(99)), max: ms(this.loop.max) } : { p50: 0, p99: 0, max: 0 }
    }
  }

  destroy (): void {
    this.loop.disable()
    for (const h of [this.delivery, this.deliveryFromSend, this.ack, this.ackFromSend, this.sendLate]) h.destroy()
  }
}
