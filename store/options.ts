/**
 * Options of both ledgers, and their resolution against the defaults in constants.ts.
 */
import type { TopicName, TopicStorePolicy } from './types.js'
import type { Disk } from './disk/disk.js'
import * as C from './constants.js'

export interface LedgerOptions {
  siteId: string
  /** The store part of the topic's namespace policy. Durability is fixed when the ledger first sees the topic. */
  policyOf: (topic: TopicName) => TopicStorePolicy
  /** Largest encoded record, bytes (E_RECORD_TOO_LARGE beyond). */
  maxRecordBytes?: number
  /** Most topics the ledger holds (E_TOO_MANY_TOPICS beyond). */
  maxTopics?: number
  /**
   * Most individually acknowledged ranges one cursor holds: an ack that would
   * open more is refused (E_CURSOR_RANGES_FULL) before it is logged. Checked
   * at admission only, never at replay, so a log written under a larger bound
   * still opens.
   */
  maxCursorAckRanges?: number
  /** Retention timer period; 0 disables the timer (runRetention() still works). */
  retentionIntervalMs?: number
  /** Checkpoint timer period; 0 disables the timer (checkpoint() and close() still write one). */
  checkpointIntervalMs?: number
  /** Clock, epoch ms (tests inject one). */
  nowMs?: () => number
  /** Structured events worth an operator's attention (recovery, corruption, fencing). */
  onEvent?: (event: string, details: Record<string, unknown>) => void
}

export interface FileLedgerOptions extends LedgerOptions {
  /** Directory holding segments and checkpoints; created if missing. */
  dir: string
  /** File I/O; defaults to the real disk (node:fs/promises). Tests pass a SimDisk. */
  disk?: Disk
  segmentSizeBytes?: number
  groupCommitMaxBytes?: number
  groupCommitWaitMs?: number
  /** Group commits whose sync may be in flight at once (default COMMITS_IN_FLIGHT_MAX; 1: one at a time). See log-writer.ts. */
  commitsInFlightMax?: number
  /** Queued bytes that start a commit in the same turn when a commit slot is free (default GROUP_COMMIT_EAGER_BYTES: off). */
  groupCommitEagerBytes?: number
  /**
   * Sync batches up to this many bytes, with nothing un-synced before them, are written with one O_DSYNC write
   * instead of write + fdatasync (default DSYNC_WRITE_BYTES_MAX; 0 turns it off). See log-writer.ts.
   */
  dsyncWriteBytesMax?: number
  asyncFlushMs?: number
  tailCacheBytes?: number
  /**
   * Take the exclusive directory lock at open (store/dir-lock.ts); a second
   * opener fails with E_STORE_LOCKED. Default: true on the real disk, false
   * for an injected disk (a simulated disk lives inside one process).
   */
  lockDir?: boolean
  /** Open even when a sealed segment is corrupt: the log is cut at the first bad record (see the decision table in recovery.ts). */
  repair?: boolean
  /**
   * Verify every segment's checksums at open. Default false: segments wholly
   * before the checkpoint are verified by a background scrub after open
   * (damage reported as a 'sealed-segment-corrupt' event; reads of damaged
   * entries fail with E_STORE_CORRUPT), so a restart does not reread the whole log.
   */
  verifyAllOnOpen?: boolean
}

export interface ResolvedOptions {
  siteId: string
  policyOf: (topic: TopicName) => TopicStorePolicy
  maxRecordBytes: number
  maxTopics: number
  maxCursorAckRanges: number
  retentionIntervalMs: number
  checkpointIntervalMs: number
  nowMs: () => number
  onEvent: (event: string, details: Record<string, unknown>) => void
}

export function resolveOptions (opts: LedgerOptions): ResolvedOptions {
  return {
    siteId: opts.siteId,
    policyOf: opts.policyOf,
    maxRecordBytes: opts.maxRecordBytes ?? C.RECORD_SIZE_BYTES_MAX_DEFAULT,
    maxTopics: opts.maxTopics ?? C.TOPICS_MAX_DEFAULT,
    maxCursorAckRanges: opts.maxCursorAckRanges ?? C.CURSOR_ACK_RANGES_MAX,
    retentionIntervalMs: opts.retentionIntervalMs ?? C.RETENTION_INTERVAL_MS_DEFAULT,
    checkpointIntervalMs: opts.checkpointIntervalMs ?? C.CHECKPOINT_INTERVAL_MS_DEFAULT,
    nowMs: opts.nowMs ?? Date.now,
    onEvent: opts.onEvent ?? (() => {})
  }
}
