/**
 * Blocks the log tail (store/log-tail.ts) read from segment files, kept for
 * the reads that follow.
 *
 * A replication link reads the log in calls of a batch's worth (1,000
 * entries, ~200 KiB of 128-byte messages), each reading a READ_BLOCK_BYTES_MAX
 * block (1 MiB) from where it starts and using a fifth of it: during a drain
 * every byte was read from the file about five times, each read a fresh 1 MiB
 * buffer (external memory that drove mark-compact GCs), and the lanes'
 * overlapping reads checked the same frames' checksums again (session 8
 * profile: 193 reads of 1 MiB and 293,000 frame checks for 120,000 records).
 * A kept block serves every later read inside it, and remembers how far its
 * frames were checked (from its start: the frames are checked in order, each
 * once, as far as a reader needs): those bytes are the ones that passed the
 * check, so checking them again proves nothing more.
 *
 * Only durable bytes are ever kept (the ledger's read stops at the durable
 * end of the active segment), and those are never rewritten in place; the
 * owner (the writer's TailCache) drops every block with its other bytes on a
 * failed write, and a reopened ledger has a new writer. At most
 * READ_BACK_BLOCKS_MAX blocks, the least recently used going first.
 */
import { READ_BACK_BLOCKS_MAX } from './constants.js'
import { FRAME_HEADER_BYTES, FrameStatus, checkFrame } from './framing.js'
import { offsetOfLsn, segmentOfLsn } from './segment.js'

export interface ReadBlock {
  /** Lsn of buf[0] (a frame's start). */
  readonly lsn: number
  readonly segmentId: number
  readonly buf: Buffer
  /** Every frame in [lsn, checkedTo) passed its checksum. */
  checkedTo: number
  /** Where those frames start (offsets in buf, ascending): a frame is known checked only when it starts at one. */
  readonly starts: number[]
}

export class ReadBlocks {
  /** Most recently used last. */
  private blocks: ReadBlock[] = []

  constructor (private readonly blocksMax = READ_BACK_BLOCKS_MAX) {}

  /** A kept block holding [lsn, lsn + length), or undefined. */
  holding (lsn: number, length: number): ReadBlock | undefined {
    for (let i = this.blocks.length - 1; i >= 0; i--) {
      const b = this.blocks[i] as ReadBlock
      if (lsn < b.lsn || lsn + length > b.lsn + b.buf.length) continue
      if (i !== this.blocks.length - 1) { this.blocks.splice(i, 1); this.blocks.push(b) }
      return b
    }
    return undefined
  }

  /** The lowest start of a kept block in (lsn, lsn + length), or undefined. */
  nextStart (lsn: number, length: number): number | undefined {
    let next: number | undefined
    for (const b of this.blocks) if (b.lsn > lsn && b.lsn < lsn + length && (next === undefined || b.lsn < next)) next = b.lsn
    return next
  }

  /** Keep a block just read from a file at `lsn` (a frame's start; replacing kept ones it overlaps); returns it. */
  keep (lsn: number, buf: Buffer): ReadBlock {
    const b: ReadBlock = { lsn, segmentId: segmentOfLsn(lsn), buf, checkedTo: lsn, starts: [] }
    if (this.blocksMax <= 0) return b
    this.blocks = this.blocks.filter((o) => o.lsn + o.buf.length <= lsn || o.lsn >= lsn + buf.length)
    this.blocks.push(b)
    while (this.blocks.length > this.blocksMax) this.blocks.shift()
    return b
  }

  /**
   * Whether the frame [lsn, end) of the block passed its check: the frames
   * from where its checks stopped through this one are checked first, in
   * order and each once. False when one on the way fails (it stays
   * unchecked: the caller checks its own frame itself, and a reader that
   * reaches the bad one reports it) or no checked frame starts at `lsn` (a
   * position inside a frame is checked as it is, and fails).
   */
  static checkThrough (b: ReadBlock, lsn: number, end: number, payloadBytesMax: number): boolean {
    while (b.checkedTo < end) {
      const c = checkFrame(b.buf, b.checkedTo - b.lsn, b.segmentId, offsetOfLsn(b.checkedTo), payloadBytesMax)
      if (c.status !== FrameStatus.ok) return false
      b.starts.push(b.checkedTo - b.lsn)
      b.checkedTo += FRAME_HEADER_BYTES + c.payloadBytes
    }
    return startsAt(b.starts, lsn - b.lsn)
  }

  /** Blocks held (tests). */
  count (): number { return this.blocks.length }

  clear (): void { this.blocks = [] }
}

/** Whether the ascending `starts` hold `at` (binary search). */
function startsAt (starts: readonly number[], at: number): boolean {
  let lo = 0
  let hi = starts.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const v = starts[mid] as number
    if (v === at) return true
    if (v < at) lo = mid + 1
    else hi = mid - 1
  }
  return false
}
