/**
 * Store limits and defaults. Every value has its unit in its name and a
 * sentence saying why; options override the defaults per ledger.
 */
import assert from 'node:assert/strict'

/** Largest encoded record (payload + props + framing). 8 MiB keeps one record well inside a group-commit batch and a read block. */
export const RECORD_SIZE_BYTES_MAX_DEFAULT = 8 * 1024 * 1024

/** Segment files roll at this size. 256 MiB: few files for a busy site, yet retention can free space in useful steps. */
export const SEGMENT_SIZE_BYTES_DEFAULT = 256 * 1024 * 1024

/** Hard ceiling of a segment: offsets live in the low 32 bits of an lsn. */
export const SEGMENT_SIZE_BYTES_CEILING = 2 ** 32 - 1

/** One million topics per site is the design point (see BENCHMARKS); beyond that memory per topic dominates. */
export const TOPICS_MAX_DEFAULT = 2_000_000

/** One group-commit write is at most this large: 4 MiB amortises fdatasync without starving the event loop while copying. */
export const GROUP_COMMIT_BYTES_MAX_DEFAULT = 4 * 1024 * 1024

/** 0 = flush as soon as the previous fdatasync returns; batches form while one is in flight. */
export const GROUP_COMMIT_WAIT_MS_DEFAULT = 0

/** Async topics: un-synced bytes reach the disk within this time (the window a power loss may cost). */
export const ASYNC_FLUSH_MS_DEFAULT = 200

/** Checkpoint period: bounds the log tail replayed at restart. */
export const CHECKPOINT_INTERVAL_MS_DEFAULT = 60_000

/** Retention pass period; segment deletion is coarse, so a minute is precise enough. */
export const RETENTION_INTERVAL_MS_DEFAULT = 60_000

/** Recent written bytes kept in memory so tail readers rarely touch the disk. 64 MiB ≈ a few seconds of a busy site. */
export const TAIL_CACHE_BYTES_MAX_DEFAULT = 64 * 1024 * 1024

/**
 * The tail cache keeps written bytes only while someone reads the tail: after this long without a read of it
 * (a subscriber, a replication link), it holds none and keeps none until the next read. Nobody reads them then,
 * and the page cache has them anyway; a site that only takes in publishes (a million topics, no subscriber
 * online) no longer holds 64 MiB of copies of its own writes (~67 B of RSS per topic at a million topics).
 */
export const TAIL_CACHE_UNREAD_MS_MAX = 10_000

/**
 * Decoded message entries kept beside the tail cache (store/tail-cache.ts), newest first: a subscriber that keeps
 * up reads the entry it was just told about without a CRC check and a CBOR decode of bytes this process encoded
 * a moment ago (1.0 -> 0.07 µs per entry read). A reader that keeps up reads within a group commit or two of the
 * tail (at most a few hundred entries with 4 publishers x 64 in flight); a larger ring would keep payloads and
 * props alive past young-generation GCs (promoted, then old-space work: the open-loop tail) for reads that
 * are behind anyway. Older reads take the byte path, as before.
 */
export const TAIL_ENTRIES_MAX = 1024

/**
 * Entries appended and not yet committed (store/tail-cache.ts) kept beside the TAIL_ENTRIES_MAX committed ones: a
 * reader reads from the commit end, so an entry counts against TAIL_ENTRIES_MAX only once its commit completes, and
 * a commit plus delivery lag (a slow fsync, a GC pause: 10k msgs/s x 100 ms = 1,000 entries) no longer pushes out
 * the very entries about to be read. The writer's queue is not bounded in entries, so this is; past it the oldest
 * go first, as before. With TAIL_ENTRIES_MAX the ring's 16,384 slots (~0.7 MiB of typed arrays and slots, once).
 */
export const TAIL_ENTRIES_PENDING_MAX = 15 * 1024

/** Payload bytes those entries may pin (on top of the tail cache's own bytes); beyond it the oldest go first. */
export const TAIL_ENTRY_PAYLOAD_BYTES_MAX = 8 * 1024 * 1024

/** One disk read when serving a batch: 1 MiB covers a typical batch of a hot topic in one syscall. */
export const READ_BLOCK_BYTES_MAX = 1024 * 1024

/**
 * Blocks of the log read from segment files kept for the tail reads that follow (store/read-blocks.ts): one
 * per reader that reads on from where it stopped (a link's lanes, each link of a site), so 4 MiB at most.
 */
export const READ_BACK_BLOCKS_MAX = 4

