/**
 * The store's public contract. Everything outside store/ talks to a site's
 * ledger through these types only (import them from `store/index.ts`).
 */
import type { LogReadOptions, LogReadResult } from './log-tail.js'
import type { PlainRecord } from './plain-record.js'

/**
 * Fully qualified topic name: `tenant/namespace/local`. The local part may
 * itself contain `/`, may start with `/` (MQTT `/TopicA` becomes
 * `public/default//TopicA`) and may start with `$`.
 */
export type TopicName = string

/** Per-topic message position: dense, starting at 0, strictly increasing. */
export type EntryId = number

/**
 * Global log sequence number: a position in the site's shared log that orders
 * every record of every topic (file ledger: segmentId * 2^32 + byte offset;
 * memory topics: a counter in the same space, never reused).
 */
export type Lsn = number

export const Durability = {
  /** append resolves after its bytes are fdatasync'ed (group commit). */
  sync: 'sync',
  /** append resolves after write(2); fdatasync every `asyncFlushMs`. */
  async: 'async',
  /** non-persistent topic: kept in memory only, gone after restart. */
  memory: 'memory'
} as const
export type Durability = typeof Durability[keyof typeof Durability]

/** The part of a namespace's policy that the store itself enforces. */
export interface TopicStorePolicy {
  durability: Durability
  /** Keep acknowledged entries at least this long; 0 deletes them as soon as possible; -1 keeps them forever. */
  retentionMs: number
  /** Keep at most this many bytes of acknowledged entries per topic; -1 for no size limit. */
  retentionBytes: number
  /** Entries older than this are expired (deletable even when unacknowledged); 0 = no TTL. */
  ttlMs: number
}

/** One user property, in the order received [MQTT-3.3.2-18]. Repeated names are allowed. */
export type UserProperty = readonly [name: string, value: string]

/** Message properties carried in the log record. All optional; absent means default. */
export interface MessageProps {
  /** Message key (Pulsar key; MQTT user property `ferry-key`). */
  key?: string
  /** Ordering key for key_shared; defaults to key, else topic. */
  orderingKey?: string
  /** 0 (lowest) .. 9 (highest); default 4. */
  priority?: number
  /** Epoch ms: do not deliver before. */
  deliverAt?: number
  /** Epoch ms: never deliver at or after. */
  expiresAt?: number
  userProperties?: readonly UserProperty[]
  /** Producer dedup: a repeated (producerId, producerSeq) returns the first entry id. */
  producerId?: string
  producerSeq?: number
  /** Geo-replication: the site that first accepted this message and its entry id there. */
  originSite?: string
  originEntryId?: EntryId
  /** Geo-replication (replicator/): sites this entry passed, origin first, the site that sent it here last (loop prevention). */
  replicatedVia?: readonly string[]
  /** Geo-replication: lsn of this entry in the sending site's log; the receiver's per-link position is derived from it (store/origin-marks.ts). */
  replicatedLsn?: Lsn
  /** MQTT 5 fields carried end to end. */
  contentType?: string
  payloadFormat?: 0 | 1
  responseTopic?: string
  correlationData?: Buffer
  /** Where to publish the outcome event (delivered / expired / dead-lettered). */
  resultTopic?: string
  /** Set on dead-lettered copies: why and from where. */
  deadLetterReason?: string
  /** QoS the publisher used (MQTT), for forwarding; not a delivery guarantee by itself. */
  qos?: 0 | 1 | 2
}

/**
 * One metadata change that travels inside a message's own log record
 * (AppendInput.meta): the message and its puts are one CRC-framed record, so
 * after any crash the ledger holds both or neither. `value` undefined deletes.
 */
export interface MetaPut {
  space: string
  key: string
  value: MetaValue | undefined
}

