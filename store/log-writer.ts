/**
 * The log writer: lsn reservation, segment roll-over, and group commit.
 *
 * Appends reserve their position synchronously (lsn order = call order) and
 * queue their encoded body. One loop drains the queue: it takes every queued
 * record of the same segment up to groupCommitMaxBytes, writes them with one
 * write, resolves the async ones, and — if any queued record wants sync —
 * calls fdatasync once and resolves the sync ones. While a write or fsync is
 * in flight the next batch accumulates (groupCommitWaitMs 0), or the loop
 * waits groupCommitWaitMs for more before writing. Async-only batches are
 * fsynced by a timer after asyncFlushMs.
 *
 * The writer never retries a failed write or fsync: it rejects every pending
 * record, remembers the last lsn it knows to be good (`cutLsn`), tries to cut
 * the file back to it, and reports the failure; the ledger fences and
 * reopens from disk.
 */
import assert from 'node:assert/strict'
import { FRAME_HEADER_BYTES, frameChecksum, writeFrameHeader } from './framing.js'
import { SEGMENT_HEADER_BYTES, encodeSegmentHeader, lsnOf, segmentName, segmentOfLsn, offsetOfLsn } from './segment.js'
import { TailCache } from './tail-cache.js'
import { DSYNC_WRITE_BYTES_MAX } from './constants.js'
import { ZeroAhead, type ZeroAheadStats } from './zero-ahead.js'
import { StoreCode, errnoCode, storeError } from './errors.js'
import type { Disk, DiskFile } from './disk/disk.js'
import type { FerryError } from '../common/errors.js'

export interface WriterOptions {
  dir: string
  segmentSizeBytes: number
  groupCommitMaxBytes: number
  groupCommitWaitMs: number
  asyncFlushMs: number
  tailCacheBytes: number
}

interface Pending {
  lsn: number
  /** null: a barrier (resolves once everything before it is as durable as asked). */
  body: Buffer | null
  checksum: number
  sync: boolean
  resolve: () => void
  reject: (err: Error) => void
}

export interface WriterFailure {
  error: FerryError
  /** Everything below this lsn is known good; the log must be cut here. */
  cutLsn: number
}

const noop = (): void => {}

