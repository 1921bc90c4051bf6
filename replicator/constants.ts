/**
 * Replicator limits. Every value has its unit in its name and a sentence
 * saying why; ReplicatorOptions.limits overrides them (tests shorten timers).
 */
import assert from 'node:assert/strict'

/** Entries per batch: enough to amortise one request/reply and one remote fsync over many messages. */
export const REPL_BATCH_ENTRIES_MAX = 1000

/**
 * Payload bytes per batch: below nats-server's default max_payload (1 MiB) with room for
 * the CBOR framing. A single larger entry travels alone (the server's max_payload must then allow it).
 */
export const REPL_BATCH_BYTES_MAX = 512 * 1024

/**
 * Bytes in flight per link. The link sends one batch and waits for its answer
 * (strict order, see receiver.ts), so this is one batch; named so that
 * pipelining, when it comes, has its bound already.
 */
export const REPL_INFLIGHT_BYTES_MAX = REPL_BATCH_BYTES_MAX

/** Log bytes one read of the tail examines at most: bounds the work between two yields over a log of other namespaces. */
export const REPL_SCAN_BYTES_MAX = 8 * 1024 * 1024

/** How long a batch waits for the remote's answer: a remote fsync under load plus a gateway hop; beyond it, retry. */
export const REPL_REQUEST_TIMEOUT_MS = 10_000

/** First retry delay after a failed send or a refusal; doubles per failure (with jitter). */
export const REPL_BACKOFF_MS_MIN = 100

/** Longest retry delay: a link that comes back is noticed within this. */
export const REPL_BACKOFF_MS_MAX = 5_000

/** Idle links look at the log this often (meta and cancel records do not wake them). */
export const REPL_IDLE_POLL_MS = 250

/** A link that only skipped records tells the remote its new position at most this often (each costs a remote fsync). */
export const REPL_SKIP_ADVANCE_INTERVAL_MS = 1_000

/** The outbound position (the retention floor) is persisted at most this often; the remote's mark is the truth anyway. */
export const REPL_OUT_PERSIST_INTERVAL_MS = 1_000

/** A link whose unshipped backlog exceeds this raises an alert in stats (retention still keeps it). */
export const REPL_LINK_BACKLOG_BYTES_ALERT = 1024 * 1024 * 1024

/** Largest batch a receiver decodes: a sender's batch plus one maximal record (8 MiB) with room. */
export const REPL_RECEIVE_BATCH_BYTES_MAX = 16 * 1024 * 1024

/** Sites an entry may pass (loop prevention list); a longer path is a routing loop. */
export const REPL_VIA_SITES_MAX = 16

/** Scheduled entries of a topic searched for the target of a replicated cancel: the delayed index holds only future entries. */
export const REPL_CANCEL_SEARCH_ENTRIES_MAX = 10_000

assert.ok(REPL_BACKOFF_MS_MIN < REPL_BACKOFF_MS_MAX, 'backoff grows')
assert.ok(REPL_INFLIGHT_BYTES_MAX >= REPL_BATCH_BYTES_MAX, 'a batch fits in flight')
assert.ok(REPL_RECEIVE_BATCH_BYTES_MAX > REPL_BATCH_BYTES_MAX, 'receivers accept what senders send')