/**
 * Zero-ahead (store/zero-ahead.ts): the active segment is filled with zeros and
 * synced in the background ahead of the log end, so appends overwrite allocated,
 * synced blocks and their fdatasync writes no metadata (on ext4 an fdatasync
 * after an extending write also makes the new size and blocks durable: a journal
 * commit, or on this journal-less ext4 an inode write; measured ~1.5-3x slower here). The lead: at most 8 MiB (over a second of
 * 20,000 appends/s of 256 B; ~0.2 s at the 64 x 1 throughput peak).
 */
export const ZERO_AHEAD_BYTES = 8 * 1024 * 1024

/**
 * One zero chunk, written with one O_DSYNC write. Zeroing as many bytes as the log writes keeps a chunk in
 * flight ~(log rate / disk bandwidth) of the time (a few % at 20,000/s), and a log sync that meets one shares
 * the disk with it (with an ext4 journal it also waits for the commit of the chunk's size change, data
 * included), so what bounds the p99 is the cost per meeting, i.e. the chunk's size: 128 KiB (~0.3-0.5 ms
 * here), yet few enough metadata writes (~50/s at 20,000 appends/s).
 */
export const ZERO_AHEAD_CHUNK_BYTES = 128 * 1024

/** When the log end has caught up with the zeros, the next chunk starts this far past it: ~10 ms of 20,000 appends/s, so the next batches need not wait for it. */
export const ZERO_AHEAD_GAP_BYTES = 64 * 1024

/** Pause between zero chunks: paces the background writes (at most ~60 MB/s of zeros, above the 64 x 1 peak of ~37 MB/s) so the log's own syncs keep the disk. */
export const ZERO_AHEAD_PACE_MS = 2

/**
 * Taken groups the log writer's queue may keep ahead of its head before it drops them (store/log-writer.ts): a
 * bound on the slice cost, not on memory (a taken group holds no bodies, and the queue is emptied whenever every
 * group is taken).
 */
export const QUEUE_TAKEN_GROUPS_MAX = 4096

/**
 * Sync batches up to this size, with nothing un-synced before them, are one O_DSYNC write instead of write +
 * fdatasync (one syscall and one thread-pool hop fewer); larger ones fall back to write + fdatasync, which keeps
 * the O_DSYNC descriptor's write bounded. Measured here (session 7, alternated per op, preallocated blocks as
 * zero-ahead leaves them, load 2.4): median 0.24 / 0.25 / 0.31-0.32 ms against 0.28 / 0.28-0.29 / 0.36-0.37 ms at
 * 4 / 18 / 64 KiB. 64 x 1 sync appends of 256 B make ~18 KiB batches: above the former 16 KiB bound.
 */
export const DSYNC_WRITE_BYTES_MAX = 64 * 1024

/**
 * Group commits whose sync (O_DSYNC write or fdatasync) may be in flight at once. With one, the appends a commit
 * releases are encoded while the disk idles and the next commit waits for all of them; with two, one commit's
 * appends are prepared and written while the other's sync runs (this virtual disk also merges concurrent
 * flushes). Completions are still taken in lsn order (log-writer.ts).
 * Default 2 since session 15. Session 14's alternated A/Bs (docs/results/session14/commits-in-flight-*): two in
 * flight gave the open-loop p99 median 5.94 ms against 7.08 (ahead in 9 of 10 latency-open-10k pairs; a slow sync
 * no longer holds the next commit back), fan-in and HTTP a tie or better, bench:store's p99 even; it stayed 1
 * because bench:replication's lag p99 went over 100 ms in 3 of 12 runs. Session 15 found that tail in the
 * measurement: the bench read b's clock once its read of the arrived entries resolved, not on arrival. Measured
 * on arrival (docs/results/session15/commits-in-flight-*), six alternated full runs each: lag p99 8-15 ms with two
 * against 7-17 with one, none over 100; open loop p99 ahead in 5 of 6 pairs (medians ~7.6 against ~11.5 ms on a
 * noisy disk); bench:store `--latency` p99 1.91-2.03 against 1.86-1.95 (targets 2.19-3.03: met either way).
 * `commitsInFlightMax: 1` turns the pipeline off.
 */
export const COMMITS_IN_FLIGHT_MAX = 2

/**
 * A commit starts in the same turn once this many bytes are queued (a free commit slot given), instead of at the
 * end of the turn, so the appends one commit's completion releases become two commits. Off by default: measured
 * at 16 KiB (64 producers x 1, 3 alternated rounds, load 3-4) it made commits of 32 instead of 64 and cost
 * 10.4-12.6 us of CPU per append against 8.1-9.9, 68-88k appends/s against 87-109k (it was ahead only at load 10).
 */
export const GROUP_COMMIT_EAGER_BYTES = Number.POSITIVE_INFINITY

/** Recovery reads segments in chunks of this size so a 256 MiB segment never sits in memory at once. */
export const RECOVERY_CHUNK_BYTES = 16 * 1024 * 1024

