/**
 * Namespace publish rate (`publishRateMsgsPerSec`): a token bucket per
 * namespace holding at most one second of tokens, so a burst of up to the
 * rate passes and a steady stream above it is refused with E_RATE_LIMIT
 * (HTTP 429, MQTT 0x96). 0 means unlimited.
 */
import { DispatchCode, dispatchError } from './errors.js'

interface Bucket { tokens: number, atMs: number }

export class PublishRateLimiter {
  private readonly buckets = new Map<string, Bucket>()

  take (namespace: string, ratePerSec: number): void {
    if (ratePerSec <= 0) return
    const now = Date.now()
    let b = this.buckets.get(namespace)
    if (b === undefined) { b = { tokens: ratePerSec, atMs: now }; this.buckets.set(namespace, b) }
    b.tokens = Math.min(ratePerSec, b.tokens + (now - b.atMs) * ratePerSec / 1000)
    b.atMs = now
    if (b.tokens < 1) {
      throw dispatchError(DispatchCode.RATE_LIMIT, `namespace ${namespace} is limited to ${ratePerSec} messages per second`, { publishRateMsgsPerSec: ratePerSec })
    }
    b.tokens -= 1
  }
}
