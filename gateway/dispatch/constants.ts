/**
 * Dispatcher limits. Every queue, buffer, batch and retry of gateway/dispatch
 * has its bound here, with its unit in the name and a sentence saying why.
 */
import assert from 'node:assert/strict'
import { MetaSpace } from '../../store/index.js'

/** Entries read ahead per subscription (all its topics together): enough to keep 8 consumers busy between reads, small enough that an idle-but-connected subscription costs little memory. */
export const READ_AHEAD_ENTRIES_MAX = 2000

/** Payload bytes read ahead per subscription: bounds memory for large messages whatever the entry count. */
export const READ_AHEAD_BYTES_MAX = 8 * 1024 * 1024

/** Entries asked of the ledger per read: one read block of a hot topic, so one read serves a dispatch round. */
export const READ_BATCH_ENTRIES_MAX = 500

/** Entries handed out per dispatch round before yielding to the event loop: keeps one busy subscription from starving sockets. */
export const DISPATCH_ROUND_ENTRIES_MAX = 1000

/** Rounds whose delivery counts are being persisted at once: overlapping them lets a sync ledger group-commit several rounds per fsync; picked entries in flight stay bounded by this times the round size. */
export const DISPATCH_ROUNDS_IN_FLIGHT_MAX = 4

/** Entries one topic hands out per turn inside a round, so topics of a wildcard subscription are served in turn. */
export const DISPATCH_TURN_ENTRIES_MAX = 64

/**
 * Entries with a record per subscription — delivered and unacknowledged, plus
 * those waiting for redelivery (nacked, timed out, returned) — whatever the
 * consumers' permits. New entries go out only below it, so a consumer that
 * takes permits but never acks, or nacks everything forever, holds at most
 * this many records; redeliveries of entries that have one still go out.
 */
export const PENDING_ACK_ENTRIES_MAX = 50_000

/**
 * Entries one priority level of one (topic, subscription) may hold in the
 * read-ahead window: three quarters of it, so behind a deep backlog of one
 * level there is always room to find and hold entries of the others.
 */
export const PRIORITY_LEVEL_WINDOW_ENTRIES_MAX = READ_AHEAD_ENTRIES_MAX * 3 / 4

/** Payload bytes one priority level may hold in the read-ahead window (three quarters, as for entries). */
export const PRIORITY_LEVEL_WINDOW_BYTES_MAX = READ_AHEAD_BYTES_MAX * 3 / 4

/**
 * Furthest the reader looks ahead of a priority level that fell behind (its
 * window share full), entries: a higher-priority message up to this far
 * behind a deep backlog of lower ones is found at once (a persistent session
 * reconnecting to a backlog). Entries a look-ahead passes are read twice
 * (once to look, once to take).
 */
export const PRIORITY_SCAN_AHEAD_ENTRIES_MAX = 20_000

/**
 * After a look-ahead that found no other level, entries read in log order
 * before the next look-ahead: four times the look-ahead, so a deep backlog of
 * a single level (the common case) costs at most a fifth more reads, while a
 * backlog that does mix levels keeps being looked ahead of.
 */
export const PRIORITY_PROBE_QUIET_ENTRIES = 4 * PRIORITY_SCAN_AHEAD_ENTRIES_MAX

/** Due delayed entries taken from the ledger's delayed index per scan; more are taken once these are handed out. */
export const DELAYED_SCAN_ENTRIES_MAX = 1000

/** Delayed index entries examined when a shared reader (re)starts, to jump over runs of pending delayed entries; beyond this it reads them. One million sorts in about 100 ms, once per restart. */
export const DELAYED_RUNS_SCAN_ENTRIES_MAX = 1_000_000

/** Shortest run of consecutive pending delayed entries worth jumping over (shorter ones are cheaper to read). */
export const DELAYED_RUN_ENTRIES_MIN = 64

/** Redeliveries loaded from the ledger at once per subscription (nack, ack timeout, returned by a closing consumer). */
export const REDELIVERY_LOADS_MAX = 1000

/** key_shared: entries of the read-ahead window examined per level per pick, so blocked keys cannot make a round quadratic. */
export const KEY_SHARED_SCAN_ENTRIES_MAX = 2000

/** key_shared: points each consumer gets on the hash ring; 64 keeps key ranges within about ±20 % of an even split for a handful of consumers. */
export const KEY_SHARED_RING_POINTS_PER_CONSUMER = 64

/** producer_hold: longest a publish waits for the backlog to fall below quota before E_BACKLOG_HOLD. Long enough to ride out a consumer restart, short enough for an MQTT client's PUBACK timeout. */
export const BACKLOG_HOLD_MS_MAX = 10_000

/** producer_hold: publishes waiting at once per dispatcher; beyond this they are refused at once (each holds a payload in memory). */
export const BACKLOG_HOLD_WAITERS_MAX = 10_000

/** consumer_backlog_eviction: evict down to this fraction of the quota, so eviction runs in steps rather than on every publish. */
export const BACKLOG_EVICT_TARGET_RATIO = 0.9

/** Longest subscription name, characters (it becomes part of the dead-letter topic name). */
export const SUBSCRIPTION_NAME_CHARS_MAX = 256

