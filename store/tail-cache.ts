import { TAIL_CACHE_UNREAD_MS_MAX, TAIL_ENTRIES_MAX, TAIL_ENTRIES_PENDING_MAX, TAIL_ENTRY_PAYLOAD_BYTES_MAX } from './constants.js'
import type { LedgerEntry, MessageProps, TopicName } from './types.js'
import { ReadBlocks } from './read-blocks.js'

/** Bounds and hooks of a TailCache; the defaults are the writer's (store/constants.ts). */
export interface TailCacheOptions {
  /** Committed entries kept (entries). */
  entriesMax?: number
  /** Entries kept beyond those, appended and not committed yet (entries). */
  pendingMax?: number
  /** Payload bytes all kept entries may pin (bytes). */
  entryPayloadBytesMax?: number
  nowMs?: () => number
  /** End (exclusive) of the committed log: entries below it are readable. Default: every entry counts as committed. */
  committedEndLsn?: () => number
}

/**
 * Recently written bytes, by lsn, so tail readers rarely touch the disk.
 * Each chunk is one group-commit write (contiguous in its segment); the
 * oldest chunks are dropped beyond the byte budget.
 *
 * Beside the bytes, the most recent message entries as they were appended
 * (`addEntry`): the record was CBOR-encoded and checksummed from this very
 * object, so a reader of a fresh entry gets it back instead of checking and
 * decoding the frame again (a fresh LedgerEntry around the same payload and
 * props, as memory-durability topics share theirs). Both live and die with the
 * writer: `clear` (a failed write) drops them, and a reopened ledger has a new writer, so an lsn
 * reused after a cut never finds an old entry.
 *
 * The bytes are kept only while the tail is read (TAIL_CACHE_UNREAD_MS_MAX): a site nobody reads from
 * would otherwise hold its last 64 MiB of writes for no one. A read (hit or miss, bytes or entry) only
 * sets a flag; the clock is looked at once per added chunk (a group commit), not per read.
 *
 * The ring counts from the commit end (`committedEndLsn`, the writer's), not the append end: readers read
 * committed entries, so at most `entriesMax` committed entries are kept, and those appended but not committed
 * yet stay kept beside them (at most `pendingMax`): a commit lag longer than the ring no longer drops the
 * entries about to be read (each such miss checks and decodes a frame again: garbage, then the GC tail).
 */
export class TailCache {
  /** Blocks the log tail read from files, kept for its next reads (dropped with the bytes: read-blocks.ts). */
  readonly blocks = new ReadBlocks()
  private chunks: Array<{ lsn: number, buf: Buffer }> = []
  private head = 0
  private bytes = 0
  // Ring of the newest message entries in lsn order (appends reserve lsns in call order), in parallel
  // arrays: keeping one costs no object per append (the reader builds its LedgerEntry, as a decode would).
  private readonly mask: number
  private readonly lsns: Float64Array
  private readonly entryIds: Float64Array
  private readonly publishTimes: Float64Array
  private readonly topicIds: Int32Array
  private readonly payloads: Array<Buffer | undefined>
  private readonly props: Array<MessageProps | undefined>
  private first = 0
  private count = 0
  /** How many of the oldest kept entries are known committed (they are a prefix: lsn order). */
  private committed = 0
  /** Reads answered from the ring / not (then the frame is checked and decoded): stats for tests and benches. */
  entryHits = 0
  entryMisses = 0
  private readonly entriesMax: number
  private readonly entryPayloadBytesMax: number
  private readonly nowMs: () => number
  private readonly committedEndLsn: () => number
  private payloadBytes = 0
  /** Set by every read; `add` turns it into lastReadMs. */
  private readSinceAdd = false
  /** When the tail was last read (as seen by `add`); never read yet: bytes are not kept. */
  private lastReadMs = Number.NEGATIVE_INFINITY

  constructor (private readonly bytesMax: number, o: TailCacheOptions = {}) {
    this.entriesMax = o.entriesMax ?? TAIL_ENTRIES_MAX
    this.entryPayloadBytesMax = o.entryPayloadBytesMax ?? TAIL_ENTRY_PAYLOAD_BYTES_MAX
    this.nowMs = o.nowMs ?? (() => performance.now())
    this.committedEndLsn = o.committedEndLsn ?? (() => Number.POSITIVE_INFINITY)
    const slots = this.entriesMax + (o.pendingMax ?? TAIL_ENTRIES_PENDING_MAX)
    let n = 0
    if (bytesMax > 0 && this.entriesMax > 0) { n = 1; while (n < slots) n *= 2 } // a power of two: index by mask
    this.mask = n - 1
    this.lsns = new Float64Array(n)
    this.entryIds = new Float64Array(n)
    this.publishTimes = new Float64Array(n)
    this.topicIds = new Int32Array(n)
    this.payloads = new Array<Buffer | undefined>(n).fill(undefined)
    this.props = new Array<MessageProps | undefined>(n).fill(undefined)
  }

