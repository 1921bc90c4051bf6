/**
 * MemoryLedger: the whole ledger in memory. Used by tests of other folders
 * and as the reference the file ledger is checked against (same conformance
 * suite). Every mutation is "durable" at once; nothing survives the process.
 * Lsns are a counter, one per record.
 */
import { LedgerBase, type Submitted } from './ledger-base.js'
import { resolveOptions, type LedgerOptions } from './options.js'
import { RecordKind, estimateMessageBytes, type LogRecord } from './records.js'
import { StoreCode, storeError } from './errors.js'
import type { TopicState } from './topic-state.js'
import type { Durability, EntryId, LedgerEntry, LedgerStats, Lsn, RecoveryReport } from './types.js'
import { MemoryLog, type LogReadOptions, type LogReadResult } from './log-tail.js'

/** Records the memory ledger keeps for readLog (tests of the replicator); older ones are dropped and reported as a gap. */
const MEMORY_LOG_RECORDS_MAX = 1_000_000

/** Bytes counted for a non-message record (they are not stored anywhere but in the state). */
const CONTROL_RECORD_BYTES = 32

export class MemoryLedger extends LedgerBase {
  private lsnCounter = 0
  private readonly log = new MemoryLog(MEMORY_LOG_RECORDS_MAX)

  protected submit (rec: LogRecord, _durability: Durability): Submitted {
    const bytes = rec.kind === RecordKind.message ? estimateMessageBytes(rec.payload, rec.props, rec.meta) : CONTROL_RECORD_BYTES
    if (bytes > this.opts.maxRecordBytes) {
      throw storeError(StoreCode.RECORD_TOO_LARGE, `record of ${bytes} bytes exceeds maxRecordBytes ${this.opts.maxRecordBytes}`, { details: { bytes, maxRecordBytes: this.opts.maxRecordBytes } })
    }
    this.lsnCounter++
    this.log.add(this.lsnCounter, rec)
    return { lsn: this.lsnCounter, bytes, done: this.resolvedDone }
  }

  protected memBacked (): boolean { return true }

  protected async barrier (): Promise<void> {}

  protected async readStored (_t: TopicState, _from: EntryId, _to: EntryId): Promise<LedgerEntry[]> {
    return []
  }

  protected async recoverState (): Promise<RecoveryReport> {
    return { durationMs: 0, segments: 0, recordsReplayed: 0, truncatedBytes: 0, corruptRecords: 0, topics: 0 }
  }

  protected async closeStorage (): Promise<void> {}

  lastLsn (): Lsn { return this.lsnCounter }

  async readLog (afterLsn: Lsn, opts: LogReadOptions): Promise<LogReadResult> {
    this.checkUsable()
    return this.log.read(afterLsn, this.lsnCounter + 1, (id) => this.topicsById[id]?.name, opts)
  }

  async checkpoint (): Promise<void> { this.checkUsable() }

  async runRetention (): Promise<number> {
    this.checkUsable()
    const now = this.opts.nowMs()
    let trimmed = 0
    for (const t of this.topicsByName.values()) {
      const mem = t.mem
      if (mem === null || mem.length === 0) continue
      const keepFrom = this.neededFrom(t, now, (ms) => {
        let i = 0
        while (i < mem.length && (mem[i] as LedgerEntry).publishTime < ms) i++
        return t.index.first + i
      })
      if (keepFrom > t.index.first) {
        trimmed += keepFrom - t.index.first
        this.trimTopic(t, keepFrom)
      } else {
        this.pruneDelayed(t)
      }
    }
    return trimmed > 0 ? 1 : 0
  }

  protected storageStats (): Pick<LedgerStats, 'segments' | 'diskBytes' | 'fsyncs'> {
    return { segments: 0, diskBytes: 0, fsyncs: 0 }
  }
}

export function createMemoryLedger (opts: LedgerOptions): MemoryLedger {
  return new MemoryLedger(resolveOptions(opts))
}
