/**
 * FileLedger: the site's shared, segmented, append-only commit log.
 *
 * Layout (see docs/STORE.md): `dir/seg-<id>.log` segment files of framed CBOR
 * records ([u32 length][u32 crc32c over position + payload][payload]) and
 * `dir/ckpt-<lsn>.ckpt` checkpoints (`spare-<id>.seg`: the next segment,
 * prepared, not yet part of the log: spare-segment.ts). Every topic, cursor, meta and tombstone
 * change is a record in the same log; memory-durability topics never touch it.
 *
 * Fault model and the recovery decision table at open: header of recovery.ts
 * (the decisions live there, in ledger-file-replay.ts and quarantine.ts).
 * Runtime decisions (log-writer.ts):
 *  | write fails ENOSPC / EIO   | reject the batch and all queued records (E_DISK_FULL / E_STORE_IO), fence,  |
 *  |                            | cut the log at the end of the last good write, reopen from disk             |
 *  | fdatasync fails EIO        | reject every un-synced record (E_FSYNC_FAILED), fence, cut the log at the  |
 *  |                            | last successful fsync (async appends after it are lost), reopen from disk  |
 *  | fdatasync fails ENOSPC     | the same cut, but E_DISK_FULL (a full disk, like a write's ENOSPC)         |
 *  | segment roll fails         | the new file is closed, then as for the write or fsync that failed        |
 * How often a reopen is retried: ledger-file-reopen.ts. While fenced, writes fail
 * with E_FENCED. Acknowledged sync appends are never lost: they lie below the
 * last successful fsync. Async appends may be lost on power loss or failed
 * fsync, and their entry ids may then be given to new entries (the first
 * record cut off the tail excepted: its id is retired).
 * Retention: see ledger-file-retention.ts for the order that makes a crash at
 * any step safe. FileLedger's parts in their own files, each one procedure
 * over the ledger's state: replaying the log into the state and the scrub
 * (ledger-file-replay.ts), segment reads (ledger-file-reads.ts), checkpoint
 * writing (ledger-file-checkpoint.ts), retention passes
 * (ledger-file-retention.ts), the reopen's retries (ledger-file-reopen.ts).
 * This file keeps the lifecycle (open, fence and reopen, close), lsn
 * assignment of submitted records, and stats.
 */
import { performance } from 'node:perf_hooks'
import { LedgerBase, type Submitted } from './ledger-base.js'
import { LogWriter, type WriterFailure } from './log-writer.js'
import { MessageEncoder } from './message-encoder.js'
import { RecordKind, encodeRecord, estimateMessageBytes, type LogRecord } from './records.js'
import { FRAME_HEADER_BYTES } from './framing.js'
import { SEGMENT_HEADER_BYTES, offsetOfLsn, segmentOfLsn } from './segment.js'
import { StoreCode, asStoreError, storeError } from './errors.js'
import { realDisk } from './disk/real-disk.js'
import { acquireDirLock, type DirLock } from './dir-lock.js'
import { DamageTracker } from './quarantine.js'
import { resolveOptions, type FileLedgerOptions } from './options.js'
import * as C from './constants.js'
import type { Disk } from './disk/disk.js'
import type { TopicState } from './topic-state.js'
import { Durability, type EntryId, type LedgerEntry, type LedgerStats, type Lsn, type RecoveryReport } from './types.js'
import assert from 'node:assert/strict'
import { readFileLog, type FileLogSource, type LogReadOptions, type LogReadResult } from './log-tail.js'
import { ViaRuns, type ViaRun } from './via-runs.js'
import { SegmentReads } from './ledger-file-reads.js'
import { replayLog, scrubSegments, type ReplayHost, type ScrubHost } from './ledger-file-replay.js'
import { writeLedgerCheckpoint, type CheckpointHost } from './ledger-file-checkpoint.js'
import { retentionPass, type RetentionHost } from './ledger-file-retention.js'
import { reopenWithRetry, type ReopenHost } from './ledger-file-reopen.js'

/** Largest pad record: memory-topic lsns squeezed between two log records. */
const PAD_BYTES_MAX = 64 * 1024
const CONTROL_RECORD_BYTES = 32