export interface AppendInput {
  topic: TopicName
  payload: Buffer
  props?: MessageProps
  /** Epoch ms; defaults to now. Replicated entries keep the origin's time. */
  publishTime?: number
  /**
   * Metadata written atomically with the message (e.g. MQTT QoS 2 inbound
   * packet ids). Applied to the metadata KV in call order with everything
   * else, visible through getMeta/metaEntries at once (like putMeta), durable
   * exactly when the append resolves (the topic's durability: sync or async).
   * Refused with E_STORE_BAD_ARGUMENT on memory-durability topics (metadata
   * must be durable) and when it has more than StoreLimits.APPEND_META_PUTS_MAX
   * puts. A producer-dedup duplicate writes nothing, its meta included.
   */
  meta?: readonly MetaPut[]
}

/**
 * An entry replicated from another site (replicator/receiver.ts): the
 * origin's payload, publish time and props, the props already carrying
 * originSite, originEntryId, replicatedVia and replicatedLsn (the link's
 * position is raised by the record itself: store/origin-marks.ts) and no
 * producer ids (replication dedups by position only). The ledger keeps
 * `payload` as given (the tail cache), so the caller never changes its bytes
 * after; an entry kept in memory gets a copy of its own.
 */
export interface ReplicatedMessageInput {
  topic: TopicName
  payload: Buffer
  publishTime: number
  props: MessageProps
  record?: undefined
}

/**
 * A replicated message as its origin's log holds it (a plain record, store/plain-record.ts: no origin, route or
 * producer props of its own), with what the receiver adds: written without a decode and re-encode.
 */
export interface ReplicatedPlainInput {
  topic: TopicName
  record: PlainRecord
  /** The site it came from (plain: its origin), and the sites it passed (that one). */
  originSite: string
  replicatedVia: readonly string[]
  /** Its lsn in the sender's log (the link's position: origin-marks.ts). */
  replicatedLsn: Lsn
}

export type ReplicatedInput = ReplicatedMessageInput | ReplicatedPlainInput

export interface AppendResult {
  topic: TopicName
  entryId: EntryId
  lsn: Lsn
  /** True when producer dedup matched: nothing was appended, entryId is the original. */
  duplicate: boolean
}

/**
 * Where `Ledger.appendTo` sends one append's outcome: the caller's own object (gateway/dispatch's publish), so
 * an append needs no promise, closure or result object per message (fanin, issue 11). Exactly one of the two is
 * called, once. `appended` only after the entry is durable per its topic's durability (sync: after the
 * fdatasync) and visible to readers and listeners, never before appendTo returns; `appendFailed` with the
 * refusal (E_STORE_BAD_ARGUMENT, E_RECORD_TOO_LARGE, E_STORE_CLOSED, E_FENCED: possibly before appendTo
 * returns) or the write's failure (E_DISK_FULL, E_FSYNC_FAILED, ...). Neither may throw. The ledger holds the
 * sink only until it has called it.
 */
export interface AppendSink {
  /** Durable. `duplicate`: producer dedup matched, nothing new was stored and `entryId` is the original's. */
  appended (entryId: EntryId, lsn: Lsn, duplicate: boolean): void
  appendFailed (err: unknown): void
}

export interface LedgerEntry {
  topic: TopicName
  entryId: EntryId
  lsn: Lsn
  publishTime: number
  /** May be a slice of a larger read buffer: copy it if you keep it long. */
  payload: Buffer
  props: MessageProps
}

export interface ReadOptions {
  /** Upper bound on entries returned. */
  maxEntries: number
  /** Upper bound on payload bytes returned (at least one entry is returned if any exists). */
  maxBytes?: number
}

export interface TopicInfo {
  topic: TopicName
  durability: Durability
  /** Oldest entry still stored (retention may have removed earlier ones). */
  firstEntryId: EntryId
  /** Entry id the next append will get; equals firstEntryId when empty. */
  nextEntryId: EntryId
  /** Payload + record bytes currently stored for this topic. */
  storedBytes: number
}

/** Where a new cursor starts. */
export type CursorStart =
  | { kind: 'latest' }
  | { kind: 'earliest' }
  /** Everything appended after this log position (used to materialise filter subscriptions lazily and exactly). */
  | { kind: 'afterLsn', lsn: Lsn }

export interface CursorOptions {
  /** Durable cursors are persisted and hold back retention; non-durable ones live in memory only. */
  durable: boolean
  start: CursorStart
}

