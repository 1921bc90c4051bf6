/**
 * Limits of the HTTP front end. Every bound has its unit in the name and a
 * sentence of why. `HttpLimits` lets the assembly (and tests) override them.
 */

export interface HttpLimits {
  /**
   * Largest request body read, bytes; the request gets 413 as soon as more
   * arrives. 8 MiB holds a full batch of typical messages and the default
   * namespace maxMessageBytes (1 MiB) many times over, while capping what one
   * slow client can make us hold in memory.
   */
  maxBodyBytes: number
  /** Most messages in one batch publish: keeps one request's fsync wait and response bounded. */
  batchMessagesMax: number
  /** Largest `max` of a pull request: one response stays a few MB at most. */
  pullMessagesMax: number
  /**
   * Payload bytes in one pull response (at least one message is always
   * returned). JSON carries each payload up to twice (text and base64), so a
   * response stays under about 3x this; the rest waits for the next request.
   */
  pullResponseBytesMax: number
  /** Longest `waitMs` of a pull request: below common proxy idle timeouts (60 s). */
  pullWaitMsMax: number
  /**
   * A pull consumer with no request for this long is closed, so messages it
   * was handed but never returned go back to the subscription.
   */
  pullConsumerIdleMs: number
  /**
   * Delivered-but-not-yet-returned messages buffered per pull consumer; also
   * the most permits a pull consumer holds, so a slow HTTP client cannot pin
   * more than this many messages away from other consumers.
   */
  pullBufferMessagesMax: number
  /** Live pull consumers per gateway: each one is a dispatcher consumer with a timer. */
  pullConsumersMax: number
  /** Ack / nack ids in one request: bounds the work (and cursor writes) of one call. */
  ackIdsMax: number
  /**
   * Longest a `waitMs=0` poll waits for messages already in the backlog to
   * come up from the store, ms. The answer leaves as soon as the first batch
   * arrives; this bound only matters when the backlog holds nothing this
   * consumer can have (e.g. all in flight to other consumers of a shared
   * subscription). A poll on a topic whose backlog is empty answers at once.
   */
  pullReadyWaitMs: number
  /** Longest `leaseMs` a pull request may ask for: a lease this long already means "the consumer died". */
  pullLeaseMsMax: number
  /**
   * Messages handed out and not yet acked (under lease) per pull consumer;
   * at the bound it gets no more permits until acks or expiring leases make
   * room, so a client that never acks holds at most this many.
   */
  pullLeasedMessagesMax: number
}

export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = Object.freeze({
  maxBodyBytes: 8 * 1024 * 1024,
  batchMessagesMax: 1000,
  pullMessagesMax: 1000,
  pullResponseBytesMax: 4 * 1024 * 1024,
  pullWaitMsMax: 30_000,
  pullConsumerIdleMs: 60_000,
  pullBufferMessagesMax: 1000,
  pullConsumersMax: 10_000,
  ackIdsMax: 10_000,
  pullReadyWaitMs: 250,
  pullLeaseMsMax: 3_600_000,
  pullLeasedMessagesMax: 10_000
})

/** Default `max` of a pull request when the query leaves it out. */
export const PULL_MESSAGES_DEFAULT = 100
/** Default `waitMs` of a pull request: 0 answers with what is ready, without waiting for new messages (a plain poll). */
export const PULL_WAIT_MS_DEFAULT = 0
/**
 * Default `leaseMs` of a pull request: how long a client has to ack a message
 * before it is redelivered. 30 s is Pulsar's usual ack timeout order and far
 * longer than processing one response should take.
 */
export const PULL_LEASE_MS_DEFAULT = 30_000
/** Longest subscription or consumer name, characters (matches namespace part rules in spirit). */
export const SUBSCRIPTION_NAME_CHARS_MAX = 256

/** Longest Ferry-Property name or value, characters: user properties travel in every log record. */
export const USER_PROPERTY_CHARS_MAX = 4096
/** Most user properties on one message: bounds record size and MQTT forwarding work. */
export const USER_PROPERTIES_MAX = 64

export function checkHttpLimits (l: HttpLimits): void {
  for (const [k, v] of Object.entries(l)) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`http limit ${k} must be a positive integer`)
  }
  if (l.pullMessagesMax > l.pullLeasedMessagesMax) {
    // One response is leased whole; it must fit under the lease bound.
    throw new Error('http limit pullMessagesMax must not exceed pullLeasedMessagesMax')
  }
  if (l.pullMessagesMax > l.pullBufferMessagesMax) {
    // A request may ask for up to pullMessagesMax; permits are capped by the buffer size.
    throw new Error('http limit pullMessagesMax must not exceed pullBufferMessagesMax')
  }
}

/** Concurrent long-poll requests waiting on one pull consumer: more is a client bug, answered 429. */
export const PULL_WAITERS_PER_CONSUMER_MAX = 64

/** Longest nack reason kept, characters: it is stored with dead-lettered copies. */
export const NACK_REASON_CHARS_MAX = 1024

/**
 * Publish paths whose parsed route and namespace lookup are kept
 * (publish-targets.ts), so a client publishing to the same topic again skips
 * the URL split, the percent-decoding, the name checks and the policy lookup.
 * A few thousand covers the busy topics of a site; past it the oldest entry
 * makes room. With paths of at most PUBLISH_TARGET_PATH_CHARS_MAX characters
 * the cache holds about 4 MiB at most.
 */
export const PUBLISH_TARGETS_CACHED_MAX = 4096
/** Longest publish path (characters) the cache keeps: a longer one is parsed every time, so one client cannot fill memory with long names. */
export const PUBLISH_TARGET_PATH_CHARS_MAX = 512
/**
 * How long (ms) the client address read for a publish path stays its
 * producer name (the admin API's topic producers, for publishes without
 * `Ferry-Producer-Id`). Reading the address is a system call and an
 * ArrayBuffer in uWebSockets.js (~1 µs of a ~20 µs publish) and uWS 20.30
 * gives HTTP requests no connection identity to keep it by, so a busy path
 * reads it at most once per millisecond: at 20,000 publishes/s that is one
 * request in 20. Totals per topic stay exact; when several addresses
 * publish to one path within the same millisecond, those publishes count
 * for the one read first.
 */
export const PRODUCER_ADDRESS_REUSE_MS = 1
