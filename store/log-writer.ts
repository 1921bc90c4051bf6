/**
 * The log writer: lsn reservation, segment roll-over, and group commit. The
 * pending groups and their write buffers are log-queue.ts; the disk work of a
 * roll is log-roll.ts; its options and failure report are log-writer-options.ts.
 *
 * Appends reserve their position synchronously (lsn order = call order) and
 * queue their encoded body in a group that shares one promise (the records
 * queued together: not one promise per append). One loop drains the queue: it takes every queued
 * record of the same segment up to groupCommitMaxBytes (a batch), writes them
 * with one write and, if any wants sync, makes them durable: one O_DSYNC
 * write for a batch of at most dsyncWriteBytesMax with nothing un-synced
 * before it, else write + fdatasync. That is a commit. Up to commitsInFlightMax commits may have
 * their sync in flight at once: while one commit's sync runs, the next batch
 * is written and synced. Commits complete in lsn order whatever order their
 * syncs finish in (an O_DSYNC write makes only its own bytes durable): a
 * commit resolves its records only after the commit before it did, and its
 * failure is handled only then, so every record below a failure is resolved
 * and every record at or above it rejected.
 * The loop runs at the end of the turn in which records were queued, or at
 * once when groupCommitEagerBytes are queued and a commit slot is free: the
 * appends released by one commit's completion then become two commits, the
 * first written while the rest are still being encoded. With
 * groupCommitWaitMs > 0 the loop waits that long for more before writing (no
 * eager start). Async-only batches are fsynced by a timer after asyncFlushMs.
 *
 * The writer never retries a failed write or fsync: it rejects every pending
 * record, remembers the last lsn it knows to be good (`cutLsn`), tries to cut
 * the file back to it, and reports the failure; the ledger fences and
 * reopens from disk.
 */
import assert from 'node:assert/strict'
import { FRAME_HEADER_BYTES, frameChecksum } from './framing.js'
import { SEGMENT_HEADER_BYTES, lsnOf, segmentOfLsn, offsetOfLsn } from './segment.js'
import { TailCache } from './tail-cache.js'
import { ZeroAhead, type ZeroAheadStats } from './zero-ahead.js'
import { StoreCode, storeError } from './errors.js'
import type { Disk, DiskFile } from './disk/disk.js'
import type { FerryError } from '../common/errors.js'
import { CommitChain, CommitOp, commitError } from './log-commit.js'
import { SpareSegment } from './spare-segment.js'
import { LogQueue, type Group } from './log-queue.js'
import { cutZerosAhead, startSegment } from './log-roll.js'
import type { WriterOptions, WriterFailure } from './log-writer-options.js'

export type { WriterOptions, WriterFailure } from './log-writer-options.js'

export class LogWriter {
  private readonly queue: LogQueue
  /** The drain loop is executing (possibly waiting for a write, a roll or a commit slot). */
  private active = false
  /** A drain is scheduled for the end of this turn. */
  private scheduled = false
  private failure: WriterFailure | null = null
  private syncWanted = false
  private asyncTimer: NodeJS.Timeout | null = null
  private closing = false
  /** Next free position (reservation). */
  private reserveSegmentId: number
  private reserveOffset: number
  /** End of written bytes (an O_DSYNC write counts from when it is issued) / of fsynced bytes. */
  writtenLsn: number
  syncedLsn: number
  /** End of the bytes whose commit completed (their records resolved: readable): the tail cache's ring counts from here. */
  private committedLsn: number
  /** End of the bytes a sync has been issued for (in flight or done). */
  private coveredLsn: number
  fsyncs = 0
  readonly tail: TailCache
  /** Zeros written and synced in the background ahead of the log end of the active segment. */
  private zero: ZeroAhead
  /** Segment ids created by this writer, with the lsn where their first record goes. */
  onSegmentCreated: (segmentId: number) => void = () => {}
  /** Batches taken from the queue and not yet resolved, in lsn order (a failure rejects them). */
  private readonly open = new Set<Group[]>()
  /** The commits not yet complete, completed in lsn order (at most commitsInFlightMax). */
  private readonly commits = new CommitChain()
  private readonly commitsInFlightMax: number
  private readonly eagerBytes: number
  /** The next segment, made once the active one is half full (spare-segment.ts). */
  private readonly spare: SpareSegment