export class FileLedger extends LedgerBase {
  private readonly disk: Disk
  private readonly dir: string
  private writer: LogWriter | null = null
  /** Local message records (submit); replicated ones have their own (ledger-base.ts). */
  private readonly localEncoder = new MessageEncoder()
  private segments: number[] = []
  private segmentTimes = new Map<number, number>()
  private checkpointLsns: number[] = []
  private lastAssignedLsn = 0
  /** Read handles of sealed segments, and entry reads from them. */
  private readonly reads: SegmentReads
  /** The ledger as its part files see it (ledger-file-replay.ts, -checkpoint.ts, -retention.ts), fields read when they run. */
  private readonly parts: ReplayHost & ScrubHost & CheckpointHost & RetentionHost
  private reopening: Promise<void> | null = null
  /** Background scrubs (one per open or reopen): close() waits for them, so none holds a segment open after it. */
  private scrubbing: Promise<void> = Promise.resolve()
  /** Set when close() starts: background work (scrub) stops opening files. */
  private closingStorage = false
  /** fsyncs of writers replaced by a reopen (stats stay cumulative). */
  private fsyncsBefore = 0
  private checkpointing: Promise<void> | null = null
  private retentionRunning: Promise<number> | null = null
  private readonly maxPayloadBytes: number
  private dirLock: DirLock | null = null
  /** Damaged ranges quarantined by recovery (see quarantine.ts). */
  private damage = new DamageTracker()
  private lostEntries = 0

  constructor (private readonly fopts: FileLedgerOptions) {
    const base = resolveOptions(fopts)
    const segmentSizeBytes = fopts.segmentSizeBytes ?? C.SEGMENT_SIZE_BYTES_DEFAULT
    assert.ok(segmentSizeBytes <= C.SEGMENT_SIZE_BYTES_CEILING, 'segment offsets fit in 32 bits')
    // A record must fit in a segment with its header.
    base.maxRecordBytes = Math.min(base.maxRecordBytes, segmentSizeBytes - SEGMENT_HEADER_BYTES)
    super(base)
    this.disk = fopts.disk ?? realDisk
    this.dir = fopts.dir
    this.maxPayloadBytes = base.maxRecordBytes
    const self = this // the hosts read the ledger's fields when they run: a reopen replaces the writer, arrays and maps
    this.reads = new SegmentReads({
      disk: this.disk,
      dir: this.dir,
      payloadBytesMax: this.maxPayloadBytes,
      writer: () => this.writer,
      damage: () => this.damage,
      segments: () => this.segments,
      closing: () => this.closingStorage
    })
    this.parts = {
      state: this,
      disk: this.disk,
      dir: this.dir,
      payloadBytesMax: this.maxPayloadBytes,
      get writer () { return self.writer as LogWriter },
      get segments () { return self.segments },
      set segments (ids) { self.segments = ids },
      get segmentTimes () { return self.segmentTimes },
      get checkpointLsns () { return self.checkpointLsns },
      get damage () { return self.damage },
      get isClosed () { return self.isClosed },
      get closing () { return self.closingStorage },
      apply: (rec, lsn, bytes) => { this.applyRecord(rec, lsn, bytes) },
      noteSegmentTime: (segmentId, publishMs) => { this.noteSegmentTime(segmentId, publishMs) },
      checkpoint: async (force) => { await this.checkpoint(force) },
      closeSegment: async (id) => { await this.reads.closeSegment(id) }
    }
  }

  private get writerOptions (): ConstructorParameters<typeof LogWriter>[1] {
    return {
      dir: this.dir,
      segmentSizeBytes: this.fopts.segmentSizeBytes ?? C.SEGMENT_SIZE_BYTES_DEFAULT,
      groupCommitMaxBytes: this.fopts.groupCommitMaxBytes ?? C.GROUP_COMMIT_BYTES_MAX_DEFAULT,
      groupCommitWaitMs: this.fopts.groupCommitWaitMs ?? C.GROUP_COMMIT_WAIT_MS_DEFAULT,
      asyncFlushMs: this.fopts.asyncFlushMs ?? C.ASYNC_FLUSH_MS_DEFAULT,
      tailCacheBytes: this.fopts.tailCacheBytes ?? C.TAIL_CACHE_BYTES_MAX_DEFAULT,
      commitsInFlightMax: this.fopts.commitsInFlightMax ?? C.COMMITS_IN_FLIGHT_MAX,
      groupCommitEagerBytes: this.fopts.groupCommitEagerBytes ?? C.GROUP_COMMIT_EAGER_BYTES,
      dsyncWriteBytesMax: this.fopts.dsyncWriteBytesMax ?? C.DSYNC_WRITE_BYTES_MAX
    }
  }