/**
 * Acknowledgement state of one (topic, subscription). Every mutation resolves
 * once it is as durable as the topic's durability mode says; after a crash a
 * durable cursor is exactly as it was at its last resolved mutation.
 */
export interface Cursor {
  readonly topic: TopicName
  readonly subscription: string
  readonly durable: boolean
  /** Every entry id <= markDelete is acknowledged. -1 before anything is. */
  markDelete (): EntryId
  isAcked (entryId: EntryId): boolean
  /** Individually acknowledged ranges above markDelete, inclusive, ascending. */
  ackedRanges (): ReadonlyArray<readonly [EntryId, EntryId]>
  /** Individual acknowledgement (shared, key_shared). Idempotent. */
  ack (entryIds: readonly EntryId[]): Promise<void>
  /** Cumulative acknowledgement of everything <= upTo (exclusive, failover). */
  ackCumulative (upTo: EntryId): Promise<void>
  /**
   * How many times the entry has been handed to a consumer (persisted; survives
   * restart; 0 once acknowledged). An entry handed out once counts 1 without a
   * per-entry record or map entry (it lies at or below the handed-out watermark).
   */
  deliveryCount (entryId: EntryId): number
  /**
   * Add one to the persisted delivery count of each entry. The dispatcher calls
   * this before it hands entries out when the namespace hardens redelivery
   * counts, so a crash between delivery and ack shows up as a higher count.
   * One small log record per call (the new watermark; ids handed out again and
   * ranges skipped only when delivery is out of order).
   */
  recordDeliveries (entryIds: readonly EntryId[]): Promise<void>
  /**
   * Move markDelete to any position, earlier ones included: every
   * acknowledgement and delivery count above it is dropped, so the entries
   * after it are delivered again (admin reset, store/cursor-reset.ts).
   * Clamped to [first entry - 1, last entry]; resolves with the position taken, once durable.
   */
  rewindTo (markDelete: EntryId): Promise<EntryId>
  /** Number of unacknowledged entries between markDelete and the topic's end. */
  backlogEntries (): number
  /** What this cursor keeps in memory (bounded; for metrics and tests). */
  memory (): CursorMemory
}

/**
 * Sizes of a cursor's in-memory state. Delivery counts are derived from a
 * handed-out watermark: only entries handed out more than once
 * (`countedEntries`) and ranges the watermark skipped without handing them
 * out (`holeRanges`, e.g. delayed entries) take memory.
 */
export interface CursorMemory {
  ackRanges: number
  countedEntries: number
  holeRanges: number
}

/** An entry with a future deliverAt, as kept by the topic's delayed-delivery index. */
export interface DelayedRef {
  entryId: EntryId
  deliverAt: number
}

/** Values kept in the ledger's metadata key-value space (CBOR-encodable). */
export type MetaValue = null | boolean | number | string | Buffer | readonly MetaValue[] | { readonly [k: string]: MetaValue | undefined }

export interface RecoveryReport {
  /** Wall time spent opening, in ms. */
  durationMs: number
  segments: number
  /** Records replayed after the checkpoint. */
  recordsReplayed: number
  /** Bytes cut off a torn tail. */
  truncatedBytes: number
  /** Damage found at this open (E_STORE_CORRUPT): checksum or length mismatches, unreadable checkpoints, damaged headers. */
  corruptRecords: number
  topics: number
  /** Damaged ranges set aside (file ledger), found now or by an earlier open; the records around them are kept. */
  quarantinedRecords?: number
  /** Entry ids whose records lie in a quarantined range: never reused, read back empty and tombstoned. */
  lostEntries?: number
}

export interface LedgerStats {
  topics: number
  segments: number
  diskBytes: number
  appends: number
  fsyncs: number
  /** True once a failed fsync or write stopped the ledger accepting appends until it recovers. */
  fenced: boolean
  /** File ledger: damaged ranges quarantined (E_STORE_CORRUPT), and the entries lost with them. */
  quarantinedRecords?: number
  lostEntries?: number
}

export type AppendListener = (topic: TopicName, lastEntryId: EntryId) => void
export type TopicListener = (topic: TopicName) => void