/** Longest topic filter, characters (MQTT allows 65535 bytes; nobody needs that many levels). */
export const TOPIC_FILTER_CHARS_MAX = 4096

/** Longest consumer name, characters. */
export const CONSUMER_NAME_CHARS_MAX = 256

/** Most permits a consumer may hold: a larger value is a bug in the front end, not flow control. */
export const CONSUMER_PERMITS_MAX = 1_000_000

/** Durable subscriptions and topics visited per event-loop turn while materialising cursors at start-up or for a new wildcard subscription. */
export const MATERIALISE_TOPICS_PER_TURN = 1000

/**
 * Streams an offline subscription keeps for topics its subscription-level acks touched (least recently used
 * idle ones go first): an offline subscription needs only its cursors, and a million spanned topics must not
 * cost a million streams (~1 KB each); a few keep repeated acks on the same topics from rebuilding a stream each time.
 */
export const OFFLINE_STREAMS_MAX = 64

/**
 * Streams a subscription with consumers holds before it sweeps out the idle ones whose topics have nothing left
 * to deliver (the next append makes the stream again); the next sweep comes when the count has doubled, so the
 * sweeps cost O(1) per stream made. Bounds the memory of an online wildcard subscription over very many topics.
 */
export const ONLINE_STREAMS_SWEEP_MIN = 1024

/** Pause before retrying a failed ledger read, ms: a store that fenced itself needs a moment to reopen. */
export const READ_RETRY_MS = 100

/** Earliest a timer is set after now, ms: a timer set for the past fires on the next loop turn anyway. */
export const ALARM_DELAY_MS_MIN = 1

/**
 * Individual acks of one stream coalesced into one cursor record (ack-batcher.ts), at most this many ids:
 * one turn's PUBACKs of a subscriber; bounded so that one record stays far below the record size limit.
 */
export const ACK_BATCH_IDS_MAX = 4096

/** Ledger meta space holding durable subscription definitions (key `tenant/namespace\nname`). */
export const SUBSCRIPTION_META_SPACE = MetaSpace.subscription // declared, with its owner, in store's MetaSpace

assert.ok(READ_BATCH_ENTRIES_MAX <= READ_AHEAD_ENTRIES_MAX, 'one read fits in the read-ahead window')
assert.ok(PRIORITY_LEVEL_WINDOW_ENTRIES_MAX < READ_AHEAD_ENTRIES_MAX && PRIORITY_LEVEL_WINDOW_BYTES_MAX < READ_AHEAD_BYTES_MAX, 'one level leaves room for the others')
assert.ok(PRIORITY_SCAN_AHEAD_ENTRIES_MAX >= READ_AHEAD_ENTRIES_MAX, 'the look-ahead reaches past one window')
assert.ok(DISPATCH_TURN_ENTRIES_MAX <= DISPATCH_ROUND_ENTRIES_MAX, 'a turn fits in a round')
assert.ok(BACKLOG_EVICT_TARGET_RATIO > 0 && BACKLOG_EVICT_TARGET_RATIO <= 1, 'eviction target is a fraction of the quota')

/**
 * Memory durability has no fsync to pace publishers, so without a bound they run ahead of a slower subscriber
 * and the backlog (and latency) grows in RAM. Past this many unacknowledged entries of the topic's slowest
 * subscription with a consumer attached, a publish result asks its front end to stop reading that publisher
 * (publish-pacer.ts); 4,000 is two read-ahead windows, so the subscriber never waits for publishers to resume.
 */
export const MEMORY_PUBLISH_AHEAD_ENTRIES_MAX = 2 * READ_AHEAD_ENTRIES_MAX

/** ...and it may read on once that backlog is at or below this (hysteresis: not one pause per publish). */
export const MEMORY_PUBLISH_RESUME_ENTRIES = READ_AHEAD_ENTRIES_MAX

/**
 * Subscription stats sum the backlog of every spanned topic without a stream from the ledger's cursors (~0.4 µs
 * per topic). Up to this many spanned topics the sum is made on the spot (a few ms at most); beyond it, a
 * background pass makes it in slices (offline-backlog.ts), so that a stats call (console feed every second, metrics
 * scrape) never blocks the loop for a wildcard subscription spanning a million topics (~0.4 s per pass).
 */
export const STATS_BACKLOG_SYNC_TOPICS_MAX = 10_000
/** Topics summed per loop turn by the background pass (~4 ms of work per turn). */
export const STATS_BACKLOG_SLICE_TOPICS = 10_000
/** A new background pass starts at most this often: the large-subscription backlog in stats is this stale at most, plus one pass. */
export const STATS_BACKLOG_PASS_INTERVAL_MS = 10_000

/**
 * A subscription keeps its own Set of the topics it spans up to this many topics; past it, it answers from the
 * dispatcher's topic index alone (spanned-topics.ts): a wildcard subscription over a million topics must not hold
 * a second copy of the index (~26 B a topic). Below it, walking its topics costs its own size, not the index's.
 */
export const SPANNED_OWN_SET_TOPICS_MAX = 4096