  protected memBacked (durability: Durability): boolean { return durability === Durability.memory }

  // ---- open / recovery ------------------------------------------------------

  protected async recoverState (): Promise<RecoveryReport> {
    // One process per directory: taken before anything is read, held until close.
    if (this.fopts.lockDir ?? (this.fopts.disk === undefined || this.fopts.disk === realDisk)) {
      this.dirLock = await acquireDirLock(this.dir)
    }
    try {
      return await this.recoverFromDisk(undefined)
    } catch (err) {
      await this.releaseDirLock()
      throw err
    }
  }

  private async releaseDirLock (): Promise<void> {
    const l = this.dirLock
    this.dirLock = null
    await l?.release()
  }

  private async recoverFromDisk (cutLsn: number | undefined): Promise<RecoveryReport> {
    const started = performance.now()
    this.segmentTimes = new Map()
    const damage = new DamageTracker()
    this.damage = damage
    const out = await replayLog(this.parts, { repair: this.fopts.repair ?? false, verifyAll: this.fopts.verifyAllOnOpen ?? false, cutLsn })
    const lost = damage.markLost(this.topicsByName.values())
    this.lostEntries = lost.length
    if (lost.length > 0) this.opts.onEvent('corrupt-entries-lost', { code: StoreCode.STORE_CORRUPT, entries: lost.slice(0, C.LOST_ENTRIES_REPORTED_MAX), count: lost.length })
    this.segments = out.segmentIds
    this.checkpointLsns = out.checkpointLsns.slice().sort((a, b) => a - b)
    const w = new LogWriter(this.disk, this.writerOptions, out.lastSegmentId, out.file, out.endOffset, out.lastFileSize, (f) => this.onWriterFailure(f))
    w.onSegmentCreated = (id) => { this.segments.push(id) }
    this.writer = w
    this.lastAssignedLsn = w.tailLsn - 1
    this.commitAllRecovered()
    const report: RecoveryReport = {
      durationMs: performance.now() - started,
      segments: this.segments.length,
      recordsReplayed: out.recordsReplayed,
      truncatedBytes: out.truncatedBytes,
      corruptRecords: out.corruptRecords,
      topics: this.topicsByName.size,
      quarantinedRecords: damage.list.length,
      lostEntries: lost.length
    }
    this.opts.onEvent('recovered', { ...report })
    if (out.skippedSegmentIds.length > 0) {
      const scrub = scrubSegments(this.parts, out.skippedSegmentIds, this.stateGeneration).catch(() => {})
      this.scrubbing = Promise.all([this.scrubbing, scrub]).then(() => {})
    }
    return report
  }

  private noteSegmentTime (segmentId: number, publishMs: number): void {
    const prev = this.segmentTimes.get(segmentId)
    if (prev === undefined || publishMs > prev) this.segmentTimes.set(segmentId, publishMs)
  }

  // ---- failure: fence, cut, reopen ----------------------------------------------

  private onWriterFailure (f: WriterFailure): void {
    this.fenced = true
    this.opts.onEvent('fenced', { code: f.error.code, cutLsn: f.cutLsn, cause: String(f.error.cause) })
    const self = this
    const host: ReopenHost = { get isClosed () { return self.isClosed }, reopenOnce: async () => { await this.reopenOnce(f.cutLsn) }, onEvent: (e, d) => { this.opts.onEvent(e, d) } }
    this.reopening = reopenWithRetry(host).finally(() => { this.reopening = null })
  }

  /** One reopen step; reopenWithRetry (ledger-file-reopen.ts) decides whether and when to run it again. */
  private async reopenOnce (cutLsn: number): Promise<void> {
    // A checkpoint or retention pass in flight finishes (or fails) before the state is rebuilt.
    await this.checkpointing?.catch(() => {})
    await this.retentionRunning?.catch(() => {})
    this.fsyncsBefore += this.writer?.fsyncs ?? 0
    await this.writer?.abandon()
    this.writer = null
    await this.reads.closeAll()
    this.resetState()
    await this.recoverFromDisk(cutLsn)
    this.fenced = false
  }