/**
 * Recovery looks for the next valid frame at most this far past a damaged one:
 * the damaged frame was at most a maximal record long, so the next one starts
 * within that distance; finding none there means the log ends (a torn tail).
 * Sized by the ledger's maxRecordBytes; this is the floor for tiny limits.
 */
export const RESYNC_WINDOW_BYTES_MIN = 64 * 1024

/** Index size of a placeholder for a lost entry id (real records are >= 9 bytes, so it is never mistaken for one). */
export const LOST_ENTRY_BYTES = 1

/** A damaged record whose topic id is unreadable reserves the next id of at most this many topics whose next id matches its entry id. */
export const QUARANTINE_GUESS_TOPICS_MAX = 16

/** Entries of a topic whose naming record was quarantined are kept under this prefix + its topic id (the name is gone with the record). */
export const LOST_TOPIC_PREFIX = '$lost/topic-'

/** Lost entries named in one 'corrupt-entries-lost' event (the count is always complete). */
export const LOST_ENTRIES_REPORTED_MAX = 100

/** After a failed fsync the ledger reopens from disk at most this many times in a row before it stays fenced. */
export const FENCE_REOPEN_ATTEMPTS_MAX = 5

/** Pause between reopen attempts after a failed fsync, so a flapping disk is not hammered. */
export const FENCE_REOPEN_BACKOFF_MS = 100

/** While the disk is full, a reopen is retried this often (space comes back by an operator's hand, not in milliseconds). */
export const DISK_FULL_REOPEN_BACKOFF_MS = 250

/** Reopens that fail for a full disk do not use up FENCE_REOPEN_ATTEMPTS_MAX; at most this many (~10 min at the backoff above), then the ledger stays fenced. */
export const DISK_FULL_REOPEN_WAITS_MAX = 2400

/** Producer dedup: recent sequence numbers remembered per producer (older duplicates still match by the highest-seq rule). */
export const DEDUP_RECENT_SEQS_PER_PRODUCER_MAX = 256

/** Producer dedup: producers remembered per topic; the least recently used is forgotten beyond this. */
export const DEDUP_PRODUCERS_PER_TOPIC_MAX = 10_000

/** Delayed index bucket width: one minute groups deliveries so a query touches few buckets. */
export const DELAYED_BUCKET_MS = 60_000

/** Topics encoded per slice of a checkpoint before yielding to the event loop (~10 ms of work). */
export const CHECKPOINT_TOPICS_PER_SLICE = 5_000

/** Checkpoint files kept; the older one is a fallback when the newest is unreadable. */
export const CHECKPOINTS_KEPT = 2

/**
 * Individually acknowledged ranges kept per cursor (default of maxCursorAckRanges);
 * beyond this a cursor is pathologically fragmented (16 bytes a range in memory and
 * in every checkpoint). Enforced when an ack is admitted, never when a record is replayed.
 */
export const CURSOR_ACK_RANGES_MAX = 100_000

/** Metadata puts carried by one append (AppendInput.meta): a handful per message is the use (MQTT QoS 2 packet ids); more belongs in putMeta. */
export const APPEND_META_PUTS_MAX = 64

/** Entries returned by one read at most, whatever the caller asks. */
export const READ_ENTRIES_MAX = 10_000

assert.ok(GROUP_COMMIT_BYTES_MAX_DEFAULT >= RECORD_SIZE_BYTES_MAX_DEFAULT / 2, 'a group commit holds at least half a maximal record')
assert.ok(SEGMENT_SIZE_BYTES_DEFAULT > RECORD_SIZE_BYTES_MAX_DEFAULT, 'a maximal record fits in a segment')
assert.ok(SEGMENT_SIZE_BYTES_DEFAULT <= SEGMENT_SIZE_BYTES_CEILING, 'segment offsets fit in 32 bits')
assert.ok(READ_BLOCK_BYTES_MAX <= TAIL_CACHE_BYTES_MAX_DEFAULT, 'a read block fits in the tail cache')

/**
 * Zeros written into the spare segment behind its header while it is prepared (spare-segment.ts): the new active
 * segment starts with this lead instead of none (~1/8 s of the 64 x 1 peak), capped by the segment size.
 */
export const SPARE_SEGMENT_ZERO_BYTES = 1024 * 1024

/**
 * Appends waiting on one durability promise (ledger-append.ts): emptied batches are kept for reuse, at most this
 * many (a log has one group filling and COMMITS_IN_FLIGHT_MAX being written; a few more cover memory topics).
 */
export const APPEND_WAITING_SPARE_MAX = 4
/** A batch that held more appends than this is dropped, not kept: its arrays would pin that much memory after a burst. */
export const APPEND_WAITING_KEPT_ENTRIES_MAX = 4096
