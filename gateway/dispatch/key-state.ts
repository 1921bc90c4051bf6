/**
 * key_shared bookkeeping of one (topic, subscription): which entries of each
 * ordering key wait in the read-ahead window (in log order), which consumer
 * holds unacknowledged entries of a key, and which keys have entries returned
 * by a consumer that closed. Together they keep per-key order across
 * rebalancing (see stream.ts).
 */
import type { ConsumerImpl } from './consumer.js'
import { Fifo } from './fifo.js'

export class KeyState {
  private readonly queues = new Map<string, Fifo<number>>()
  private readonly owners = new Map<string, { consumer: ConsumerImpl, n: number }>()
  private readonly returned = new Map<string, number>()

  /** An entry of `key` entered the window. */
  queued (key: string, entryId: number): void {
    let q = this.queues.get(key)
    if (q === undefined) { q = new Fifo<number>(); this.queues.set(key, q) }
    q.push(entryId)
  }

  /** Is this the oldest entry of its key in the window? */
  isOldest (key: string, entryId: number): boolean {
    return this.queues.get(key)?.peek() === entryId
  }

  /** An entry of `key` left the window (handed out or disposed of). */
  unqueued (key: string, entryId: number): void {
    const q = this.queues.get(key)
    if (q === undefined) return
    if (q.peek() === entryId) q.shift()
    else for (let j = 0; j < q.length; j++) if (q.at(j) === entryId) { q.removeAt(j); break }
    if (q.length === 0) this.queues.delete(key)
  }

  /** The consumer holding unacknowledged entries of `key`, if any. */
  ownerOf (key: string): ConsumerImpl | undefined { return this.owners.get(key)?.consumer }

  /** `c` was handed an entry of `key` (only when it owns the key or nobody does). */
  owned (key: string, c: ConsumerImpl): void {
    const o = this.owners.get(key)
    if (o !== undefined && o.consumer === c) o.n++
    else this.owners.set(key, { consumer: c, n: 1 })
  }

  /** An entry of `key` held by `c` was acknowledged, nacked or returned. */
  disowned (key: string, c: ConsumerImpl): void {
    const o = this.owners.get(key)
    if (o !== undefined && o.consumer === c && --o.n <= 0) this.owners.delete(key)
  }

  markReturned (key: string): void { this.returned.set(key, (this.returned.get(key) ?? 0) + 1) }

  unmarkReturned (key: string): void {
    const n = (this.returned.get(key) ?? 1) - 1
    if (n <= 0) this.returned.delete(key)
    else this.returned.set(key, n)
  }

  hasReturned (key: string): boolean { return this.returned.has(key) }
}