  constructor (
    private readonly disk: Disk,
    private readonly opts: WriterOptions,
    private segmentId: number,
    private file: DiskFile,
    endOffset: number,
    fileSize: number,
    private readonly onFailure: (f: WriterFailure) => void
  ) {
    this.zero = new ZeroAhead(file, opts.segmentSizeBytes, endOffset, fileSize)
    assert.ok(endOffset >= SEGMENT_HEADER_BYTES, 'writer starts after the segment header')
    this.reserveSegmentId = segmentId
    this.reserveOffset = endOffset
    this.writtenLsn = lsnOf(segmentId, endOffset)
    this.syncedLsn = this.writtenLsn
    this.coveredLsn = this.writtenLsn
    this.committedLsn = this.writtenLsn
    this.tail = new TailCache(opts.tailCacheBytes, { committedEndLsn: () => this.committedLsn })
    this.queue = new LogQueue(opts.groupCommitMaxBytes)
    this.spare = new SpareSegment(disk, opts.dir, opts.segmentSizeBytes)
    this.commitsInFlightMax = Math.max(1, opts.commitsInFlightMax)
    // Waiting for more (groupCommitWaitMs) and starting at once contradict each other: the wait wins.
    this.eagerBytes = opts.groupCommitWaitMs > 0 ? Number.POSITIVE_INFINITY : opts.groupCommitEagerBytes
  }

  get activeSegmentId (): number { return this.segmentId }
  get activeFile (): DiskFile { return this.file }
  /** Lsn the next record will get (before any padding or roll-over). */
  get tailLsn (): number { return lsnOf(this.reserveSegmentId, this.reserveOffset) }
  get failed (): boolean { return this.failure !== null }
  /** Zero-ahead counters of the active segment (benchmarks and tests). */
  get zeroAheadStats (): Readonly<ZeroAheadStats> { return this.zero.stats }
  /** Bytes of appended record bodies still referenced by the writer (none once their batch is written). */
  get heldBodyBytes (): number { return this.queue.heldBodyBytes }

  /** Reserve space for a frame; rolls to a new segment when it does not fit. */
  private reserve (frameBytes: number): number {
    assert.ok(frameBytes + SEGMENT_HEADER_BYTES <= this.opts.segmentSizeBytes, 'a frame fits in a segment')
    if (this.reserveOffset + frameBytes > this.opts.segmentSizeBytes && this.reserveOffset > SEGMENT_HEADER_BYTES) {
      this.reserveSegmentId++
      this.reserveOffset = SEGMENT_HEADER_BYTES
    }
    const lsn = lsnOf(this.reserveSegmentId, this.reserveOffset)
    this.reserveOffset += frameBytes
    return lsn
  }

  /** Queue one record body; returns its lsn, frame size and durability promise. */
  append (body: Buffer, sync: boolean): { lsn: number, bytes: number, done: Promise<void> } {
    if (this.failure !== null) throw storeError(StoreCode.FENCED, 'log writer failed; the ledger is recovering')
    if (this.closing) throw storeError(StoreCode.STORE_CLOSED, 'ledger is closing')
    const bytes = FRAME_HEADER_BYTES + body.length
    const lsn = this.reserve(bytes)
    const checksum = frameChecksum(segmentOfLsn(lsn), offsetOfLsn(lsn), body)
    const done = this.queue.add(lsn, segmentOfLsn(lsn), body, checksum, bytes, sync)
    if (!this.active && this.queue.queuedBytes >= this.eagerBytes && this.commits.size < this.commitsInFlightMax) void this.run()
    else this.kick()
    return { lsn, bytes, done }
  }

