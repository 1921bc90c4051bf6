/** What subscriptions need from the dispatcher that owns them. */
import type { Ledger, TopicName } from '../../store/index.js'
import type { StreamEnv } from './stream-host.js'
import type { Subscription } from './subscription.js'

export interface DispatchContext extends StreamEnv {
  readonly ledger: Ledger
  /** Records (delivered plus waiting for redelivery) a subscription may hold: PENDING_ACK_ENTRIES_MAX unless a test lowers it. */
  readonly recordsMax: number
  /** A subscription has a cursor on a new topic (the dispatcher routes the topic's appends to it). */
  topicSpanned: (topic: TopicName, sub: Subscription) => void
  /** A non-durable subscription lost its last consumer: delete its cursors and forget it. */
  dropSubscription: (sub: Subscription) => Promise<void>
}
