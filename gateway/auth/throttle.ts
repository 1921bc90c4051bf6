/**
 * Failed authentication per client address: after AUTH_FAILURES_BEFORE_DELAY
 * failures refusals are slowed down (MQTT CONNACK held back), after
 * AUTH_FAILURES_BEFORE_BLOCK the address is refused outright for
 * AUTH_BLOCK_MS. The table is bounded (oldest entry evicted, counted) so a
 * spray of addresses cannot grow memory. Addresses are compared without the
 * port: a client reconnecting gets a new port, not a clean slate.
 */
import {
  AUTH_BLOCK_MS, AUTH_FAILURE_DELAY_MS_MAX, AUTH_FAILURE_DELAY_STEP_MS, AUTH_FAILURE_TABLE_ENTRIES_MAX,
  AUTH_FAILURE_WINDOW_MS, AUTH_FAILURES_BEFORE_BLOCK, AUTH_FAILURES_BEFORE_DELAY
} from './constants.js'

interface Entry { failures: number, lastAtMs: number, blockedUntilMs: number }

export interface ThrottleStats { tracked: number, failures: number, blockedRefusals: number, evicted: number }

export interface ThrottleLimits {
  entriesMax: number
  failuresBeforeDelay: number
  failuresBeforeBlock: number
  blockMs: number
}

export const DEFAULT_THROTTLE_LIMITS: Readonly<ThrottleLimits> = Object.freeze({
  entriesMax: AUTH_FAILURE_TABLE_ENTRIES_MAX,
  failuresBeforeDelay: AUTH_FAILURES_BEFORE_DELAY,
  failuresBeforeBlock: AUTH_FAILURES_BEFORE_BLOCK,
  blockMs: AUTH_BLOCK_MS
})

/** `1.2.3.4:5678` / `[::1]:5678` / `::1` → the host part. */
export function hostOf (address: string): string {
  const m = /^\[(.*)\]:\d+$/.exec(address)
  if (m !== null) return m[1] as string
  const colons = address.split(':').length - 1
  if (colons === 1) return address.slice(0, address.lastIndexOf(':'))
  return address
}

export class FailureThrottle {
  /** Map order is insertion order: re-inserting on each failure keeps the oldest first for eviction. */
  private readonly table = new Map<string, Entry>()
  private readonly counters = { failures: 0, blockedRefusals: 0, evicted: 0 }
  readonly limits: Readonly<ThrottleLimits>

  constructor (limits: Partial<ThrottleLimits> = {}) {
    this.limits = Object.freeze({ ...DEFAULT_THROTTLE_LIMITS, ...limits })
  }

  /** Is the address blocked now? Counts the refusal when it is. */
  blocked (address: string, nowMs = Date.now()): boolean {
    const e = this.table.get(hostOf(address))
    if (e === undefined || e.blockedUntilMs <= nowMs) return false
    this.counters.blockedRefusals++
    return true
  }

  /** Record a failure; returns how long to hold back the refusal, ms. */
  failed (address: string, nowMs = Date.now()): number {
    const host = hostOf(address)
    this.counters.failures++
    let e = this.table.get(host)
    if (e !== undefined && nowMs - e.lastAtMs > AUTH_FAILURE_WINDOW_MS) e = undefined
    if (e === undefined) e = { failures: 0, lastAtMs: nowMs, blockedUntilMs: 0 }
    e.failures++
    e.lastAtMs = nowMs
    if (e.failures >= this.limits.failuresBeforeBlock) e.blockedUntilMs = nowMs + this.limits.blockMs
    this.table.delete(host)
    this.table.set(host, e)
    while (this.table.size > this.limits.entriesMax) {
      const oldest = this.table.keys().next().value as string
      this.table.delete(oldest)
      this.counters.evicted++
    }
    const over = e.failures - this.limits.failuresBeforeDelay
    return over <= 0 ? 0 : Math.min(AUTH_FAILURE_DELAY_MS_MAX, over * AUTH_FAILURE_DELAY_STEP_MS)
  }

  /** A success clears the address's failures (not an active block). */
  succeeded (address: string, nowMs = Date.now()): void {
    const host = hostOf(address)
    const e = this.table.get(host)
    if (e !== undefined && e.blockedUntilMs <= nowMs) this.table.delete(host)
  }

  stats (): ThrottleStats { return { tracked: this.table.size, ...this.counters } }
}