  /** Resolves when everything queued so far is written (and fsynced when `sync`). */
  barrier (sync: boolean): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure.error)
    const idle = !this.queue.pending && !this.active && !this.scheduled && this.commits.size === 0
    if (idle && (!sync || this.syncedLsn >= this.writtenLsn)) return Promise.resolve()
    const g = this.queue.barrierGroup(this.tailLsn, this.reserveSegmentId, sync)
    this.kick()
    return g.done
  }

  private kick (): void {
    if (this.active || this.scheduled || this.failure !== null) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      if (!this.active) void this.run()
    })
  }

  /** The drain loop. Runs synchronously up to its first wait, so an eager start issues its write in the caller's turn. */
  private async run (): Promise<void> {
    this.active = true
    try {
      while (this.failure === null && (this.queue.pending || this.syncWanted)) {
        if (this.commits.size >= this.commitsInFlightMax) {
          await this.commits.oldest
          continue
        }
        if (this.opts.groupCommitWaitMs > 0 && this.queue.queuedBytes < this.opts.groupCommitMaxBytes && this.queue.pending) {
          await new Promise((resolve) => setTimeout(resolve, this.opts.groupCommitWaitMs))
        }
        const writing = this.startBatch()
        if (writing !== null) await writing
      }
    } finally {
      this.active = false
    }
  }

  /** Start the next commit. Returns what the loop must wait for before the next one (a write, a roll), or null. */
  private startBatch (): Promise<void> | null {
    const batch = this.queue.take(this.opts.groupCommitMaxBytes)
    this.open.add(batch)
    let wantSync = this.syncWanted
    let first: Group | undefined
    for (const g of batch) {
      if (g.sync) wantSync = true
      if (first === undefined && g.bytes > 0) first = g
    }
    this.syncWanted = false
    if (first === undefined) {
      // Barriers only: an fdatasync if written bytes lack one; else the commits before it are enough.
      if (wantSync && this.coveredLsn < this.writtenLsn) this.commit(batch, this.issueDatasync(), CommitOp.fdatasync, this.writtenLsn)
      else this.commit(batch, null, CommitOp.none, this.writtenLsn)
      return null
    }
    if (segmentOfLsn(first.lsn) !== this.segmentId) return this.rollThenWrite(batch, first.lsn, wantSync)
    return this.writeBatch(batch, first.lsn, wantSync)
  }

  private async rollThenWrite (batch: Group[], start: number, wantSync: boolean): Promise<void> {
    // The roll seals the segment: every commit of it completes first.
    await this.commits.newest
    if (this.failure !== null) return
    if (!await this.rollTo(segmentOfLsn(start))) return
    await this.writeBatch(batch, start, wantSync)
  }

  private writeBatch (batch: Group[], start: number, wantSync: boolean): Promise<void> | null {
    let size = 0
    for (const g of batch) size += g.bytes
    const buf = this.queue.build(batch, start, size)
    assert.equal(start, this.writtenLsn, 'batch starts where the log ends')
    // Never concurrently with a zero chunk that reaches into this batch's range (zeros must not land on records).
    const zeroWait = this.zero.beforeWrite(offsetOfLsn(start) + size)
    if (zeroWait !== null) return zeroWait.then(async () => { await this.writeBuilt(batch, start, buf, wantSync) })
    return this.writeBuilt(batch, start, buf, wantSync)
  }

  private writeBuilt (batch: Group[], start: number, buf: Buffer, wantSync: boolean): Promise<void> | null {
    if (this.failure !== null) return null // fail() rejected the batch
    const end = start + buf.length
    // Fast path: every byte before this small batch is covered by a sync already issued: one O_DSYNC write,
    // not waited for here (the next batch is written beside it).
    if (wantSync && buf.length <= this.opts.dsyncWriteBytesMax && this.coveredLsn === this.writtenLsn && this.file.writeDurable !== undefined) {
      this.fsyncs++
      const op = this.file.writeDurable(buf, offsetOfLsn(start))
      this.wrote(start, buf)
      this.coveredLsn = end
      this.commit(batch, op, CommitOp.dsyncWrite, end)
      return null
    }
    return this.file.write(buf, offsetOfLsn(start)).then(() => {
      this.wrote(start, buf)
      if (wantSync) {
        this.commit(batch, this.issueDatasync(), CommitOp.fdatasync, end)
      } else {
        this.commit(batch, null, CommitOp.none, end)
        if (this.coveredLsn < this.writtenLsn) this.armAsyncFlush()
      }
    }, (err: unknown) => {
      // Handled in order, after the commits before it: they may still complete.
      this.commit(batch, Promise.reject(err), CommitOp.write, start)
    })
  }

  private wrote (start: number, buf: Buffer): void {
    this.writtenLsn = start + buf.length
    this.tail.add(start, buf)
    this.zero.poke()
    if (offsetOfLsn(this.writtenLsn) * 2 >= this.opts.segmentSizeBytes) this.spare.prepare(this.segmentId + 1)
  }

  /** An fdatasync covers every byte written before it is issued. */
  private issueDatasync (): Promise<void> {
    this.fsyncs++
    this.coveredLsn = this.writtenLsn
    return this.file.datasync()
  }

  /**
   * Queue the completion of a commit: after its op (if any) and after the
   * commit before it, resolve its records, or fail the writer.
   * `endLsn`: the end of its bytes (synced when op is a sync); for a failed
   * write, where the log must be cut.
   */
  private commit (batch: Group[], op: Promise<void> | null, kind: CommitOp, endLsn: number): void {
    this.commits.add(op, async (failed, err) => {
      if (this.failure !== null) return // an earlier commit failed: this batch was rejected with it
      if (failed) {
        await this.fail(commitError(kind, err), kind === CommitOp.write ? endLsn : this.syncedLsn)
        return
      }
      if ((kind === CommitOp.dsyncWrite || kind === CommitOp.fdatasync) && endLsn > this.syncedLsn) this.syncedLsn = endLsn
      if (endLsn > this.committedLsn) this.committedLsn = endLsn
      this.open.delete(batch)
      for (const g of batch) g.resolve()
    })
  }

  /** Seal-time fsync (no commit in flight). */
  private async sync (): Promise<boolean> {
    const target = this.writtenLsn
    try {
      await this.issueDatasync()
    } catch (err) {
      await this.fail(commitError(CommitOp.fdatasync, err), this.syncedLsn)
      return false
    }
    this.syncedLsn = target
    return true
  }

  private armAsyncFlush (): void {
    if (this.asyncTimer !== null) return
    this.asyncTimer = setTimeout(() => {
      this.asyncTimer = null
      if (this.failure !== null || this.coveredLsn >= this.writtenLsn) return
      this.syncWanted = true
      this.kick()
    }, this.opts.asyncFlushMs)
    this.asyncTimer.unref()
  }

  /** Seal the active segment (fsync) and start the next one. Every commit has completed. */
  private async rollTo (segmentId: number): Promise<boolean> {
    assert.equal(segmentId, this.segmentId + 1, 'segments roll one at a time')
    // Seal (log-roll.ts): stop zeroing, cut the zeros ahead, make everything durable.
    let cut: boolean
    try {
      cut = await cutZerosAhead(this.file, this.zero, offsetOfLsn(this.writtenLsn))
    } catch (err) {
      await this.fail(err as FerryError, this.syncedLsn)
      return false
    }
    if ((cut || this.syncedLsn < this.writtenLsn) && !await this.sync()) return false
    let file: DiskFile
    let fileSize: number
    try {
      ({ file, fileSize } = await startSegment(this.disk, this.opts.dir, this.spare, segmentId))
    } catch (err) {
      await this.fail(err as FerryError, this.syncedLsn)
      return false
    }
    try {
      await this.file.close()
    } catch (err) {
      await file.close().catch(() => {})
      await this.fail(storeError(StoreCode.IO, 'could not start a new segment', { cause: err }), this.syncedLsn)
      return false
    }
    this.file = file
    this.segmentId = segmentId
    this.zero = new ZeroAhead(file, this.opts.segmentSizeBytes, SEGMENT_HEADER_BYTES, fileSize)
    this.writtenLsn = lsnOf(segmentId, SEGMENT_HEADER_BYTES)
    this.syncedLsn = this.writtenLsn
    this.coveredLsn = this.writtenLsn
    this.onSegmentCreated(segmentId)
    return true
  }

  private async fail (error: FerryError, cutLsn: number): Promise<void> {
    this.failure = { error, cutLsn }
    if (this.asyncTimer !== null) { clearTimeout(this.asyncTimer); this.asyncTimer = null }
    const pending: Group[] = []
    for (const b of this.open) for (const g of b) pending.push(g)
    for (const g of this.queue.drain()) pending.push(g)
    this.open.clear()
    this.queue.release(pending)
    this.tail.clear()
    // A later commit's write still in flight must not land after the cut.
    await this.commits.opsSettled()
    await this.zero.stop()
    // Cut the un-trusted bytes now if we can; recovery cuts again at cutLsn in any case.
    if (segmentOfLsn(cutLsn) === this.segmentId) {
      try { await this.file.truncate(offsetOfLsn(cutLsn)) } catch { /* recovery will cut */ }
    }
    for (const g of pending) g.reject(error)
    this.onFailure(this.failure)
  }

  /** Write and fsync everything queued, cut the zeros ahead, then close the file. */
  async close (): Promise<void> {
    // No append from here on: one admitted after the barrier would be written after the file is closed.
    this.closing = true
    if (this.failure === null) {
      await this.barrier(true).catch(() => {})
    }
    if (this.failure === null) {
      try {
        if (await cutZerosAhead(this.file, this.zero, offsetOfLsn(this.writtenLsn))) await this.file.datasync()
      } catch { /* recovery treats trailing zeros as the end of the log */ }
    } else await this.zero.stop()
    if (this.asyncTimer !== null) { clearTimeout(this.asyncTimer); this.asyncTimer = null }
    await this.spare.discard()
    await this.file.close().catch(() => {})
  }

  /** Drop the file without syncing (after a failure). */
  async abandon (): Promise<void> {
    this.closing = true
    if (this.asyncTimer !== null) { clearTimeout(this.asyncTimer); this.asyncTimer = null }
    await this.commits.opsSettled()
    await this.zero.stop()
    await this.spare.discard()
    await this.file.close().catch(() => {})
  }
}