  /** Resolves when a reopen in progress has finished (tests, and callers that want to retry). */
  async whenUnfenced (): Promise<void> {
    while (this.reopening !== null) await this.reopening
  }

  // ---- writes -------------------------------------------------------------------------

  protected submit (rec: LogRecord, durability: Durability): Submitted {
    if (durability === Durability.memory) {
      const bytes = rec.kind === RecordKind.message ? estimateMessageBytes(rec.payload, rec.props) : CONTROL_RECORD_BYTES
      if (bytes > this.opts.maxRecordBytes) throw tooLarge(bytes, this.opts.maxRecordBytes)
      this.lastAssignedLsn += 1
      return { lsn: this.lastAssignedLsn, bytes, done: this.resolvedDone }
    }
    const w = this.writer
    if (w === null || this.fenced || w.failed) throw storeError(StoreCode.FENCED, 'ledger is fenced after a failed write or fsync; it is recovering')
    // A message without meta (nearly every append): CBOR written by hand into a shared chunk, as replicated
    // records are (message-encoder.ts; the same record to decodeRecord), not the generic encoder.
    const body = rec.kind === RecordKind.message && (rec.meta === undefined || rec.meta.length === 0)
      ? this.localEncoder.encode(rec.topicId, rec.entryId, rec.publishTime, rec.payload, rec.props)
      : encodeRecord(rec)
    return this.appendBody(w, rec, body, durability)
  }

  /** repl: a record encoded by the caller (ledger-replicated.ts), durable once a barrier after it resolves. */
  protected override submitEncoded (rec: LogRecord, body: Buffer, durability: Durability, cacheEntry: boolean): { lsn: Lsn, bytes: number } {
    const w = this.writer
    if (durability === Durability.memory || w === null || this.fenced || w.failed) return super.submitEncoded(rec, body, durability, cacheEntry)
    return this.appendBody(w, rec, body, durability, cacheEntry)
  }

  private appendBody (w: LogWriter, rec: LogRecord, body: Buffer, durability: Durability, cacheEntry = true): Submitted {
    const bytes = body.length + FRAME_HEADER_BYTES
    if (bytes > this.opts.maxRecordBytes) throw tooLarge(bytes, this.opts.maxRecordBytes)
    while (w.tailLsn <= this.lastAssignedLsn) this.pad(w)
    const s = w.append(body, durability === Durability.sync)
    this.lastAssignedLsn = s.lsn
    if (rec.kind === RecordKind.message) {
      this.noteSegmentTime(segmentOfLsn(s.lsn), rec.publishTime)
      // fanin (issue 11): keep the entry as appended, so delivery of it skips the CRC check and CBOR decode (tail-cache.ts).
      if (cacheEntry) w.tail.addEntry(s.lsn, rec.topicId, rec.entryId, rec.publishTime, rec.payload, rec.props)
    }
    return s
  }

  /** Memory-topic lsns used up the gap after the last record: skip past them. */
  private pad (w: LogWriter): void {
    const gap = Math.min(PAD_BYTES_MAX, this.lastAssignedLsn - w.tailLsn + 1)
    const body = encodeRecord({ kind: RecordKind.pad, fill: Buffer.alloc(Math.max(0, gap - FRAME_HEADER_BYTES - 8)) })
    w.append(body, false).done.catch(() => {})
  }

  protected async barrier (durability: Durability): Promise<void> {
    if (durability === Durability.memory || this.writer === null) return
    await this.writer.barrier(durability === Durability.sync)
  }

  lastLsn (): Lsn { return this.lastAssignedLsn }

  /** repl: runs of replicated records by sender, skipped by the link back to it (via-runs.ts). */
  private readonly viaRuns = new ViaRuns()

  /** Noted only once fsynced: recovery keeps those frames, so no other record ever takes their lsns. */
  protected override noteViaRun (site: string, run: ViaRun): void {
    if (this.writer !== null && run.endLsn <= this.writer.syncedLsn) this.viaRuns.note(site, run)
  }

