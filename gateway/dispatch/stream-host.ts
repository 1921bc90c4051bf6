/**
 * What a TopicStream needs from the subscription that owns it, as small
 * interfaces: the stream never reaches into the subscription's fields (its
 * stats, its context, its consumer list); it calls these.
 */
import type { Logger } from '../../common/log.js'
import type { EntryId, Ledger, LedgerEntry, MessageProps, TopicName } from '../../store/index.js'
import type { NamespacePolicy } from '../policy/index.js'
import type { ConsumerImpl } from './consumer.js'
import type { ResultOutcome } from './dead-letter.js'
import type { Inflight } from './inflight.js'
import type { TopicStream } from './stream.js'

/** The ledger calls a stream makes (reads, the delayed index, cancellations). */
export type StreamLedger = Pick<Ledger, 'read' | 'readOne' | 'topicInfo' | 'isCancelled' | 'nextDelayedAfter' | 'delayedBetween'>

/** Site-wide services, the same for every stream. */
export interface StreamEnv {
  readonly ledger: StreamLedger
  readonly logger: Logger
  /** Run background work; failures are logged; the dispatcher's close waits for it. */
  track: (work: Promise<unknown>, what: string) => void
  emitResult: (topic: TopicName, entryId: EntryId, props: MessageProps, subscription: string, outcome: ResultOutcome) => void
  /** Append the dead-letter copy of entry (resolves once durable; a repeat of an earlier copy is not stored twice). */
  deadLetter: (topic: TopicName, subscription: string, entry: LedgerEntry, reason: string) => Promise<void>
  backlogChanged: (topic: TopicName) => void
}

/** Outcome counters of the subscription (stats). */
export const Outcome = { acked: 'acked', expired: 'expired', deadLettered: 'deadLettered' } as const
export type Outcome = typeof Outcome[keyof typeof Outcome]

/** Who may receive: the subscription's consumer selection, per mode. */
export interface ConsumerChooser {
  /** exclusive / failover: the consumer receiving. */
  readonly active: ConsumerImpl | undefined
  /**
   * May `c` take one more entry? `fresh` is an entry that has no record yet
   * (from the window): it also needs room under the subscription's bound on
   * records (delivered plus waiting for redelivery).
   */
  canTake: (c: ConsumerImpl, fresh: boolean) => boolean
  /** shared: the next consumer in round-robin order that may take an entry (fresh: see canTake). */
  nextShared: (fresh: boolean) => ConsumerImpl | undefined
  sharedUsed: (c: ConsumerImpl) => void
  /** key_shared: the consumer the hash ring gives `key` to. */
  ringOwner: (key: string) => ConsumerImpl | undefined
}

/** Signals and accounting a stream reports to its subscription. */
export interface StreamHost {
  readonly env: StreamEnv
  readonly name: string
  readonly policy: Readonly<NamespacePolicy>
  readonly inOrder: boolean
  readonly keyShared: boolean
  readonly consumers: ConsumerChooser
  /** Ask for a dispatch round soon. */
  kick: () => void
  /** The stream has (or may have) something to read. */
  wantRead: (s: StreamRef) => void
  /** The stream has entries to pick. */
  markActive: (s: StreamRef) => void
  /** The stream forgot its window and reads again from its cursor. */
  rewound: (s: StreamRef) => void
  delayedAt: (s: StreamRef, atMs: number) => void
  scheduleRedelivery: (s: StreamRef, rec: Inflight, dueMs: number) => void
  readFailed: (s: StreamRef, err: unknown) => void
  /** Free room of the subscription's read-ahead window (all its streams together). */
  windowRoom: () => { entries: number, bytes: number }
  windowChanged: (entries: number, bytes: number) => void
  /** Delivered-and-unacknowledged count moved. */
  pendingChanged: (s: StreamRef, delta: number) => void
  /** Records (delivered, waiting, loading, ready, dead-lettering) moved. */
  recordsChanged: (delta: number) => void
  /** Redeliveries being loaded or loaded and not yet picked moved. */
  redeliveryHeldChanged: (delta: number) => void
  count: (what: Outcome, n: number) => void
}

/** The stream, as passed back to its host. */
export type StreamRef = TopicStream
