/**
 * One timer per subscription for everything time-driven (redelivery backoff,
 * ack timeout, delayed delivery): never one timer per message.
 */
import { ALARM_DELAY_MS_MIN } from './constants.js'

export class Alarm {
  private timer: NodeJS.Timeout | undefined
  private atMs = Number.POSITIVE_INFINITY
  private stopped = false

  constructor (private readonly fire: () => void) {}

  /** Make sure the alarm fires no later than atMs (an earlier setting wins). */
  at (atMs: number): void {
    if (this.stopped || !Number.isFinite(atMs) || atMs >= this.atMs) return
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.atMs = atMs
    const delay = Math.max(ALARM_DELAY_MS_MIN, atMs - Date.now())
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.atMs = Number.POSITIVE_INFINITY
      this.fire()
    }, delay)
  }

  stop (): void {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }
}