  /** Geo-replication: the durable log in lsn order (store/log-tail.ts reads the segments). */
  async readLog (afterLsn: Lsn, opts: LogReadOptions): Promise<LogReadResult> {
    this.checkUsable()
    if (this.reopening !== null) await this.whenUnfenced()
    const src: FileLogSource = {
      segmentIds: () => this.segments,
      durableEndLsn: () => this.writer?.syncedLsn ?? 0,
      read: async (seg, offset, length) => {
        const w = this.writer
        if (w === null) throw storeError(StoreCode.STORE_CLOSED, 'ledger is not open')
        // Never past the durable end of the active segment (preallocated zeros and un-synced bytes).
        if (seg === w.activeSegmentId) length = Math.max(0, Math.min(length, offsetOfLsn(w.syncedLsn) - offset))
        return length === 0 ? Buffer.alloc(0) : await this.reads.block(seg, offset, length)
      },
      topicName: (id) => this.topicsById[id]?.name,
      payloadBytesMax: this.maxPayloadBytes,
      segmentHeaderBytes: SEGMENT_HEADER_BYTES,
      // repl: the freshly written tail from the writer's memory (no file read, no checksum of our own bytes).
      written: (lsn) => this.writer?.tail.from(lsn),
      // Blocks read from files by earlier reads (store/read-blocks.ts): a link reads on from where it stopped.
      ...(this.writer !== null ? { blocks: this.writer.tail.blocks } : {}),
      viaRuns: this.viaRuns
    }
    return await readFileLog(src, afterLsn, opts)
  }

  // ---- reads --------------------------------------------------------------------------

  protected async readStored (t: TopicState, from: EntryId, to: EntryId, maxBytes: number): Promise<LedgerEntry[]> {
    if (this.reopening !== null) await this.whenUnfenced()
    return await this.reads.entries(t, from, to, maxBytes)
  }

  // ---- checkpoint -----------------------------------------------------------------------

  /** `force`: write one even when nothing was appended since the last (retention trimmed indexes). */
  async checkpoint (force = false): Promise<void> {
    this.checkWritable()
    while (this.checkpointing !== null) await this.checkpointing.catch(() => {})
    this.checkpointing = writeLedgerCheckpoint(this.parts, force).finally(() => { this.checkpointing = null })
    try {
      await this.checkpointing
    } catch (err) {
      throw asStoreError(err, 'checkpoint')
    }
  }

  // ---- retention ---------------------------------------------------------------------------

  async runRetention (): Promise<number> {
    this.checkWritable()
    while (this.retentionRunning !== null) await this.retentionRunning.catch(() => 0)
    // One pass at a time; ledger-file-retention.ts: the order that makes a crash at any step safe.
    this.retentionRunning = retentionPass(this.parts).finally(() => { this.retentionRunning = null })
    try {
      return await this.retentionRunning
    } catch (err) {
      throw asStoreError(err, 'retention')
    }
  }

  // ---- close / stats -------------------------------------------------------------------------

  protected async closeStorage (): Promise<void> {
    this.closingStorage = true
    if (this.reopening !== null) await this.whenUnfenced().catch(() => {})
    if (this.isOpen && !this.fenced && this.writer !== null && !this.writer.failed) {
      await this.checkpoint().catch((err) => this.opts.onEvent('checkpoint-failed', { err: String(err) }))
    }
    await this.writer?.close()
    this.writer = null
    await this.scrubbing
    await this.reads.closeAll()
    await this.releaseDirLock()
  }

  override stats (): LedgerStats {
    return { ...super.stats(), quarantinedRecords: this.damage.list.length, lostEntries: this.lostEntries }
  }

  protected storageStats (): Pick<LedgerStats, 'segments' | 'diskBytes' | 'fsyncs'> {
    const w = this.writer
    const segSize = this.fopts.segmentSizeBytes ?? C.SEGMENT_SIZE_BYTES_DEFAULT
    const sealed = Math.max(0, this.segments.length - 1)
    return {
      segments: this.segments.length,
      // Sealed segments are close to full; the active one is exact.
      diskBytes: w === null ? 0 : sealed * segSize + offsetOfLsn(w.writtenLsn),
      fsyncs: this.fsyncsBefore + (w?.fsyncs ?? 0)
    }
  }
}

function tooLarge (bytes: number, max: number): Error {
  return storeError(StoreCode.RECORD_TOO_LARGE, `record of ${bytes} bytes exceeds maxRecordBytes ${max}`, { details: { bytes, maxRecordBytes: max } })
}

export function createFileLedger (opts: FileLedgerOptions): FileLedger {
  return new FileLedger(opts)
}
