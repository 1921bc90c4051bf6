/**
 * Per-message leases of pulled messages. A message handed to an HTTP client
 * is leased for the request's `leaseMs`; when the lease runs out before the
 * client acks (or nacks) it, the message is nacked back to its subscription
 * and redelivered (with its redelivery count + 1, like Pulsar's ack timeout).
 * The lease belongs to the message, not to the polling: a client that keeps
 * polling but never acks still gets its messages back.
 *
 * Messages handed out together share one lease batch (one deadline), so the
 * book costs one entry per message plus one per response, and one timer.
 */
import type { EntryId, TopicName } from '../../store/index.js'

export interface LeasedMessage { topic: TopicName, entryId: EntryId }

interface LeaseBatch {
  deadlineMs: number
  readonly messages: Map<string, LeasedMessage>
}

function keyOf (topic: TopicName, entryId: EntryId): string {
  return `${topic}\u0000${entryId}`
}

export class LeaseBook {
  private readonly byMessage = new Map<string, LeaseBatch>()
  /** Ascending deadline. Emptied batches are dropped from the front, or compacted once they are most of the list. */
  private batches: LeaseBatch[] = []
  private emptyBatches = 0
  private timer: NodeJS.Timeout | undefined
  private closed = false

  /** `expired` gets every message whose lease ran out (once each); it must not throw. */
  constructor (private readonly expired: (messages: LeasedMessage[]) => void) {}

  /** Messages under lease. */
  get size (): number { return this.byMessage.size }

  /** Lease messages until deadlineMs. A message leased again (redelivered) moves to the new deadline. */
  lease (messages: readonly LeasedMessage[], deadlineMs: number): void {
    if (this.closed || messages.length === 0) return
    const batch: LeaseBatch = { deadlineMs, messages: new Map() }
    for (const m of messages) {
      const k = keyOf(m.topic, m.entryId)
      this.forget(k)
      batch.messages.set(k, { topic: m.topic, entryId: m.entryId })
      this.byMessage.set(k, batch)
    }
    // Requests usually share one leaseMs, so the new batch goes last; binary search covers the rest.
    let lo = 0
    let hi = this.batches.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.batches[mid] as LeaseBatch).deadlineMs <= deadlineMs) lo = mid + 1
      else hi = mid
    }
    this.batches.splice(lo, 0, batch)
    if (lo === 0) this.arm()
  }

  /** The client acked, nacked or gave the message back: its lease ends without a redelivery. */
  release (topic: TopicName, entryId: EntryId): void {
    this.forget(keyOf(topic, entryId))
  }

  /** The consumer is gone: the dispatcher takes back what it held, so no lease needs to fire. */
  close (): void {
    this.closed = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.byMessage.clear()
    this.batches = []
  }

  private forget (k: string): void {
    const batch = this.byMessage.get(k)
    if (batch === undefined) return
    this.byMessage.delete(k)
    batch.messages.delete(k)
    if (batch.messages.size === 0) this.emptyBatches++
    this.dropEmpty()
  }

  private dropEmpty (): void {
    while (this.batches.length > 0 && (this.batches[0] as LeaseBatch).messages.size === 0) {
      this.batches.shift()
      this.emptyBatches--
    }
    if (this.emptyBatches > 64 && this.emptyBatches * 2 > this.batches.length) {
      this.batches = this.batches.filter((b) => b.messages.size > 0)
      this.emptyBatches = 0
    }
  }

  private arm (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    const first = this.batches[0]
    if (first === undefined || this.closed) return
    this.timer = setTimeout(() => { this.fire() }, Math.max(1, first.deadlineMs - Date.now()))
    this.timer.unref()
  }

  private fire (): void {
    this.timer = undefined
    const now = Date.now()
    const out: LeasedMessage[] = []
    while (this.batches.length > 0 && (this.batches[0] as LeaseBatch).deadlineMs <= now) {
      const batch = this.batches.shift() as LeaseBatch
      if (batch.messages.size === 0) { this.emptyBatches--; continue }
      for (const [k, m] of batch.messages) { this.byMessage.delete(k); out.push(m) }
    }
    this.arm()
    if (out.length > 0) this.expired(out)
  }
}
