/**
 * FileLedger: the site's shared, segmented, append-only commit log.
 *
 * Layout (see docs/STORE.md): `dir/seg-<id>.log` segment files of framed CBOR
 * records ([u32 length][u32 crc32c over position + payload][payload]) and
 * `dir/ckpt-<lsn>.ckpt` checkpoints (`spare-<id>.seg`: the next segment,
 * prepared, not yet part of the log: spare-segment.ts). Every topic, cursor, meta and tombstone
 * change is a record in the same log; memory-durability topics never touch it.
 *
 * Fault model (what the disk may do to us; disk/sim-disk.ts simulates each):
 *  1. Power loss: bytes not fdatasync'ed may be lost, partly written (torn),
 *     or filled with garbage; directory changes not synced may be undone.
 *  2. Bit rot / misdirected writes: any byte at rest may change. The frame
 *     checksum covers the frame's own position, so a frame at the wrong place
 *     fails like a flipped bit.
 *  3. fdatasync fails (EIO, or ENOSPC on delayed allocation / thin
 *     provisioning): the pages it covered can no longer be trusted, and a
 *     retried fsync may report success without writing them (PostgreSQL
 *     "fsyncgate"). We never retry.
 *  4. Write fails with ENOSPC (possibly after a partial write) or EIO.
 *  5. Another process opens the same directory: prevented by the directory
 *     lock (dir-lock.ts, E_STORE_LOCKED), released by the kernel when the
 *     holder dies.
 *
 * Recovery decisions (recovery.ts, quarantine.ts), one per case. The promise:
 * an acknowledged record is lost only if its own bytes are damaged, every
 * valid record after a damaged one is kept, and no acknowledged entry id is
 * given out twice. A torn write can only be the end of the last write, so
 * damage followed by a valid frame (found by scanning forward at most one
 * maximal frame) is corruption, never a torn tail.
 *  | what is found                                   | decision                                              |
 *  |-------------------------------------------------|-------------------------------------------------------|
 *  | last segment ends in zeros to end of file       | preallocated space: the log ends there (no report)     |
 *  | last segment ends in a bad or partial frame     | end of the last write: cut there (truncatedBytes;      |
 *  |   with no valid frame after it                  |   corruptRecords when not merely short). Its entry id  |
 *  |                                                 |   is retired (tombstoned placeholder), since a damaged |
 *  |                                                 |   acknowledged last record looks the same              |
 *  | checksum or length mismatch (a length pointing  | E_STORE_CORRUPT reported, not fatal: the damaged bytes |
 *  |   past the end included) in the last segment,   |   are copied to seg-N.log.damaged-<offset> and skipped;|
 *  |   followed by a valid frame, or lying below the |   every valid record after them is kept; the entry ids |
 *  |   checkpoint's replay point (fsynced: rot)      |   they held stay taken (lost entries: read back empty, |
 *  |                                                 |   tombstoned so consumers acknowledge past them)       |
 *  | last segment with a damaged header, valid       | header rewritten (it holds only magic and id), every   |
 *  |   frames after it                               |   frame kept, corruptRecords++                         |
 *  | last segment with a bad header, no valid frame  | torn creation: header rewritten, its bytes truncated   |
 *  | the same damage in a sealed (fully fsynced, not | E_STORE_CORRUPT on open (details: segment, offset);    |
 *  |   last) segment that open reads (at or after    |   with repair: true quarantined like the row above:    |
 *  |   the checkpoint's segment, or verifyAllOnOpen) |   the damaged record only, nothing after it            |
 *  | damage already quarantined by an earlier open   | skipped silently (its copy is the record of it), the   |
 *  |                                                 |   segment sealed or not                                |
 *  | sealed segments wholly before the checkpoint    | not read at open (a restart must not reread the whole  |
 *  |                                                 |   log): a background scrub reports new damage as the   |
 *  |                                                 |   event 'sealed-segment-corrupt'; reads of it fail     |
 *  |                                                 |   with E_STORE_CORRUPT                                 |
 *  | records of a topic whose naming record was      | kept under '$lost/topic-<id>' (the name is gone)       |
 *  |   quarantined                                   |                                                        |
 *  | checkpoint unreadable (checksum, version)       | use the previous one, corruptRecords++                 |
 *  | a segment id missing between two others         | E_STORE_CORRUPT                                        |
 *  | no checkpoint and the first segment is not 1    | E_STORE_CORRUPT                                        |
 *  | valid checksum but undecodable CBOR             | E_STORE_CORRUPT (a bug, not a disk fault)              |
 * Every quarantine is reported as the event 'corrupt-record-quarantined'
 * (code E_STORE_CORRUPT) and counted in RecoveryReport.quarantinedRecords /
 * lostEntries and stats().quarantinedRecords / lostEntries.
 * Runtime decisions (log-writer.ts):
 *  | write fails ENOSPC / EIO   | reject the batch and all queued records (E_DISK_FULL / E_STORE_IO), fence,  |
 *  |                            | cut the log at the end of the last good write, reopen from disk             |
 *  | fdatasync fails EIO        | reject every un-synced record (E_FSYNC_FAILED), fence, cut the log at the  |
 *  |                            | last successful fsync (async appends after it are lost), reopen from disk  |
 *  | fdatasync fails ENOSPC     | the same cut, but E_DISK_FULL (a full disk, like a write's ENOSPC)         |
 *  | segment roll fails         | the new file is closed, then as for the write or fsync that failed        |
 * Reopen runs at most FENCE_REOPEN_ATTEMPTS_MAX times in a row; a reopen that
 * fails for a full disk waits DISK_FULL_REOPEN_BACKOFF_MS without using up an
 * attempt (at most DISK_FULL_REOPEN_WAITS_MAX times). While fenced, writes fail
 * with E_FENCED. Acknowledged sync appends are never lost: they lie below the
 * last successful fsync. Async appends may be lost on power loss or failed
 * fsync, and their entry ids may then be given to new entries (the first
 * record cut off the tail excepted: its id is retired).
 * Retention: see retention() below for the order that makes a crash at any
 * step safe.
 */
