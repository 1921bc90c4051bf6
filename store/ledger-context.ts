/**
 * What the ledger's parts (append, reads, cursors, delayed index) need from
 * the ledger: its state, and the one way to change it (`record`: submit to
 * the log, then apply). Keeps each part in its own file without reaching
 * into the ledger class.
 */
import type { LedgerState } from './ledger-state.js'
import type { LogRecord } from './records.js'
import type { TopicState } from './topic-state.js'
import type { ViaRun } from './via-runs.js'
import type { Durability, EntryId, LedgerEntry, Lsn } from './types.js'

/** What the log (subclass) returns for a submitted record. */
export interface Submitted {
  lsn: Lsn
  /** Record bytes on disk including framing (an estimate for memory-backed topics). */
  bytes: number
  /** Resolves when durable per the durability asked for. */
  done: Promise<void>
}

export interface LedgerContext {
  readonly state: LedgerState
  /** Get or create a topic (a new persistent topic gets its dictionary record). */
  ensureTopic: (name: string) => TopicState
  /** Submit one record and apply it to the state at once; `done` resolves when durable. */
  record: (rec: LogRecord, durability: Durability) => Submitted
  /** Submit a record encoded by the caller (`body`; ignored for memory topics) and apply it; durable once a later barrier resolves. */
  /**
   * A record encoded by the caller: submitted and applied. `cacheEntry` false: `rec` holds only what applying it
   * needs (a plain replicated record: ledger-replicated.ts), so the entry is not kept as an object for readers.
   */
  recordEncoded: (rec: LogRecord, body: Buffer, durability: Durability, cacheEntry?: boolean) => { lsn: Lsn, bytes: number }
  /** repl: a durable run of frames whose records all came from `site` (via-runs.ts; ledgers without a log tail ignore it). */
  noteViaRun: (site: string, run: ViaRun) => void
  /** Resolves once everything submitted so far is durable per `durability`. */
  barrier: (durability: Durability) => Promise<void>
  /** Read committed entries [from, to) of a disk-backed topic, honouring maxBytes. */
  readStored: (t: TopicState, from: EntryId, to: EntryId, maxBytes: number) => Promise<LedgerEntry[]>
  checkUsable: () => void
  checkWritable: () => void
}
