/**
 * Zero-ahead: the active segment's space past the log end is filled with
 * zeros and made durable in the background, ahead of the appends, so that
 * appends overwrite allocated, already-synced blocks.
 *
 * Why: on ext4 an fdatasync (or O_DSYNC write) after a write that extends the
 * file, or that lands on blocks not yet allocated (delayed allocation: zeros
 * written but never flushed are not allocated), must also make the inode's
 * size and block map durable: a journal commit, or without a journal (this
 * machine's ext4 has none: no jbd2 thread) one more synchronous write. Writing
 * zeros ahead on the append path and letting the log's next fdatasync flush
 * them made that fdatasync a latency spike (issue 11: p99 at 20,000/s), while
 * the log's O_DSYNC writes, which flush only their own range, still landed on
 * unallocated blocks. Here the zeros are written in chunks with one O_DSYNC
 * write each, off the append path, paced, and well ahead of the log end.
 *
 * Safety: zeros are written only at or past `floor`, the end of every record
 * written or being written, and the writer waits for an in-flight zero chunk
 * before writing a batch that reaches into it, so zeros never land on
 * records. Recovery treats zeros (or a hole) from the log end to the end of
 * the file as the end of the log, so a crash at any point of the zeroing
 * loses nothing that was acknowledged.
 */
import { ZERO_AHEAD_BYTES, ZERO_AHEAD_CHUNK_BYTES, ZERO_AHEAD_GAP_BYTES, ZERO_AHEAD_PACE_MS } from './constants.js'
import type { DiskFile } from './disk/disk.js'

export interface ZeroAheadStats {
  /** Zero chunks written (and synced). */
  chunks: number
  /** Batches that waited for an in-flight zero chunk. */
  waits: number
  /** Log bytes written past the zeros (extending the file or filling a hole): the fill was behind. */
  pastZerosBytes: number
  /** Log bytes written onto zeros already written. */
  onZerosBytes: number
}

export class ZeroAhead {
  /** End of the zeros written so far (the file's size when it is past the log end). */
  zeroedTo: number
  /** Start of the zeros ending at zeroedTo (a hole may lie between the log end and here). */
  private zeroedFrom: number
  /** No zeros below this offset: end of the records written or being written. */
  private floor: number
  private inFlight: { from: number, to: number, done: Promise<void> } | null = null
  private running: Promise<void> | null = null
  private readonly segmentStart: number
  private stopped = false
  private failed = false
  readonly stats: ZeroAheadStats = { chunks: 0, waits: 0, pastZerosBytes: 0, onZerosBytes: 0 }

  constructor (
    private readonly file: DiskFile,
    private readonly segmentSizeBytes: number,
    logEnd: number,
    fileSize: number,
    private readonly aheadBytes = ZERO_AHEAD_BYTES,
    private readonly chunkBytes = ZERO_AHEAD_CHUNK_BYTES,
    private readonly paceMs = ZERO_AHEAD_PACE_MS
  ) {
    this.floor = logEnd
    this.segmentStart = logEnd
    // Zeros a previous writer left past the log end count as written (not necessarily synced: only a cost, never a risk).
    this.zeroedTo = Math.max(logEnd, fileSize)
    this.zeroedFrom = logEnd
  }

  /**
   * The writer is about to write [from, to). Returns a wait when an in-flight
   * zero chunk reaches into that range (else null); from now on no zero chunk
   * starts below `to`.
   */
  beforeWrite (to: number): Promise<void> | null {
    const from = this.floor
    if (to > this.floor) this.floor = to
    const onZeros = Math.max(0, Math.min(to, this.zeroedTo) - Math.max(from, this.zeroedFrom))
    this.stats.onZerosBytes += onZeros
    this.stats.pastZerosBytes += Math.max(0, to - from - onZeros)
    // null: no wait, so the writer can issue its write in the same turn (log-writer.ts: eager commits).
    return this.inFlight !== null && this.inFlight.from < to ? this.waitFor(to) : null
  }

  private async waitFor (to: number): Promise<void> {
    while (this.inFlight !== null && this.inFlight.from < to) {
      this.stats.waits++
      await this.inFlight.done
    }
  }

  /** The log end moved: start (or keep) zeroing when the lead is short. */
  poke (): void {
    if (this.running !== null || this.stopped || this.failed) return
    if (this.zeroedTo - this.floor >= this.leadBytes() / 2 || this.zeroedTo >= this.segmentSizeBytes) return
    this.running = this.loop().finally(() => { this.running = null })
  }

  /** Stop zeroing and wait for the chunk in flight (before the writer truncates, seals or closes the file). */
  async stop (): Promise<void> {
    this.stopped = true
    await this.running
  }

  /**
   * How far ahead to zero: twice what this segment took so far, between one
   * chunk and aheadBytes, so an idle or small ledger (tests) writes little
   * and a busy one keeps a lead of a second or more.
   */
  private leadBytes (): number {
    return Math.min(this.aheadBytes, Math.max(this.chunkBytes, 2 * (this.floor - this.segmentStart)))
  }

  private async loop (): Promise<void> {
    while (!this.stopped && !this.failed && this.zeroedTo < this.segmentSizeBytes && this.zeroedTo - this.floor < this.leadBytes()) {
      // Behind the log (a fresh segment, a burst): start a gap past the log end, so the next batches do not
      // wait for this chunk (they land in a hole, allocated as they are written: never on zeros in flight).
      const from = this.zeroedTo > this.floor ? this.zeroedTo : this.floor + ZERO_AHEAD_GAP_BYTES
      if (from >= this.segmentSizeBytes) break
      if (from > this.zeroedTo) this.zeroedFrom = from
      const to = Math.min(this.segmentSizeBytes, from + this.chunkBytes)
      const done = this.writeChunk(from, to)
      this.inFlight = { from, to, done }
      await done
      this.inFlight = null
      // Pace only when comfortably ahead: falling behind costs the log more than the interference of a chunk.
      if (this.paceMs > 0 && this.zeroedTo - this.floor >= this.leadBytes() / 2) await new Promise((resolve) => setTimeout(resolve, this.paceMs))
    }
  }

  private async writeChunk (from: number, to: number): Promise<void> {
    const buf = zeros(to - from)
    try {
      if (this.file.writeDurable !== undefined) {
        await this.file.writeDurable(buf, from)
      } else {
        await this.file.write(buf, from)
        await this.file.datasync()
      }
      this.zeroedTo = Math.max(this.zeroedTo, to)
      this.stats.chunks++
    } catch {
      // Best effort (a full disk): give the space back and stop for this segment; the log's own writes report the disk.
      // No record is at or past `from` (the writer waits for this chunk before writing there), so the cut is safe.
      this.failed = true
      try { await this.file.truncate(from) } catch { /* the next write reports the disk */ }
      // The file may still reach past the log end (the gap, a partial chunk): the seal or close cuts it.
      this.zeroedTo = Math.max(this.zeroedTo, to)
    }
  }
}

let zeroBuffer = Buffer.alloc(0)
function zeros (n: number): Buffer {
  if (zeroBuffer.length < n) zeroBuffer = Buffer.alloc(n)
  return zeroBuffer.subarray(0, n)
}
