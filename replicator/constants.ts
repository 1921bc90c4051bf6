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
 * Batches sent on a link and not yet answered (pipelining). The receiver
 * applies them strictly in order and refuses one that does not start right
 * after its held position (apache/pulsar#26113), so a window only hides the
 * round trip and the remote fsync; 8 keeps several group commits busy.
 */
export const REPL_INFLIGHT_BATCHES_MAX = 8

/**
 * Payload bytes of the batches in flight on a link: bounds the memory a slow
 * remote can pin at both ends (one maximal batch always fits, a single larger
 * entry travels alone when nothing else is in flight).
 */
export const REPL_INFLIGHT_BYTES_MAX = 4 * 1024 * 1024

/**
 * Coalescing (Nagle on a lane): while a batch of a lane is in flight, what the
 * lane reads next waits for more entries instead of going out as a batch of a
 * few: each batch costs a request, a reply and a remote group commit whatever
 * it holds, so a link fed by a stream of small group commits otherwise spends
 * its CPU on tiny batches. The held batch goes as soon as the lane's batches in
 * flight are answered, once it holds REPL_BATCH_COALESCE_ENTRIES_MIN entries or
 * REPL_BATCH_COALESCE_BYTES_MIN payload bytes, or after this long at most (an
 * answer slower than this does not stall the pipeline); 0 = off. 10 ms is a
 * tenth of the lag target (100 ms p99) and a few remote fsyncs.
 */
export const REPL_BATCH_COALESCE_MS: number = 10

/**
 * A held batch with this many entries goes without waiting: half a full batch amortises its request and remote
 * fsync already, and streams faster than one batch per round trip keep pipelining. Not lower than a publisher's
 * group commit (256 entries in bench:replication): a batch of one commit would never wait, so never coalesce.
 */
export const REPL_BATCH_COALESCE_ENTRIES_MIN: number = REPL_BATCH_ENTRIES_MAX / 2

/**
 * Batches of a lane in flight before what it reads next is held (coalescing): 1 holds behind any batch in flight,
 * which adds up to one round trip to every batch of a steady stream whose batches are answered before the next
 * one is read; 2 lets such a stream ship as it comes and coalesces once answers fall behind.
 */
export const REPL_BATCH_COALESCE_INFLIGHT_MIN: number = 1

/** A held batch with this many payload bytes goes without waiting (half a full batch's bytes, as for entries). */
export const REPL_BATCH_COALESCE_BYTES_MIN: number = REPL_BATCH_BYTES_MAX / 2

/**
 * The high lane reads this many batches' worth of the tail per turn (what it
 * ships stays within one batch's bounds): most of what it reads belongs to the
 * normal lane, so a priority-9 entry behind a large backlog is found in a few
 * turns instead of one per batch of skipped entries.
 */
export const REPL_HIGH_LANE_READ_FACTOR = 10

/**
 * Records a link's shared tail (replicator/shared-tail.ts) holds for its
 * lanes: the high lane scans ten batches ahead (REPL_HIGH_LANE_READ_FACTOR)
 * while the normal lane ships one batch per turn, so room for a few high-lane
 * reads lets the lanes share most reads. Reads that do not fit go to the log
 * unshared, as before.
 */
export const REPL_SHARED_TAIL_ITEMS_MAX = 40_000

/**
 * Payload bytes the shared tail holds (views of the log blocks they were read
 * from; those blocks stay pinned while a piece is held): a few maximal
 * high-lane reads (REPL_HIGH_LANE_READ_FACTOR x REPL_BATCH_BYTES_MAX).
 */
export const REPL_SHARED_TAIL_BYTES_MAX = 16 * 1024 * 1024

/** Reads of the log the shared tail holds at once: bounds the log blocks its pieces pin (each read pins at most REPL_SCAN_BYTES_MAX plus one block). */
export const REPL_SHARED_TAIL_PIECES_MAX = 8

/** Log bytes one read of the tail examines at most: bounds the work between two yields over a log of other namespaces. */
export const REPL_SCAN_BYTES_MAX = 8 * 1024 * 1024

/** How long a batch waits for the remote's answer: a remote fsync under load plus a gateway hop; beyond it, retry. */
export const REPL_REQUEST_TIMEOUT_MS = 10_000

/**
 * How long an empty batch (handshake, skip advance: at most one small remote
 * fsync) waits for its answer. While NATS gateways re-form after a region's
 * restart a reply can be lost; a short wait here finds the link again in
 * seconds instead of a full REPL_REQUEST_TIMEOUT_MS.
 */
export const REPL_EMPTY_BATCH_TIMEOUT_MS = 2_000

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

/**
 * Batches whose items encode to more than this many bytes travel deflated (raw deflate, level
 * REPL_COMPRESS_LEVEL, on the thread pool, never on the event loop); 0 = never. Off by default: on loopback and
 * LAN links the CPU costs more than the bytes; thin edge links (`ferry site --repl-compress-bytes 1024`) gain.
 */
export const REPL_COMPRESS_BATCH_BYTES_MIN: number = 0

/**
 * 1: a link ships its own site's plain message records (store/plain-record.ts) as the log holds them ('r' items:
 * codec.ts), and the receiver re-frames them without a decode; 0: every message travels decoded ('n' items).
 * A receiver before session 15 refuses 'r' items (E_REPL_BAD_BATCH; the link pauses and retries, nothing is lost):
 * update receivers first, or set 0 until they are.
 */
export const REPL_SHIP_PLAIN_RECORDS: number = 1

/** zlib level for compressed batches: 1 keeps most of the gain of higher levels on message payloads at a fraction of the CPU. */
export const REPL_COMPRESS_LEVEL = 1

/** Largest batch a receiver decodes: a sender's batch plus one maximal record (8 MiB) with room. */
export const REPL_RECEIVE_BATCH_BYTES_MAX = 16 * 1024 * 1024

/**
 * Nesting a receiver reads in a batch's values (replicator/batch-reader.ts): a message item is four levels deep
 * at most (batch, items, item, props: user properties are pairs), a meta value a few more; deeper is refused
 * rather than read with a recursion of the sender's choosing.
 */
export const REPL_WIRE_DEPTH_MAX = 64

/** Sites an entry may pass (loop prevention list); a longer path is a routing loop. */
export const REPL_VIA_SITES_MAX = 16

/** Scheduled entries of a topic searched for the target of a replicated cancel: the delayed index holds only future entries. */
export const REPL_CANCEL_SEARCH_ENTRIES_MAX = 10_000

assert.ok(REPL_BACKOFF_MS_MIN < REPL_BACKOFF_MS_MAX, 'backoff grows')
assert.ok(REPL_EMPTY_BATCH_TIMEOUT_MS <= REPL_REQUEST_TIMEOUT_MS, 'an empty batch waits no longer than a full one')
assert.ok(REPL_INFLIGHT_BYTES_MAX >= REPL_BATCH_BYTES_MAX, 'a batch fits in flight')
assert.ok(REPL_INFLIGHT_BATCHES_MAX >= 1, 'at least one batch in flight')
assert.ok(REPL_RECEIVE_BATCH_BYTES_MAX > REPL_BATCH_BYTES_MAX, 'receivers accept what senders send')
assert.ok(REPL_SHARED_TAIL_ITEMS_MAX >= REPL_BATCH_ENTRIES_MAX * REPL_HIGH_LANE_READ_FACTOR, 'the shared tail holds at least one high-lane read')
assert.ok(REPL_SHARED_TAIL_PIECES_MAX >= 2, 'the shared tail holds a read and its extension')
assert.ok(REPL_BATCH_COALESCE_MS >= 0 && REPL_BATCH_COALESCE_MS < REPL_REQUEST_TIMEOUT_MS, 'a held batch waits less than a request')
assert.ok(REPL_BATCH_COALESCE_INFLIGHT_MIN >= 1 && REPL_BATCH_COALESCE_INFLIGHT_MIN <= REPL_INFLIGHT_BATCHES_MAX, 'held behind batches the window allows')
assert.ok(REPL_BATCH_COALESCE_ENTRIES_MIN <= REPL_BATCH_ENTRIES_MAX, 'a full batch never waits')
assert.ok(REPL_BATCH_COALESCE_BYTES_MIN <= REPL_BATCH_BYTES_MAX, 'a full batch never waits (bytes)')
assert.ok(REPL_COMPRESS_BATCH_BYTES_MIN >= 0, 'compression threshold is a size or 0 (off)')