import { performance } from 'node:perf_hooks'
import { LedgerBase, type Submitted } from './ledger-base.js'
import { LogWriter, type WriterFailure } from './log-writer.js'
import { MessageEncoder } from './message-encoder.js'
import { recoverLog, verifySealedSegment } from './recovery.js'
import { checkpointName, encodeSnapshot, RowChunks, writeCheckpointFile, type Snapshot } from './checkpoint.js'
import { RecordKind, decodeRecord, encodeRecord, estimateMessageBytes, type LogRecord } from './records.js'
import { FRAME_HEADER_BYTES, FrameStatus, checkFrame } from './framing.js'
import { SEGMENT_HEADER_BYTES, lsnOf, offsetOfLsn, segmentName, segmentOfLsn } from './segment.js'
import { StoreCode, asStoreError, errnoCode, storeError } from './errors.js'
import { realDisk } from './disk/real-disk.js'
import { acquireDirLock, type DirLock } from './dir-lock.js'
import { DamageTracker } from './quarantine.js'
import { resolveOptions, type FileLedgerOptions } from './options.js'
import * as C from './constants.js'
import type { Disk, DiskFile } from './disk/disk.js'
import type { TopicState } from './topic-state.js'
import { Durability, type EntryId, type LedgerEntry, type LedgerStats, type Lsn, type RecoveryReport } from './types.js'
import assert from 'node:assert/strict'
import { readFileLog, type FileLogSource, type LogReadOptions, type LogReadResult } from './log-tail.js'
import { replicationFloorLsn } from './origin-marks.js'

