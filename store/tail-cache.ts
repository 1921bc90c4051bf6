import { TAIL_ENTRIES_MAX, TAIL_ENTRY_PAYLOAD_BYTES_MAX } from './constants.js'
import type { LedgerEntry } from './types.js'

/**
 * Recently written bytes, by lsn, so tail readers rarely touch the disk.
 * Each chunk is one group-commit write (contiguous in its segment); the
 * oldest chunks are dropped beyond the byte budget.
 *
 * Beside the bytes, the most recent message entries as they were appended
 * (`addEntry`): the record was CBOR-encoded and checksummed from this very
 * object, so a reader of a fresh entry gets it back instead of checking and
 * decoding the frame again. Both live and die with the writer: `clear` (a
 * failed write) drops them, and a reopened ledger has a new writer, so an lsn
 * reused after a cut never finds an old entry.
 */
export class TailCache {
  private chunks: Array<{ lsn: number, buf: Buffer }> = []
  private head = 0
  private bytes = 0
  /** Ring of entries in lsn order (appends reserve lsns in call order). */
  private readonly entryLsns: Float64Array
  private readonly entries: Array<LedgerEntry | undefined>
  private entryFirst = 0
  private entryCount = 0
  private entryPayloadBytes = 0

  constructor (private readonly bytesMax: number, entriesMax = TAIL_ENTRIES_MAX, private readonly entryPayloadBytesMax = TAIL_ENTRY_PAYLOAD_BYTES_MAX) {
    const n = bytesMax > 0 ? entriesMax : 0
    this.entryLsns = new Float64Array(n)
    this.entries = new Array<LedgerEntry | undefined>(n).fill(undefined)
  }

  /** Keep `entry` (appended at `lsn`, above every lsn added before) for readers of the tail. */
  addEntry (lsn: number, entry: LedgerEntry): void {
    const cap = this.entries.length
    if (cap === 0) return
    if (this.entryCount > 0 && lsn <= (this.entryLsns[(this.entryFirst + this.entryCount - 1) % cap] as number)) this.clearEntries()
    while (this.entryCount > 0 && (this.entryCount === cap || this.entryPayloadBytes + entry.payload.length > this.entryPayloadBytesMax)) this.dropOldestEntry()
    if (entry.payload.length > this.entryPayloadBytesMax) return
    const at = (this.entryFirst + this.entryCount) % cap
    this.entryLsns[at] = lsn
    this.entries[at] = entry
    this.entryCount++
    this.entryPayloadBytes += entry.payload.length
  }

  /** The entry appended at `lsn`, if still kept. */
  entry (lsn: number): LedgerEntry | undefined {
    const cap = this.entries.length
    if (this.entryCount === 0) return undefined
    let lo = 0
    let hi = this.entryCount - 1
    if (lsn < (this.entryLsns[this.entryFirst] as number) || lsn > (this.entryLsns[(this.entryFirst + hi) % cap] as number)) return undefined
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((this.entryLsns[(this.entryFirst + mid) % cap] as number) < lsn) lo = mid + 1
      else hi = mid
    }
    const at = (this.entryFirst + lo) % cap
    return this.entryLsns[at] === lsn ? this.entries[at] : undefined
  }

  private dropOldestEntry (): void {
    const e = this.entries[this.entryFirst] as LedgerEntry
    this.entryPayloadBytes -= e.payload.length
    this.entries[this.entryFirst] = undefined
    this.entryFirst = (this.entryFirst + 1) % this.entries.length
    this.entryCount--
  }

  private clearEntries (): void {
    while (this.entryCount > 0) this.dropOldestEntry()
    this.entryFirst = 0
  }

  add (lsn: number, buf: Buffer): void {
    if (this.bytesMax <= 0) return
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
    let lo = this.head
    let hi = this.chunks.length - 1
    if (hi < lo) return undefined
    if (lsn < (this.chunks[lo] as { lsn: number }).lsn) return undefined
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if ((this.chunks[mid] as { lsn: number }).lsn <= lsn) lo = mid
      else hi = mid - 1
    }
    const c = this.chunks[lo] as { lsn: number, buf: Buffer }
    const at = lsn - c.lsn
    if (at + length > c.buf.length) return undefined
    return c.buf.subarray(at, at + length)
  }

  clear (): void {
    this.chunks = []
    this.head = 0
    this.bytes = 0
    this.clearEntries()
  }
}