/**
 * A site's ledger: one shared, segmented, append-only log for every topic.
 * Two implementations pass the same conformance suite: the file ledger and
 * the memory ledger (tests, and the basis for `memory` durability).
 */
export interface Ledger {
  readonly siteId: string
  /** Open (and recover). Must be called once before anything else. */
  open (): Promise<RecoveryReport>
  close (): Promise<void>

  /** Resolves once durable per the topic's durability; rejects with a FerryError (E_DISK_FULL, E_RECORD_TOO_LARGE, E_FENCED, ...). */
  append (input: AppendInput): Promise<AppendResult>
  /** append with its outcome sent to `sink` instead of a promise (AppendSink): the same checks, record and durability. */
  appendTo (input: AppendInput, sink: AppendSink): void
  /** Same as many appends, but one group commit; results in input order. Not atomic across topics. */
  appendMany (inputs: readonly AppendInput[]): Promise<AppendResult[]>
  /**
   * Geo-replication: append entries in one submission (store/ledger-replicated.ts): every record is submitted
   * before this returns (in input order, one group commit), and the promise resolves once all are durable per
   * their topics' durability and visible to readers and listeners. A refusal part way (E_RECORD_TOO_LARGE,
   * E_TOO_MANY_TOPICS) keeps the entries submitted before it and rejects once they are durable.
   */
  appendReplicated (inputs: readonly ReplicatedInput[]): Promise<void>

  read (topic: TopicName, fromEntryId: EntryId, opts: ReadOptions): Promise<LedgerEntry[]>
  readOne (topic: TopicName, entryId: EntryId): Promise<LedgerEntry | undefined>
  topicInfo (topic: TopicName): TopicInfo | undefined
  /** Every topic that has ever had an entry and still exists. */
  topics (): IterableIterator<TopicName>
  /** Global position of the last record appended (for `afterLsn` cursor starts). */
  lastLsn (): Lsn

  /** Called after entries are durable and readable. Returns an unsubscribe function. */
  onAppend (listener: AppendListener): () => void
  /** Called when a topic gets its first entry. */
  onTopicCreated (listener: TopicListener): () => void

  /** Get or create a cursor. Creating a durable cursor is durable when resolved. */
  cursor (topic: TopicName, subscription: string, opts: CursorOptions): Promise<Cursor>
  /** Existing cursors of a topic (durable ones survive restart). */
  cursors (topic: TopicName): Cursor[]
  /**
   * Backlog of one cursor (what backlogEntries() of its handle says), or undefined without that cursor. Makes no
   * handle: stats sum it over every topic a wildcard subscription spans (a million, offline).
   */
  cursorBacklog (topic: TopicName, subscription: string): number | undefined
  deleteCursor (topic: TopicName, subscription: string): Promise<void>

  /** Delayed-delivery index of a topic: entries whose deliverAt is after their publish time. */
  delayedBetween (topic: TopicName, afterMs: number, upToMs: number, maxEntries: number): DelayedRef[]
  /** Earliest deliverAt strictly after `afterMs`, if any. */
  nextDelayedAfter (topic: TopicName, afterMs: number): number | undefined
  /** Cancel a scheduled entry (persisted tombstone). False if unknown or already past deliverAt. */
  cancel (topic: TopicName, entryId: EntryId): Promise<boolean>
  isCancelled (topic: TopicName, entryId: EntryId): boolean

  /**
   * Geo-replication: the durable log in lsn order after `afterLsn`, filtered
   * (store/log-tail.ts). Memory-durability topics are not in it.
   */
  readLog (afterLsn: Lsn, opts: LogReadOptions): Promise<LogReadResult>

  /** Durable metadata KV in the same log (sessions, subscriptions, policies, retained). undefined deletes. */
  putMeta (space: string, key: string, value: MetaValue | undefined): Promise<void>
  getMeta (space: string, key: string): MetaValue | undefined
  metaEntries (space: string): IterableIterator<[string, MetaValue]>

  /** Run retention now (it also runs on a timer); returns segments deleted. */
  runRetention (): Promise<number>
  /** Write a checkpoint now (it also runs on a timer and at close). */
  checkpoint (): Promise<void>
  stats (): LedgerStats
}
