/**
 * The log writer's contract with its ledger (store/log-writer.ts): the options the ledger resolves for it
 * (ledger-file.ts, from FileLedgerOptions and constants.ts) and what it reports when it fails.
 */
import type { FerryError } from '../common/errors.js'

export interface WriterOptions {
  dir: string
  segmentSizeBytes: number
  groupCommitMaxBytes: number
  groupCommitWaitMs: number
  asyncFlushMs: number
  tailCacheBytes: number
  /** Commits whose sync may be in flight at once (1: one commit at a time). */
  commitsInFlightMax: number
  /** Queued bytes that start a commit in the same turn. */
  groupCommitEagerBytes: number
  /** Sync batches up to this many bytes are one O_DSYNC write (0: always write + fdatasync). */
  dsyncWriteBytesMax: number
}

export interface WriterFailure {
  error: FerryError
  /** Everything below this lsn is known good; the log must be cut here. */
  cutLsn: number
}