/** Open read handles of sealed segments kept at once. */
const READ_HANDLES_MAX = 32
/** Largest pad record: memory-topic lsns squeezed between two log records. */
const PAD_BYTES_MAX = 64 * 1024
const CONTROL_RECORD_BYTES = 32
const EMPTY_PAYLOAD = Buffer.alloc(0)

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
  private readonly readFiles = new Map<number, Promise<DiskFile>>()
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
    const out = await recoverLog({
      disk: this.disk,
      dir: this.dir,
      repair: this.fopts.repair ?? false,
      verifyAll: this.fopts.verifyAllOnOpen ?? false,
      payloadBytesMax: this.maxPayloadBytes,
      cutLsn,
      onEvent: this.opts.onEvent,
      restore: (s) => this.restoreSnapshot(s),
      apply: (rec, lsn, bytes) => {
        if (rec.kind === RecordKind.message) {
          this.noteSegmentTime(segmentOfLsn(lsn), rec.publishTime)
          // Ids missing before this one were in quarantined records: placeholders keep them from reuse.
          const t = this.topicsById[rec.topicId]
          if (damage.any && t !== undefined && rec.entryId > t.index.next) damage.fillGap(t, rec.entryId, lsn)
        }
        if (damage.any && 'topicId' in rec && rec.kind !== RecordKind.topic && this.topicsById[rec.topicId] === undefined) {
          // The record naming this topic was quarantined: keep its entries under a name that says so.
          const name = `${C.LOST_TOPIC_PREFIX}${rec.topicId}`
          this.applyRecord({ kind: RecordKind.topic, topicId: rec.topicId, name }, lsn, bytes)
          this.opts.onEvent('corrupt-topic-renamed', { code: StoreCode.STORE_CORRUPT, topicId: rec.topicId, name })
        }
        this.applyRecord(rec, lsn, bytes)
      },
      onDamage: (range, payload) => {
        damage.add(range)
        if (payload !== undefined) damage.guess(lsnOf(range.segmentId, range.offset), payload, this.topicsById, this.topicsByName.values())
      },
      onTailCut: (tailLsn, payload) => { damage.retireTail(tailLsn, payload, this.topicsById, this.topicsByName.values()) }
    })
    const placed = damage.finish()
    if (placed.retired > 0) this.opts.onEvent('tail-entry-retired', { count: placed.retired, reason: 'the record cut off the end of the log may have been acknowledged: its entry id is not given out again' })
    this.trimBelowFirstSegment(out.segmentIds[0] as number)
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
      const scrub = this.scrub(out.skippedSegmentIds, this.stateGeneration).catch(() => {})
      this.scrubbing = Promise.all([this.scrubbing, scrub]).then(() => {})
    }
    return report
  }

  /**
   * An index entry below the first segment points at a deleted record
   * (a retention pass of an older version checkpointed before it unlinked):
   * forget it, or reads return nothing forever and a cursor at `earliest`
   * pins retention there.
   */
  private trimBelowFirstSegment (firstSegmentId: number): void {
    const boundary = lsnOf(firstSegmentId, 0)
    let topics = 0
    let entries = 0
    for (const t of this.topicsByName.values()) {
      if (t.mem !== null || t.index.count === 0 || t.index.lsnOf(t.index.first) >= boundary) continue
      const first = t.index.firstAtOrAboveLsn(boundary)
      entries += first - t.index.first
      topics++
      this.trimTopic(t, first)
    }
    if (topics > 0) this.opts.onEvent('index-trimmed', { reason: 'entries below the first segment', firstSegment: segmentName(firstSegmentId), topics, entries })
  }

  /** Verify sealed segments skipped at open, one at a time, in the background. */
  private async scrub (ids: number[], generation: number): Promise<void> {
    for (const id of ids) {
      if (this.isClosed || this.closingStorage || generation !== this.stateGeneration) return
      if (!this.segments.includes(id)) continue // retention took it
      try {
        const known = new Set(this.damage.list.filter((d) => d.segmentId === id).map((d) => d.offset))
        const damage = await verifySealedSegment(this.disk, this.dir, id, this.maxPayloadBytes, known)
        if (damage !== undefined) this.opts.onEvent('sealed-segment-corrupt', { segment: segmentName(id), ...damage, foundBy: 'scrub' })
      } catch (err) {
        if (this.segments.includes(id)) this.opts.onEvent('scrub-failed', { segment: segmentName(id), err: String(err) })
      }
    }
    this.opts.onEvent('scrub-done', { segments: ids.length })
  }

  private restoreSnapshot (s: Snapshot): void {
    for (const t of s.topics) {
      this.topicsByName.set(t.name, t)
      this.topicsById[t.id] = t
    }
    this.nextTopicId = s.nextTopicId
    this.meta = s.meta
    for (const [id, ms] of s.segmentTimes) this.segmentTimes.set(id, ms)
  }

  private noteSegmentTime (segmentId: number, publishMs: number): void {
    const prev = this.segmentTimes.get(segmentId)
    if (prev === undefined || publishMs > prev) this.segmentTimes.set(segmentId, publishMs)
  }

  // ---- failure: fence, cut, reopen ----------------------------------------------

  private onWriterFailure (f: WriterFailure): void {
    this.fenced = true
    this.opts.onEvent('fenced', { code: f.error.code, cutLsn: f.cutLsn, cause: String(f.error.cause) })
    this.reopening = this.reopenLoop(f.cutLsn).finally(() => { this.reopening = null })
  }

  private async reopenLoop (cutLsn: number): Promise<void> {
    let attempt = 0
    let diskFullWaits = 0
    while (attempt < C.FENCE_REOPEN_ATTEMPTS_MAX) {
      attempt++
      if (this.isClosed) return
      try {
        // A checkpoint or retention pass in flight finishes (or fails) before the state is rebuilt.
        await this.checkpointing?.catch(() => {})
        await this.retentionRunning?.catch(() => {})
        this.fsyncsBefore += this.writer?.fsyncs ?? 0
        await this.writer?.abandon()
        this.writer = null
        await this.closeReadFiles()
        this.resetState()
        await this.recoverFromDisk(cutLsn)
        this.fenced = false
        this.opts.onEvent('unfenced', { attempt })
        return
      } catch (err) {
        // A full disk is not a failing one: wait for space (bounded) without using up the attempts.
        const full = asStoreError(err, 'reopen').code === StoreCode.DISK_FULL
        this.opts.onEvent('reopen-failed', { attempt, diskFull: full, err: String(err), details: (err as { details?: unknown }).details })
        if (full && diskFullWaits < C.DISK_FULL_REOPEN_WAITS_MAX) {
          diskFullWaits++
          attempt--
          await new Promise((resolve) => setTimeout(resolve, C.DISK_FULL_REOPEN_BACKOFF_MS))
          continue
        }
        await new Promise((resolve) => setTimeout(resolve, C.FENCE_REOPEN_BACKOFF_MS))
      }
    }
    this.opts.onEvent('fenced-permanently', { attempts: attempt, diskFullWaits })
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
  protected override submitEncoded (rec: LogRecord, body: Buffer, durability: Durability): { lsn: Lsn, bytes: number } {
    const w = this.writer
    if (durability === Durability.memory || w === null || this.fenced || w.failed) return super.submitEncoded(rec, body, durability)
    return this.appendBody(w, rec, body, durability)
  }

  private appendBody (w: LogWriter, rec: LogRecord, body: Buffer, durability: Durability): Submitted {
    const bytes = body.length + FRAME_HEADER_BYTES
    if (bytes > this.opts.maxRecordBytes) throw tooLarge(bytes, this.opts.maxRecordBytes)
    while (w.tailLsn <= this.lastAssignedLsn) this.pad(w)
    const s = w.append(body, durability === Durability.sync)
    this.lastAssignedLsn = s.lsn
    if (rec.kind === RecordKind.message) {
      this.noteSegmentTime(segmentOfLsn(s.lsn), rec.publishTime)
      // fanin (issue 11): keep the entry as appended, so delivery of it skips the CRC check and CBOR decode (tail-cache.ts).
      w.tail.addEntry(s.lsn, rec.topicId, rec.entryId, rec.publishTime, rec.payload, rec.props)
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
        return length === 0 ? Buffer.alloc(0) : await this.readBlock(seg, offset, length)
      },
      topicName: (id) => this.topicsById[id]?.name,
      payloadBytesMax: this.maxPayloadBytes,
      segmentHeaderBytes: SEGMENT_HEADER_BYTES,
      // repl: the freshly written tail from the writer's memory (no file read, no checksum of our own bytes).
      written: (lsn) => this.writer?.tail.from(lsn),
      // Blocks read from files by earlier reads (store/read-blocks.ts): a link reads on from where it stopped.
      ...(this.writer !== null ? { blocks: this.writer.tail.blocks } : {})
    }
    return await readFileLog(src, afterLsn, opts)
  }

  // ---- reads --------------------------------------------------------------------------

  protected async readStored (t: TopicState, from: EntryId, to: EntryId, maxBytes: number): Promise<LedgerEntry[]> {
    if (this.reopening !== null) await this.whenUnfenced()
    const w = this.writer
    if (w === null) throw storeError(StoreCode.STORE_CLOSED, 'ledger is not open')
    const out: LedgerEntry[] = []
    let payloadBytes = 0
    let block: Buffer | undefined
    let blockLsn = 0
    let id = from
    while (id < to && id < t.index.next && id >= t.index.first) {
      const lsn = t.index.lsnOf(id)
      if (this.damage.isLostEntry(t, id, lsn)) {
        // Its record was quarantined: an empty, tombstoned entry (readers acknowledge and skip it).
        out.push({ topic: t.name, entryId: id, lsn, publishTime: 0, payload: EMPTY_PAYLOAD, props: {} })
        id++
        continue
      }
      // fanin (issue 11): the entry as appended, when still kept (tail-cache.ts); else check and decode its frame.
      const kept = w.tail.entry(lsn, t, id)
      if (kept !== undefined) {
        if (out.length > 0 && payloadBytes + kept.payload.length > maxBytes) break
        payloadBytes += kept.payload.length
        out.push(kept)
        id++
        continue
      }
      const bytes = t.index.bytesOf(id)
      let frame = w.tail.get(lsn, bytes)
      if (frame === undefined) {
        if (block === undefined || lsn < blockLsn || lsn + bytes > blockLsn + block.length) {
          // One read covering this entry and as many following ones of the topic as fit in a block.
          const seg = segmentOfLsn(lsn)
          let endLsn = lsn + bytes
          let budget = maxBytes - payloadBytes
          for (let k = id + 1; k < to && budget > 0; k++) {
            const l = t.index.lsnOf(k)
            const b = t.index.bytesOf(k)
            if (segmentOfLsn(l) !== seg || l + b - lsn > C.READ_BLOCK_BYTES_MAX) break
            endLsn = l + b
            budget -= b
          }
          block = await this.readBlock(seg, offsetOfLsn(lsn), endLsn - lsn)
          blockLsn = lsn
          if (block.length < bytes) break // the segment went away under us (retention)
        }
        frame = block.subarray(lsn - blockLsn, lsn - blockLsn + bytes)
      }
      const e = this.decodeEntry(t, id, lsn, frame)
      if (out.length > 0 && payloadBytes + e.payload.length > maxBytes) break
      payloadBytes += e.payload.length
      out.push(e)
      id++
    }
    return out
  }

  private decodeEntry (t: TopicState, entryId: EntryId, lsn: Lsn, frame: Buffer): LedgerEntry {
    const r = checkFrame(frame, 0, segmentOfLsn(lsn), offsetOfLsn(lsn), this.maxPayloadBytes)
    if (r.status !== FrameStatus.ok || r.payloadBytes + FRAME_HEADER_BYTES !== frame.length) {
      throw storeError(StoreCode.STORE_CORRUPT, `entry ${t.name}#${entryId} fails its checksum at lsn ${lsn}`, { details: { topic: t.name, entryId, lsn } })
    }
    const rec = decodeRecord(frame.subarray(FRAME_HEADER_BYTES))
    if (rec.kind !== RecordKind.message || rec.entryId !== entryId || rec.topicId !== t.id) {
      throw storeError(StoreCode.STORE_CORRUPT, `index points ${t.name}#${entryId} at a different record (lsn ${lsn})`)
    }
    return { topic: t.name, entryId, lsn, publishTime: rec.publishTime, payload: rec.payload, props: rec.props }
  }

  /** `retried`: this is the one retry of a read whose handle an eviction closed under it. */
  private async readBlock (segmentId: number, offset: number, length: number, retried = false): Promise<Buffer> {
    const w = this.writer as LogWriter
    if (segmentId === w.activeSegmentId) return await w.activeFile.read(offset, length)
    let fp = this.readFiles.get(segmentId)
    if (fp === undefined) {
      if (this.readFiles.size >= READ_HANDLES_MAX) {
        const [oldId, old] = this.readFiles.entries().next().value as [number, Promise<DiskFile>]
        this.readFiles.delete(oldId)
        old.then(async (f) => { await f.close() }, () => {})
      }
      fp = this.disk.open(`${this.dir}/${segmentName(segmentId)}`, false)
      this.readFiles.set(segmentId, fp)
    }
    try {
      return await (await fp).read(offset, length)
    } catch (err) {
      // Drop this handle, closed: a failed read must not leave its descriptor to the garbage collector. Only our
      // own entry: another read may have opened the segment again since (an eviction or retention closed ours).
      const ours = this.readFiles.get(segmentId) === fp
      if (ours) {
        this.readFiles.delete(segmentId)
        await fp.then(async (f) => { await f.close() }, () => {}).catch(() => {})
      }
      if (!this.segments.includes(segmentId)) return Buffer.alloc(0)
      // Not ours any more: an eviction (READ_HANDLES_MAX) closed the handle mid-read; once more with a fresh one.
      if (!ours && !retried && !this.closingStorage && this.writer !== null) return await this.readBlock(segmentId, offset, length, true)
      throw storeError(StoreCode.IO, `read of ${segmentName(segmentId)} failed`, { cause: err })
    }
  }

  private async closeReadFiles (): Promise<void> {
    const all = [...this.readFiles.values()]
    this.readFiles.clear()
    for (const fp of all) await fp.then(async (f) => { await f.close() }, () => {})
  }

  // ---- checkpoint -----------------------------------------------------------------------

  /** `force`: write one even when nothing was appended since the last (retention trimmed indexes). */
  async checkpoint (force = false): Promise<void> {
    this.checkWritable()
    while (this.checkpointing !== null) await this.checkpointing.catch(() => {})
    this.checkpointing = this.writeCheckpoint(force).finally(() => { this.checkpointing = null })
    try {
      await this.checkpointing
    } catch (err) {
      throw asStoreError(err, 'checkpoint')
    }
  }

  private async writeCheckpoint (force: boolean): Promise<void> {
    const w = this.writer as LogWriter
    // Fuzzy checkpoint: every record below replayFrom is in the snapshot; records
    // after it may be too, and replay from replayFrom is idempotent.
    const replayFrom = w.tailLsn
    const newest = this.checkpointLsns[this.checkpointLsns.length - 1]
    if (newest === replayFrom && !force) return
    const rows = new RowChunks()
    let sliceTopics = 0
    const generation = this.stateGeneration
    for (const t of this.topicsByName.values()) {
      if (t.durability === Durability.memory) continue
      rows.add(t)
      // Yield to the event loop between slices: a million topics must not stall appends.
      if (++sliceTopics >= C.CHECKPOINT_TOPICS_PER_SLICE) {
        sliceTopics = 0
        await new Promise((resolve) => setImmediate(resolve))
        if (generation !== this.stateGeneration || this.writer !== w) throw storeError(StoreCode.FENCED, 'ledger reopened during the checkpoint')
      }
    }
    const body = encodeSnapshot({ replayFrom, nextTopicId: this.nextTopicId, rows, meta: this.meta, segmentTimes: [...this.segmentTimes] })
    const topics = rows.count
    // The snapshot is valid once the log is durable through everything it reflects.
    await w.barrier(true)
    await writeCheckpointFile(this.disk, this.dir, replayFrom, body)
    // A forced one with the same replay point replaced the file of that name.
    if (newest !== replayFrom) this.checkpointLsns.push(replayFrom)
    while (this.checkpointLsns.length > C.CHECKPOINTS_KEPT) {
      const old = this.checkpointLsns.shift() as number
      await this.disk.unlink(`${this.dir}/${checkpointName(old)}`).catch(() => {})
    }
    this.opts.onEvent('checkpoint', { replayFrom, bytes: body.length, topics })
  }

  // ---- retention ---------------------------------------------------------------------------

  async runRetention (): Promise<number> {
    this.checkWritable()
    while (this.retentionRunning !== null) await this.retentionRunning.catch(() => 0)
    this.retentionRunning = this.retention().finally(() => { this.retentionRunning = null })
    try {
      return await this.retentionRunning
    } catch (err) {
      throw asStoreError(err, 'retention')
    }
  }

  /**
   * One retention pass. The order is what makes a crash at any point safe:
   *  1. the floor: per topic the first entry it must keep, from the
   *     acknowledgements submitted so far;
   *  2. a barrier makes every one of them durable (a failed fsync aborts the
   *     pass): the floor rests on durable acknowledgements only;
   *  3. the indexes forget the entries of the segments about to go;
   *  4. a checkpoint records that: no checkpoint left after step 5 has an
   *     index entry pointing into a deleted segment;
   *  5. segments are unlinked oldest first, the directory synced after each,
   *     so a crash leaves a shorter prefix deleted, never a gap.
   * Recovery still trims an index that points below the first segment and
   * finishes a pass that left a gap (recovery.ts), for logs written before.
   */
  private async retention (): Promise<number> {
    const w = this.writer as LogWriter
    const generation = this.stateGeneration
    const now = this.opts.nowMs()
    // 1. The floor.
    let neededLsn = w.tailLsn
    // Geo-replication: keep every record a link has not shipped yet (store/origin-marks.ts).
    const replFloor = replicationFloorLsn(this.meta)
    if (replFloor !== undefined) neededLsn = Math.min(neededLsn, replFloor + 1)
    const boundaryCache = new Map<number, number>()
    /** Lsn where the first segment holding an entry not older than ms starts. */
    const notOlderLsn = (ms: number): number => {
      let lsn = boundaryCache.get(ms)
      if (lsn === undefined) {
        lsn = Number.POSITIVE_INFINITY
        for (const id of this.segments) {
          if ((this.segmentTimes.get(id) ?? Number.NEGATIVE_INFINITY) >= ms) { lsn = lsnOf(id, 0); break }
        }
        boundaryCache.set(ms, lsn)
      }
      return lsn
    }
    const memKeep: Array<[TopicState, number]> = []
    for (const t of this.topicsByName.values()) {
      if (t.index.count === 0) continue
      if (t.mem !== null) {
        const mem = t.mem
        memKeep.push([t, this.neededFrom(t, now, (ms) => {
          let i = 0
          while (i < mem.length && (mem[i] as LedgerEntry).publishTime < ms) i++
          return t.index.first + i
        })])
        continue
      }
      const keep = this.neededFrom(t, now, (ms) => t.index.firstAtOrAboveLsn(notOlderLsn(ms)))
      if (keep < t.index.next) neededLsn = Math.min(neededLsn, t.index.lsnOf(keep))
    }
    // Memory topics: acknowledgements of memory cursors are never on disk; nothing to wait for.
    for (const [t, keep] of memKeep) this.trimTopic(t, keep)
    const doomed: number[] = []
    for (let i = 0; i + 1 < this.segments.length; i++) {
      const id = this.segments[i] as number
      if (id === w.activeSegmentId || lsnOf(this.segments[i + 1] as number, 0) > neededLsn) break
      doomed.push(id)
    }
    if (doomed.length > 0) {
      // 2. Durable acknowledgements only.
      await w.barrier(true)
      if (generation !== this.stateGeneration || this.writer !== w) throw storeError(StoreCode.FENCED, 'ledger reopened during retention')
      // 3. Forget what the doomed segments hold.
      const boundary = lsnOf((doomed[doomed.length - 1] as number) + 1, 0)
      for (const t of this.topicsByName.values()) {
        if (t.mem === null && t.index.count > 0 && t.index.lsnOf(t.index.first) < boundary) this.trimTopic(t, t.index.firstAtOrAboveLsn(boundary))
      }
    }
    // 4. Old segments may only go once a checkpoint holds every state they carry, trimmed indexes included.
    await this.checkpoint(doomed.length > 0)
    // 5. Oldest first, one directory sync each.
    let deleted = 0
    for (const id of doomed) {
      if (this.isClosed || generation !== this.stateGeneration) break
      const fp = this.readFiles.get(id)
      this.readFiles.delete(id)
      if (fp !== undefined) await fp.then(async (f) => { await f.close() }, () => {})
      this.segments = this.segments.filter((x) => x !== id)
      try {
        await this.disk.unlink(`${this.dir}/${segmentName(id)}`)
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') {
          this.segments.unshift(id) // still there: the next pass tries again
          throw err
        }
      }
      // Copies of its quarantined damage go with it (recovery ignores copies of missing segments).
      for (const d of this.damage.list.filter((x) => x.segmentId === id)) await this.disk.unlink(`${this.dir}/${d.file}`).catch(() => {})
      this.damage.dropSegment(id)
      this.segmentTimes.delete(id)
      await this.disk.syncDir(this.dir)
      deleted++
    }
    if (deleted > 0) this.opts.onEvent('retention', { segmentsDeleted: deleted, firstSegment: this.segments[0] })
    for (const t of this.topicsByName.values()) this.pruneDelayed(t)
    return deleted
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
    await this.closeReadFiles()
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
