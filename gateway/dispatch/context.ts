/** What subscriptions need from the dispatcher that owns them. */
import type { Ledger } from '../../store/index.js'
import type { StreamEnv } from './stream-host.js'
import type { Subscription } from './subscription.js'
import type { TopicSubscriptions } from './spanned-topics.js'

export interface DispatchContext extends StreamEnv {
  readonly ledger: Ledger
  /** Records (delivered plus waiting for redelivery) a subscription may hold: PENDING_ACK_ENTRIES_MAX unless a test lowers it. */
  readonly recordsMax: number
  /** The subscriptions with a cursor on each topic (the dispatcher routes a topic's appends through it); subscriptions add to it through their SpannedTopics. */
  readonly topicIndex: TopicSubscriptions<Subscription>
  /** A non-durable subscription lost its last consumer: delete its cursors and forget it. */
  dropSubscription: (sub: Subscription) => Promise<void>
}
