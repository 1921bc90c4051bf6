/** What subscriptions need from the dispatcher that owns them. */
import type { Ledger } from '../../store/index.js'
import type { TopicStream } from './stream.js'
import type { StreamEnv } from './stream-host.js'
import type { Subscription } from './subscription.js'

export interface DispatchContext extends StreamEnv {
  readonly ledger: Ledger
  /** Records (delivered plus waiting for redelivery) a subscription may hold: PENDING_ACK_ENTRIES_MAX unless a test lowers it. */
  readonly recordsMax: number
  /** A subscription has a new stream (the dispatcher routes the topic's appends to it). */
  streamAdded: (s: TopicStream, sub: Subscription) => void
  /** A non-durable subscription lost its last consumer: delete its cursors and forget it. */
  dropSubscription: (sub: Subscription) => Promise<void>
}
