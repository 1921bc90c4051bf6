/**
 * The dispatcher's contract: how protocol front ends (MQTT sessions, HTTP)
 * publish into a site and consume from it. Subscription semantics (modes,
 * acks, redelivery, dead letters, delays, priority, TTL, backlog) live behind
 * this interface; front ends only translate their protocol to these calls.
 */
import type { EntryId, MessageProps, MetaPut, TopicName } from '../../store/index.js'
import type { FerryError } from '../../common/errors.js'

export const SubscriptionMode = {
  exclusive: 'exclusive',
  failover: 'failover',
  shared: 'shared',
  key_shared: 'key_shared'
} as const
export type SubscriptionMode = typeof SubscriptionMode[keyof typeof SubscriptionMode]

/** `tenant/namespace` */
export type NamespaceName = string

export interface PublishRequest {
  topic: TopicName
  payload: Buffer
  props?: MessageProps
  /**
   * Metadata written in the message's own record (store AppendInput.meta):
   * both or neither after a crash. Used by mqtt/ for inbound QoS 2 packet ids.
   * Not for memory-durability namespaces (the store refuses it there).
   */
  meta?: readonly MetaPut[]
  /**
   * The namespace the caller built `topic` from (mqtt/: the session's), so the
   * publish path need not slice it out again per message. Checked, not trusted:
   * a hint that is not the topic's namespace part is ignored.
   */
  namespace?: NamespaceName
  /**
   * Who publishes (MQTT client id; HTTP producer id or remote address), for
   * the topic's producer list in gateway/ops. Informational: never stored,
   * ignored by the dispatcher.
   */
  producer?: ProducerRef
}

/** A producer as the admin API lists it (gateway/ops/producers.ts). */
export interface ProducerRef { name: string, protocol: 'mqtt' | 'http' }

export interface PublishResult {
  topic: TopicName
  entryId: EntryId
  /** Producer dedup matched an earlier publish; nothing new was stored. */
  duplicate: boolean
  /**
   * Memory durability only (fanin, issue 11: gateway/dispatch/publish-pacer.ts): the topic's slowest subscription
   * with a consumer attached is too far behind. The publish is stored; a front end should read no more from this
   * publisher until the promise resolves (it always does, within MEMORY_PUBLISH_HOLD_MS_MAX).
   */
  paced?: Promise<void>
}

/**
 * Where publishTo sends a publish's outcome (the HTTP front end's request: fanin, issue 11): the caller's own
 * object, so a publish needs no promise and no closures of the caller's. Exactly one of the two is called,
 * once: `published` after the ledger resolved the append (for sync durability, after fdatasync), `failed` with
 * the refusal or the store's error, possibly before publishTo returns. Neither may throw.
 */
export interface PublishSink {
  published (result: PublishResult): void
  failed (err: unknown): void
}

/** One message handed to one consumer. */
export interface Delivery {
  topic: TopicName
  entryId: EntryId
  subscription: string
  publishTime: number
  payload: Buffer
  props: MessageProps
  /** 0 on first delivery; persisted, so it survives restarts. */
  redeliveryCount: number
  /**
   * Epoch ms at which the message expires (its own expiresAt or the
   * namespace messageTtlMs, whichever is earlier); absent when it never does.
   * A front end that buffers deliveries must not hand an expired one to its
   * client: it calls Consumer.expire instead.
   */
  expiresAt?: number
}

/** What an acknowledgement did. */
export interface AckResult {
  /** Entries acknowledged by this call (not counting ones that were already acknowledged). */
  acked: number
  /** Ids that were not unacknowledged entries of the topic (never existed, removed, or already acknowledged). */
  unknown: EntryId[]
}

/** Implemented by front ends: an MQTT session, an HTTP long-poll waiter. */
export interface ConsumerSink {
  /** Called only while the consumer has permits; each call uses one permit. Must not throw. */
  deliver (delivery: Delivery): void
  /** The dispatcher closed this consumer (subscription deleted, superseded, gateway closing). */
  closed? (reason: FerryError): void
  /** failover mode: this consumer became the active one, or stopped being it. */
  activeChanged? (active: boolean): void
}

