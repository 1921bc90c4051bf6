/**
 * Limits of replicated subscriptions (cursor-sync.ts). Kept apart from
 * constants.ts, which the link's owner changes at the same time; each value
 * has its unit in its name and a sentence saying why.
 */
import assert from 'node:assert/strict'

/**
 * A site looks at its replicated cursors, writes the changed ones and applies
 * what arrived this often: the acknowledgements of the last interval (plus
 * the link's lag) are what a consumer that fails over sees again.
 */
export const REPL_CURSOR_SYNC_INTERVAL_MS = 250

/** A tick yields to the event loop after this many cursors (examined, written or applied): a few ms of work. */
export const REPL_CURSOR_SYNC_YIELD_EVERY_CURSORS = 1000

/** Cursors written per interval at most (the rest next interval): bounds the meta records one tick adds to the log. */
export const REPL_CURSOR_SYNC_CURSORS_PER_TICK_MAX = 1000

/**
 * Ranges per origin in one cursor record. A cursor fragmented further (many
 * out-of-order individual acks) has its later ranges left out: those entries
 * are redelivered after a failover (never lost), and the record stays a few KiB.
 */
export const REPL_CURSOR_RANGES_MAX = 256

/**
 * Runs of the origin map (origin-runs.ts) per topic: a run is a stretch of
 * consecutive local entries from one origin with consecutive origin ids, so
 * this bounds memory per topic at ~40 bytes per run whatever the traffic.
 * Runs beyond it are not kept: acknowledgements of those entries do not
 * travel (they are redelivered after a failover).
 */
export const REPL_CURSOR_MAP_RUNS_MAX = 8192

/** Entries of a topic the origin map reads per interval: bounds the work (reads) of one tick. */
export const REPL_CURSOR_MAP_SCAN_ENTRIES_PER_TICK = 20_000

/** Entries read per ledger read while scanning (one read covers at most 1 MiB of one segment anyway). */
export const REPL_CURSOR_MAP_READ_ENTRIES_MAX = 1000

/**
 * When a site first sees a replicated cursor, it also translates this many
 * entries below its mark-delete position (the entries before the
 * subscription started count as acknowledged): older history is not claimed
 * and is delivered at the other sites after a failover.
 */
export const REPL_CURSOR_HISTORY_ENTRIES_MAX = 10_000

/** Local entry ids acknowledged per remote cursor record per interval (the rest next interval): bounds one ack record. */
export const REPL_CURSOR_APPLY_IDS_MAX = 20_000

assert.ok(REPL_CURSOR_RANGES_MAX > 0 && REPL_CURSOR_MAP_RUNS_MAX > 0, 'bounds are positive')
assert.ok(REPL_CURSOR_MAP_READ_ENTRIES_MAX <= REPL_CURSOR_MAP_SCAN_ENTRIES_PER_TICK, 'a read fits in a tick')
