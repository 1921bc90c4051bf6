/**
 * Telling a subscription's consumers who is active after a join or leave
 * (exclusive, failover): the consumer that stops being active keeps its
 * connection but stops receiving, and what it held goes to the new one; in
 * failover mode every consumer learns whether it is the active one
 * (sink.activeChanged), as in Pulsar. Who is active is consumer-set.ts's
 * choice; this file only acts on it.
 */
import type { Logger } from '../../common/log.js'
import type { TopicName } from '../../store/index.js'
import type { ConsumerImpl } from './consumer.js'
import type { ConsumerSet } from './consumer-set.js'
import type { TopicStream } from './stream.js'
import { SubscriptionMode } from './types.js'

/** The subscription as seen here (subscription.ts), its fields read when the functions run. */
export interface ActiveHost {
  readonly consumers: ConsumerSet
  readonly streams: ReadonlyMap<TopicName, TopicStream>
  readonly mode: SubscriptionMode
  readonly logger: Logger
}

/** After consumers joined or left: recompute who receives and tell the consumers whose state changed. */
export function membershipChanged (sub: ActiveHost): void {
  const { changed, prev } = sub.consumers.membershipChanged()
  if (!changed) return
  if (prev !== undefined && !prev.closed) {
    // The old active consumer keeps its connection but stops receiving; what it holds goes to the new one.
    for (const s of sub.streams.values()) s.rewind()
    notifyActive(sub.logger, prev, false)
  }
  const next = sub.consumers.active
  if (next !== undefined && sub.mode === SubscriptionMode.failover) notifyActive(sub.logger, next, true)
}

/** sink.activeChanged in a microtask (never from inside the join or leave that caused it), not once its consumer has closed. */
export function notifyActive (logger: Logger, c: ConsumerImpl, active: boolean): void {
  queueMicrotask(() => {
    if (c.closed) return
    try { c.sink.activeChanged?.(active) } catch (err) { logger.warn({ err }, 'sink.activeChanged threw') }
  })
}