/**
 * A subscription is (namespace, filter, subscription name). Subscribing again
 * with the same three attaches another consumer; with a different durability
 * it fails with E_SUBSCRIPTION_CONFLICT; with a different mode while
 * consumers are attached, E_SUBSCRIPTION_BUSY (with none attached the mode
 * changes). Its cursor on each topic is named after the subscription for a
 * filter naming one topic, `name NUL filter` for a wildcard filter. The
 * subscription-level `ack`/`nack` (topic, name) pick the subscription of that
 * name whose filter is exactly the topic, else the oldest one matching it.
 */
export interface SubscribeOptions {
  /** Namespace the filter lives in. */
  namespace: NamespaceName
  /**
   * Topic filter local to the namespace, MQTT syntax: `a/b`, `a/+/c`, `a/#`.
   * A filter without wildcards names one topic. A leading wildcard does not
   * match local names starting with `$` [MQTT-4.7.2-1].
   */
  filter: string
  subscription: string
  mode: SubscriptionMode
  /** Durable subscriptions keep their cursors while nobody is connected. */
  durable: boolean
  /** Where a subscription created by this call starts on topics that already exist. */
  initialPosition: 'latest' | 'earliest'
  consumerName: string
  /** failover: lower value is preferred (Pulsar priorityLevel); ties broken by consumerName. */
  consumerPriority?: number
  /** Initial flow-control credits (messages). */
  permits: number
  sink: ConsumerSink
  /**
   * Geo-replicated subscription (durable only): it exists with the same name at
   * every site of the namespace and its acknowledgements travel
   * (replicator/cursor-sync.ts), so a consumer that fails over to another site
   * resumes near where it stopped. Subscribing with true makes an existing
   * subscription replicated; omitting it never turns replication off.
   */
  replicated?: boolean
}

/** A consumer attached to a subscription. */
export interface Consumer {
  readonly id: number
  readonly subscription: string
  addPermits (messages: number): void
  /** Individual ack (shared, key_shared; also accepted for exclusive/failover). */
  ack (topic: TopicName, entryId: EntryId): Promise<AckResult>
  /**
   * ack for a front end that does not wait for the outcome (MQTT PUBACK): no promise per
   * call. A failure is logged by the dispatcher; the entry is then delivered again, which
   * at-least-once allows, exactly as when an awaited ack fails.
   */
  ackNoWait (topic: TopicName, entryId: EntryId): void
  /**
   * Cumulative ack up to entryId on that topic (exclusive, failover): acknowledges
   * what has been handed out up to there. With priority an entry of a lower level
   * may not have gone out yet; it is not acknowledged (docs/DELIVERY.md).
   */
  ackCumulative (topic: TopicName, entryId: EntryId): Promise<AckResult>
  /**
   * A delivery this consumer received expired (Delivery.expiresAt passed) before
   * the front end could give it to its client (HTTP pull buffer): acknowledge it as
   * expired (counted in stats, result event). False if it was not held by this consumer.
   */
  expire (topic: TopicName, entryId: EntryId): boolean
  /** Negative ack: redeliver after the subscription's backoff; reason is kept for the DLQ. */
  nack (topic: TopicName, entryId: EntryId, reason?: string): void
  /** Detach. Unacked deliveries return to the subscription (redelivered later with a higher count). */
  close (): Promise<void>
}

/**
 * Sees every publish of a dispatcher (gateway/ops: latency, counts, producers,
 * publishes in flight) from inside its publish, in place of a wrapper with a
 * promise step of its own per message (fanin, issue 11). Synchronous; must not throw.
 */
export interface PublishObserver {
  /** A publish begins; the number returned (ops: a clock reading) comes back in `settled`. */
  started (req: PublishRequest): number
  /** It was stored (`result`) or refused (undefined); `namespace` when the topic had one. */
  settled (req: PublishRequest, namespace: NamespaceName | undefined, result: PublishResult | undefined, startedAt: number): void
}

