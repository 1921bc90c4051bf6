/** What subscriptions and streams need from the dispatcher that owns them. */
import type { Logger } from '../../common/log.js'
import type { EntryId, Ledger, LedgerEntry, MessageProps, TopicName } from '../../store/index.js'
import type { ResultOutcome } from './dead-letter.js'
import type { TopicStream } from './stream.js'
import type { Subscription } from './subscription.js'

export interface DispatchContext {
  readonly ledger: Ledger
  readonly logger: Logger
  /** Run background work (cursor writes, result events); close() waits for it; failures are logged. */
  track: (work: Promise<unknown>, what: string) => void
  /** Publish a result event if props.resultTopic is set. */
  emitResult: (topic: TopicName, entryId: EntryId, props: MessageProps, subscription: string, outcome: ResultOutcome) => void
  /** Append the dead-letter copy of entry (resolves once durable). */
  deadLetter: (topic: TopicName, subscription: string, entry: LedgerEntry, reason: string) => Promise<void>
  /** Acks moved a topic's backlog: wake publishers held by producer_hold. */
  backlogChanged: (topic: TopicName) => void
  streamAdded: (s: TopicStream) => void
  /** A non-durable subscription lost its last consumer: delete its cursors and forget it. */
  dropSubscription: (sub: Subscription) => Promise<void>
}