export class LogWriter {
  private queue: Pending[] = []
  private queueHead = 0
  private queuedBytes = 0
  private running = false
  private failure: WriterFailure | null = null
  private syncWanted = false
  private asyncTimer: NodeJS.Timeout | null = null
  private closing = false
  /** Next free position (reservation). */
  private reserveSegmentId: number
  private reserveOffset: number
  /** End of written bytes / of fsynced bytes. */
  writtenLsn: number
  syncedLsn: number
  fsyncs = 0
  readonly tail: TailCache
  /** Zeros written and synced in the background ahead of the log end of the active segment. */
  private zero: ZeroAhead
  /** Segment ids created by this writer, with the lsn where their first record goes. */
  onSegmentCreated: (segmentId: number) => void = () => {}

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
    this.tail = new TailCache(opts.tailCacheBytes)
  }

  get activeSegmentId (): number { return this.segmentId }
  get activeFile (): DiskFile { return this.file }
  /** Lsn the next record will get (before any padding or roll-over). */
  get tailLsn (): number { return lsnOf(this.reserveSegmentId, this.reserveOffset) }
  get failed (): boolean { return this.failure !== null }
  /** Zero-ahead counters of the active segment (benchmarks and tests). */
  get zeroAheadStats (): Readonly<ZeroAheadStats> { return this.zero.stats }

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
    const done = new Promise<void>((resolve, reject) => {
      this.queue.push({ lsn, body, checksum, sync, resolve, reject })
    })
    this.queuedBytes += bytes
    this.kick()
    return { lsn, bytes, done }
  }

  /**
   * Queue one record body without a promise of its own: a batch of them
   * (replicated entries, ledger-replicated.ts) waits on one barrier after its
   * last. A failure still reaches that barrier (every pending record rejects).
   */
  appendQuiet (body: Buffer, sync: boolean): { lsn: number, bytes: number } {
    if (this.failure !== null) throw storeError(StoreCode.FENCED, 'log writer failed; the ledger is recovering')
    if (this.closing) throw storeError(StoreCode.STORE_CLOSED, 'ledger is closing')
    const bytes = FRAME_HEADER_BYTES + body.length
    const lsn = this.reserve(bytes)
    this.queue.push({ lsn, body, checksum: frameChecksum(segmentOfLsn(lsn), offsetOfLsn(lsn), body), sync, resolve: noop, reject: noop })
    this.queuedBytes += bytes
    this.kick()
    return { lsn, bytes }
  }

  /** Resolves when everything queued so far is written (and fsynced when `sync`). */
  barrier (sync: boolean): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure.error)
    if (this.queue.length === this.queueHead && !this.running && (!sync || this.syncedLsn >= this.writtenLsn)) return Promise.resolve()
    const done = new Promise<void>((resolve, reject) => {
      this.queue.push({ lsn: this.tailLsn, body: null, checksum: 0, sync, resolve, reject })
    })
    this.kick()
    return done
  }

  private kick (): void {
    if (this.running || this.failure !== null) return
    this.running = true
    setImmediate(() => { void this.run() })
  }

  private async run (): Promise<void> {
    try {
      while (this.failure === null && (this.queue.length > this.queueHead || this.syncWanted)) {
        if (this.opts.groupCommitWaitMs > 0 && this.queuedBytes < this.opts.groupCommitMaxBytes && this.queue.length > this.queueHead) {
          await new Promise((resolve) => setTimeout(resolve, this.opts.groupCommitWaitMs))
        }
        await this.writeOneBatch()
      }
    } finally {
      this.running = false
    }
  }

  /** Take the next batch: same segment, at most groupCommitMaxBytes (at least one record). */
  private takeBatch (): Pending[] {
    const batch: Pending[] = []
    let bytes = 0
    const seg = this.queue.length > this.queueHead ? segmentOfLsn((this.queue[this.queueHead] as Pending).lsn) : this.segmentId
    while (this.queue.length > this.queueHead) {
      const p = this.queue[this.queueHead] as Pending
      const size = p.body === null ? 0 : FRAME_HEADER_BYTES + p.body.length
      if (p.body !== null && segmentOfLsn(p.lsn) !== seg) break
      if (batch.length > 0 && bytes + size > this.opts.groupCommitMaxBytes) break
      batch.push(p)
      bytes += size
      this.queueHead++
    }
    this.queuedBytes -= bytes
    if (this.queueHead > 4096 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead)
      this.queueHead = 0
    }
    return batch
  }

  private async writeOneBatch (): Promise<void> {
    const batch = this.takeBatch()
    const first = batch.find((p) => p.body !== null)
    let wantSync = this.syncWanted || batch.some((p) => p.sync)
    this.syncWanted = false
    if (first !== undefined && segmentOfLsn(first.lsn) !== this.segmentId) {
      if (!await this.rollTo(segmentOfLsn(first.lsn), batch)) return
    }
    if (first !== undefined) {
      const start = first.lsn
      let size = 0
      for (const p of batch) if (p.body !== null) size += FRAME_HEADER_BYTES + p.body.length
      const buf = Buffer.allocUnsafe(size)
      let at = 0
      for (const p of batch) {
        if (p.body === null) continue
        assert.equal(p.lsn, start + at, 'batched records are contiguous')
        writeFrameHeader(buf, at, p.body.length, p.checksum)
        p.body.copy(buf, at + FRAME_HEADER_BYTES)
        at += FRAME_HEADER_BYTES + p.body.length
      }
      assert.equal(start, this.writtenLsn, 'batch starts where the log ends')
      // Never concurrently with a zero chunk that reaches into this batch's range (zeros must not land on records).
      await this.zero.beforeWrite(offsetOfLsn(start) + size)
      // Fast path: nothing un-synced before this small batch and it wants sync: one O_DSYNC write.
      if (wantSync && size <= DSYNC_WRITE_BYTES_MAX && this.syncedLsn === this.writtenLsn && this.file.writeDurable !== undefined) {
        try {
          this.fsyncs++
          await this.file.writeDurable(buf, offsetOfLsn(start))
        } catch (err) {
          const full = errnoCode(err) === 'ENOSPC'
          await this.fail(storeError(full ? StoreCode.DISK_FULL : StoreCode.FSYNC_FAILED, full ? 'disk full: append not written' : 'durable write failed: un-synced appends are lost', { cause: err }), this.syncedLsn, batch)
          return
        }
        this.writtenLsn = start + size
        this.syncedLsn = this.writtenLsn
        this.tail.add(start, buf)
        this.zero.poke()
        for (const p of batch) p.resolve()
        return
      }
      try {
        await this.file.write(buf, offsetOfLsn(start))
      } catch (err) {
        const code = errnoCode(err) === 'ENOSPC' ? StoreCode.DISK_FULL : StoreCode.IO
        await this.fail(storeError(code, code === StoreCode.DISK_FULL ? 'disk full: append not written' : 'write failed', { cause: err }), this.writtenLsn, batch)
        return
      }
      this.writtenLsn = start + size
      this.tail.add(start, buf)
      this.zero.poke()
    }
    for (const p of batch) if (!p.sync) p.resolve()
    if (wantSync && this.syncedLsn < this.writtenLsn) {
      if (!await this.sync(batch)) return
    } else if (this.syncedLsn < this.writtenLsn) {
      this.armAsyncFlush()
    }
    wantSync = false
    for (const p of batch) if (p.sync) p.resolve()
  }

  private async sync (batch: Pending[]): Promise<boolean> {
    const target = this.writtenLsn
    try {
      this.fsyncs++
      await this.file.datasync()
    } catch (err) {
      // ENOSPC from fdatasync (delayed allocation, thin provisioning) is a full disk, not a failing one:
      // the same cut (the pages are no more trustworthy than after EIO), but E_DISK_FULL, like a write.
      const full = errnoCode(err) === 'ENOSPC'
      await this.fail(storeError(full ? StoreCode.DISK_FULL : StoreCode.FSYNC_FAILED, full ? 'disk full: fdatasync found no space, un-synced appends are lost' : 'fdatasync failed: un-synced appends are lost', { cause: err }), this.syncedLsn, batch)
      return false
    }
    this.syncedLsn = target
    return true
  }

  private armAsyncFlush (): void {
    if (this.asyncTimer !== null) return
    this.asyncTimer = setTimeout(() => {
      this.asyncTimer = null
      if (this.failure !== null || this.syncedLsn >= this.writtenLsn) return
      this.syncWanted = true
      this.kick()
    }, this.opts.asyncFlushMs)
    this.asyncTimer.unref()
  }

  /** Seal the active segment (fsync) and start the next one. */
  private async rollTo (segmentId: number, batch: Pending[]): Promise<boolean> {
    assert.equal(segmentId, this.segmentId + 1, 'segments roll one at a time')
    // Seal: stop zeroing, cut the zeros ahead, make everything durable.
    await this.zero.stop()
    if (this.zero.zeroedTo > offsetOfLsn(this.writtenLsn)) {
      try {
        await this.file.truncate(offsetOfLsn(this.writtenLsn))
      } catch (err) {
        await this.fail(storeError(StoreCode.IO, 'could not seal the segment', { cause: err }), this.syncedLsn, batch)
        return false
      }
      if (!await this.sync(batch)) return false
    } else if (this.syncedLsn < this.writtenLsn && !await this.sync(batch)) return false
    const path = `${this.opts.dir}/${segmentName(segmentId)}`
    let file: DiskFile | undefined
    try {
      file = await this.disk.open(path, true)
      await file.write(encodeSegmentHeader(segmentId), 0)
      await file.datasync()
      await this.disk.syncDir(this.opts.dir)
      await this.file.close()
      this.file = file
    } catch (err) {
      // The new file is not ours to keep: close it (recovery removes or rewrites the half-made segment).
      if (file !== undefined && file !== this.file) await file.close().catch(() => {})
      const code = errnoCode(err) === 'ENOSPC' ? StoreCode.DISK_FULL : StoreCode.IO
      await this.fail(storeError(code, 'could not start a new segment', { cause: err }), this.syncedLsn, batch)
      return false
    }
    this.segmentId = segmentId
    this.zero = new ZeroAhead(file, this.opts.segmentSizeBytes, SEGMENT_HEADER_BYTES, SEGMENT_HEADER_BYTES)
    this.writtenLsn = lsnOf(segmentId, SEGMENT_HEADER_BYTES)
    this.syncedLsn = this.writtenLsn
    this.onSegmentCreated(segmentId)
    return true
  }

  private async fail (error: FerryError, cutLsn: number, batch: Pending[]): Promise<void> {
    this.failure = { error, cutLsn }
    if (this.asyncTimer !== null) { clearTimeout(this.asyncTimer); this.asyncTimer = null }
    const pending = batch.concat(this.queue.slice(this.queueHead))
    this.queue = []
    this.queueHead = 0
    this.queuedBytes = 0
    this.tail.clear()
    await this.zero.stop()
    // Cut the un-trusted bytes now if we can; recovery cuts again at cutLsn in any case.
    if (segmentOfLsn(cutLsn) === this.segmentId) {
      try { await this.file.truncate(offsetOfLsn(cutLsn)) } catch { /* recovery will cut */ }
    }
    for (const p of pending) p.reject(error)
    this.onFailure(this.failure)
  }

  /** Write and fsync everything queued, cut the zeros ahead, then close the file. */
  async close (): Promise<void> {
    if (this.failure === null) {
      await this.barrier(true).catch(() => {})
    }
    await this.zero.stop()
    if (this.failure === null && this.zero.zeroedTo > offsetOfLsn(this.writtenLsn)) {
      try {
        await this.file.truncate(offsetOfLsn(this.writtenLsn))
        await this.file.datasync()
      } catch { /* recovery treats trailing zeros as the end of the log */ }
    }
    this.closing = true
    if (this.asyncTimer !== null) { clearTimeout(this.asyncTimer); this.asyncTimer = null }
    await this.file.close().catch(() => {})
  }

  /** Drop the file without syncing (after a failure). */
  async abandon (): Promise<void> {
    this.closing = true
    if (this.asyncTimer !== null) { clearTimeout(this.asyncTimer); this.asyncTimer = null }
    await this.zero.stop()
    await this.file.close().catch(() => {})
  }
}
