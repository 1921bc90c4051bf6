/**
 * Recently written bytes, by lsn, so tail readers rarely touch the disk.
 * Each chunk is one group-commit write (contiguous in its segment); the
 * oldest chunks are dropped beyond the byte budget.
 */
export class TailCache {
  private chunks: Array<{ lsn: number, buf: Buffer }> = []
  private head = 0
  private bytes = 0

  constructor (private readonly bytesMax: number) {}

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

  /**
   * Hook for the log tail (store/log-tail.ts, replication): the cached bytes
   * from `lsn` to the end of the one write that holds them (whole frames), or
   * undefined. A view, not a copy; the caller bounds it by the durable end.
   */
  from (lsn: number): Buffer | undefined {
    let lo = this.head
    let hi = this.chunks.length - 1
    if (hi < lo || lsn < (this.chunks[lo] as { lsn: number }).lsn) return undefined
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if ((this.chunks[mid] as { lsn: number }).lsn <= lsn) lo = mid
      else hi = mid - 1
    }
    const c = this.chunks[lo] as { lsn: number, buf: Buffer }
    const at = lsn - c.lsn
    return at < c.buf.length ? c.buf.subarray(at) : undefined
  }

  clear (): void {
    this.chunks = []
    this.head = 0
    this.bytes = 0
  }
}
