/**
 * A consumer attached to a subscription: a sink, its permits, and the entries
 * it holds unacknowledged. All behaviour lives in the subscription; this is
 * the handle a front end keeps.
 */
import { CommonCode, FerryError } from '../../common/errors.js'
import type { EntryId, TopicName } from '../../store/index.js'
import { CONSUMER_PERMITS_MAX } from './constants.js'
import type { Inflight } from './inflight.js'
import type { Subscription } from './subscription.js'
import type { AckResult, Consumer, ConsumerSink } from './types.js'

export class ConsumerImpl implements Consumer {
  private permitsLeft: number
  closed = false
  /** Delivered, unacknowledged entries (over every topic of the subscription). */
  private readonly held = new Set<Inflight>()

  constructor (
    readonly id: number,
    private readonly sub: Subscription,
    readonly name: string,
    readonly priority: number,
    readonly sink: ConsumerSink,
    permits: number
  ) {
    this.permitsLeft = permits
  }

  get permits (): number { return this.permitsLeft }
  /** Entries this consumer holds delivered and unacknowledged. */
  holding (): Inflight[] { return [...this.held] }

  /** rec was handed to this consumer: one permit used. */
  took (rec: Inflight): void {
    this.permitsLeft--
    this.held.add(rec)
  }

  /** rec left this consumer (acked, nacked, returned, expired). */
  released (rec: Inflight): void { this.held.delete(rec) }

  /** A hand-out did not reach the sink after all (it expired on the way): the permit comes back. */
  refund (): void { this.permitsLeft++ }

  /** Detached: it holds nothing any more. */
  detached (): void { this.held.clear() }

  get subscription (): string { return this.sub.name }

  addPermits (messages: number): void {
    if (!Number.isInteger(messages) || messages < 0) throw new FerryError(CommonCode.BAD_REQUEST, 'permits must be a non-negative integer')
    if (this.closed || messages === 0) return
    this.permitsLeft = Math.min(CONSUMER_PERMITS_MAX, this.permitsLeft + messages)
    this.sub.kick()
  }

  // Not async: Subscription.ack is, and a second async frame per acknowledged message is a promise and ticks for nothing.
  ack (topic: TopicName, entryId: EntryId): Promise<AckResult> {
    return this.sub.ack(topic, [entryId])
  }

  ackNoWait (topic: TopicName, entryId: EntryId): void {
    this.sub.ackNoWait(topic, entryId)
  }

  async ackCumulative (topic: TopicName, entryId: EntryId): Promise<AckResult> {
    return await this.sub.ackCumulative(topic, entryId)
  }

  expire (topic: TopicName, entryId: EntryId): boolean {
    for (const rec of this.held) if (rec.entryId === entryId && rec.stream.topic === topic) return this.sub.expireDelivered(topic, entryId)
    return false
  }

  nack (topic: TopicName, entryId: EntryId, reason?: string): void {
    this.sub.nack(topic, [entryId], reason)
  }

  async close (): Promise<void> {
    await this.sub.removeConsumer(this)
  }
}