  /** Keep a message entry appended at `lsn` (above every lsn added before) for readers of the tail. */
  addEntry (lsn: number, topicId: number, entryId: number, publishTime: number, payload: Buffer, props: MessageProps): void {
    const cap = this.mask + 1
    if (cap === 0) return
    if (this.count > 0 && lsn <= (this.lsns[(this.first + this.count - 1) & this.mask] as number)) this.clearEntries()
    if (payload.length > this.entryPayloadBytesMax) return
    // Entries committed since the last append join the committed prefix (amortized one step per append).
    const end = this.committedEndLsn()
    const mask = this.mask
    while (this.committed < this.count && (this.lsns[(this.first + this.committed) & mask] as number) < end) this.committed++
    while (this.count > 0 && (this.committed > this.entriesMax || this.count === cap || this.payloadBytes + payload.length > this.entryPayloadBytesMax)) this.dropOldestEntry()
    const at = (this.first + this.count) & this.mask
    this.lsns[at] = lsn
    this.entryIds[at] = entryId
    this.publishTimes[at] = publishTime
    this.topicIds[at] = topicId
    this.payloads[at] = payload
    this.props[at] = props
    this.count++
    this.payloadBytes += payload.length
  }

  /** The entry `entryId` of topic `t` appended at `lsn`, if still kept (a fresh object: callers may keep it). */
  entry (lsn: number, t: { readonly id: number, readonly name: TopicName }, entryId: number): LedgerEntry | undefined {
    this.readSinceAdd = true
    const mask = this.mask
    let lo = 0
    let hi = this.count - 1
    if (this.count === 0 || lsn < (this.lsns[this.first] as number) || lsn > (this.lsns[(this.first + hi) & mask] as number)) { this.entryMisses++; return undefined }
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((this.lsns[(this.first + mid) & mask] as number) < lsn) lo = mid + 1
      else hi = mid
    }
    const at = (this.first + lo) & mask
    if (this.lsns[at] !== lsn || this.entryIds[at] !== entryId || this.topicIds[at] !== t.id) { this.entryMisses++; return undefined }
    this.entryHits++
    return { topic: t.name, entryId, lsn, publishTime: this.publishTimes[at] as number, payload: this.payloads[at] as Buffer, props: this.props[at] as MessageProps }
  }

  private dropOldestEntry (): void {
    const at = this.first
    this.payloadBytes -= (this.payloads[at] as Buffer).length
    this.payloads[at] = undefined
    this.props[at] = undefined
    this.first = (at + 1) & this.mask
    this.count--
    if (this.committed > 0) this.committed--
  }

  /** Entries kept now (at most entriesMax committed + pendingMax): for tests of the bound. */
  get entriesKept (): number { return this.count }

  private clearEntries (): void {
    while (this.count > 0) this.dropOldestEntry()
    this.first = 0
    this.committed = 0
  }

  add (lsn: number, buf: Buffer): void {
    if (this.bytesMax <= 0) return
    const now = this.nowMs()
    if (this.readSinceAdd) { this.readSinceAdd = false; this.lastReadMs = now }
    if (now - this.lastReadMs > TAIL_CACHE_UNREAD_MS_MAX) {
      // Unread for a while: free what is held and keep nothing (a read after a gap finds no chunk holding it).
      if (this.bytes > 0) this.clearChunks()
      this.blocks.clear()
      return
    }
    this.chunks.push({ lsn, buf })
    this.bytes += buf.length
    while (this.bytes > this.bytesMax && this.head < this.chunks.length - 1) {
      this.bytes -= (this.chunks[this.head] as { buf: Buffer }).buf.length
      this.chunks[this.head] = undefined as unknown as { lsn: number, buf: Buffer }
      this.head++
    }
    if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head)
      this.head = 0
    }
  }

  /** The bytes [lsn, lsn + length) if cached within one chunk. */
  get (lsn: number, length: number): Buffer | undefined {
    this.readSinceAdd = true
    const c = this.chunkHolding(lsn)
    if (c === undefined) return undefined
    const at = lsn - c.lsn
    if (at + length > c.buf.length) return undefined
    return c.buf.subarray(at, at + length)
  }

  /**
   * Hook for the log tail (store/log-tail.ts, replication): the cached bytes
   * from `lsn` to the end of the one write that holds them (whole frames), or
   * undefined. A view, not a copy; the caller bounds it by the durable end.
   */
  from (lsn: number): Buffer | undefined {
    this.readSinceAdd = true
    const c = this.chunkHolding(lsn)
    if (c === undefined) return undefined
    const at = lsn - c.lsn
    return at < c.buf.length ? c.buf.subarray(at) : undefined
  }

  /** The last cached chunk starting at or before lsn (binary search), or undefined when lsn is before them all. */
  private chunkHolding (lsn: number): { lsn: number, buf: Buffer } | undefined {
    let lo = this.head
    let hi = this.chunks.length - 1
    if (hi < lo || lsn < (this.chunks[lo] as { lsn: number }).lsn) return undefined
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if ((this.chunks[mid] as { lsn: number }).lsn <= lsn) lo = mid
      else hi = mid - 1
    }
    return this.chunks[lo] as { lsn: number, buf: Buffer }
  }

  private clearChunks (): void {
    this.chunks = []
    this.head = 0
    this.bytes = 0
  }

  clear (): void {
    this.clearChunks()
    this.clearEntries()
    this.blocks.clear()
  }
}