export interface Dispatcher {
  publish (req: PublishRequest): Promise<PublishResult>
  /** publish with its outcome sent to `sink` instead of a promise: the same checks, append and acknowledgement. */
  publishTo (req: PublishRequest, sink: PublishSink): void
  /** Install the one publish observer (implementations without it get wrapped instead). */
  observePublishes?: (observer: PublishObserver) => void
  subscribe (opts: SubscribeOptions): Promise<Consumer>
  /** Delete a subscription and its cursors (on every topic it spans). */
  unsubscribe (namespace: NamespaceName, filter: string, subscription: string): Promise<void>
  /**
   * Subscription-level acknowledgement, for front ends whose acks arrive apart
   * from the consumer that received the message (HTTP pull). Individual acks.
   * Only real acknowledgements are counted; other ids come back in `unknown`.
   */
  ack (topic: TopicName, subscription: string, entryIds: readonly EntryId[]): Promise<AckResult>
  /**
   * Admin operation (gateway/ops: clear backlog, skip, reset cursor forward):
   * acknowledge every entry <= upTo of one topic of the subscription, in any
   * mode, releasing what is in flight. Same subscription choice as `ack`.
   */
  ackUpTo (topic: TopicName, subscription: string, upTo: EntryId): Promise<void>
  /**
   * Admin operation (gateway/ops: reset the cursor backwards): every entry
   * after markDelete on one topic of the subscription is delivered again,
   * acknowledged ones too; what is in flight is forgotten (its acks still
   * count). Resolves with the position taken (clamped to the entries that
   * still exist), once durable.
   */
  rewindTo (topic: TopicName, subscription: string, markDelete: EntryId): Promise<EntryId>
  /** Subscription-level negative ack (HTTP nack): redeliver after backoff. */
  nack (topic: TopicName, subscription: string, entryIds: readonly EntryId[], reason?: string): Promise<void>
  /** Cancel a pending delayed message. False if unknown, already due or delivered. */
  cancelScheduled (topic: TopicName, entryId: EntryId): Promise<boolean>
  /** Counters of every subscription (admin API, metrics). Cheap: no I/O. */
  stats (): DispatcherStats
  close (): Promise<void>
}

/** Counters of one subscription. Counts are since the dispatcher started; backlog is live. */
export interface SubscriptionStats {
  namespace: NamespaceName
  filter: string
  subscription: string
  mode: SubscriptionMode
  durable: boolean
  /** Geo-replicated (SubscribeOptions.replicated). */
  replicated?: boolean
  consumers: number
  /** Topics the subscription spans (cursors materialised). */
  topics: number
  /** Topic streams held in memory (topics: made when a consumer has something to take; offline at most OFFLINE_STREAMS_MAX). */
  streams: number
  /** Unacknowledged entries over all its topics. */
  backlog: number
  /** Delivered and not yet acknowledged. */
  pendingAck: number
  /** Negatively acknowledged (or timed out, or returned) and waiting to be delivered again. */
  redeliveryPending: number
  /** Entries read ahead and waiting for a consumer with permits (bounded by READ_AHEAD_ENTRIES_MAX). */
  readAhead: number
  /** Deliveries handed to consumers, redeliveries included. */
  delivered: number
  acked: number
  /** Deliveries with redeliveryCount > 0. */
  redelivered: number
  expired: number
  deadLettered: number
  /** Entries skipped by consumer_backlog_eviction. */
  evicted: number
  /** Delayed messages the dispatcher has passed over and waits on (not yet due). */
  delayedPending: number
}

export interface DispatcherStats {
  subscriptions: SubscriptionStats[]
  /** Publishes accepted (appended, duplicates included). */
  published: number
  /** Publishes refused: E_BACKLOG_QUOTA, or E_BACKLOG_HOLD after waiting. */
  backlogRejected: number
  /** Publishes that had to wait for the backlog (producer_hold). */
  backlogHeld: number
}
