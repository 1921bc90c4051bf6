/**
 * Delayed entries of one (topic, subscription) in shared / key_shared mode
 * (in-order modes keep delayed entries in the window, where a delayed head
 * holds its level). The reader passes over not-yet-due entries and counts
 * them here; the ledger's persisted delayed index brings them back when due
 * (`dueSince`, whole milliseconds at a time, so a scan always advances).
 * After a start or reset the reader may jump over runs of pending delayed
 * entries (delayed-runs.ts) instead of reading them only to pass them over.
 * The dispatcher keeps no per-message state for delayed entries.
 */
import type { EntryId } from '../../store/index.js'
import { delayedRuns, type IdRun } from './delayed-runs.js'
import type { StreamHost, StreamRef } from './stream-host.js'

export class DelayedTracker {
  /** Delayed index scanned up to this deliverAt. */
  private scanAfterMs: number
  /** When the next delayed entry of interest is due (undefined: none known). */
  nextAtMs: number | undefined
  /** Delayed entries passed over and not yet back (stats). */
  private skipped = 0
  private runList: IdRun[] | undefined
  private runNext = 0
  private runsBuiltAtMs = 0

  constructor (private readonly host: StreamHost, private readonly stream: StreamRef) {
    this.scanAfterMs = Date.now()
  }

  get pending (): number { return this.skipped }

  /** A delayed entry waits until atMs: wake the subscription then. */
  note (atMs: number): void {
    if (this.nextAtMs === undefined || atMs < this.nextAtMs) this.nextAtMs = atMs
    this.host.delayedAt(this.stream, atMs)
  }

  /** The reader passed over a not-yet-due entry. */
  passedOver (deliverAt: number): void {
    this.skipped++
    this.note(deliverAt)
  }

  /** A passed-over entry came back (due, or cancelled) and was counted. */
  uncount (): void { if (this.skipped > 0) this.skipped-- }

  /**
   * Jump readPos over runs of pending delayed entries (built once per start or
   * reset) and stop a read short of the next run. `mayJump` is false while a
   * priority level is behind (it must see every entry of its own: the read
   * goes through the run). Returns the new readPos and the entries the read
   * may ask for.
   */
  skipRuns (readPos: EntryId, maxEntries: number, mayJump: boolean): { readPos: EntryId, maxEntries: number } {
    const ledger = this.host.env.ledger
    const now = Date.now()
    if (this.runList === undefined) {
      this.runList = delayedRuns(ledger, this.stream.topic, readPos, now)
      this.runNext = 0
      this.runsBuiltAtMs = now
    }
    const runs = this.runList
    while (this.runNext < runs.length) {
      const [first, last] = runs[this.runNext] as IdRun
      if (last < readPos) { this.runNext++; continue }
      if (!mayJump) break
      if (first <= readPos) {
        this.skipped += last - readPos + 1
        readPos = last + 1
        this.runNext++
        // Entries of the run that fell due since it was built must come back through the scan:
        // scan again from the build time (a rescan is harmless, handled entries are recognised).
        this.scanAfterMs = Math.min(this.scanAfterMs, this.runsBuiltAtMs)
        const next = ledger.nextDelayedAfter(this.stream.topic, this.scanAfterMs)
        if (next !== undefined) this.note(next)
        continue
      }
      return { readPos, maxEntries: Math.max(1, Math.min(maxEntries, first - readPos)) }
    }
    return { readPos, maxEntries }
  }

  /**
   * Due entries of the delayed index since the last scan, at most maxEntries
   * (whole milliseconds), below readPos (the ones the reader has not reached
   * are left to it).
   */
  dueSince (now: number, maxEntries: number, readPos: EntryId): EntryId[] {
    const ledger = this.host.env.ledger
    const topic = this.stream.topic
    let refs = ledger.delayedBetween(topic, this.scanAfterMs, now, maxEntries)
    let scannedTo = now
    if (refs.length >= maxEntries) {
      const last = (refs[refs.length - 1] as { deliverAt: number }).deliverAt
      if ((refs[0] as { deliverAt: number }).deliverAt === last) {
        // Every ref shares one millisecond: take that millisecond whole so the scan always advances.
        refs = ledger.delayedBetween(topic, last - 1, last, Number.MAX_SAFE_INTEGER)
        scannedTo = last
      } else {
        // Stop before the last millisecond seen: it may continue past the batch.
        let i = refs.length - 1
        while (i > 0 && (refs[i] as { deliverAt: number }).deliverAt === last) i--
        scannedTo = (refs[i] as { deliverAt: number }).deliverAt
        refs = refs.slice(0, i + 1)
      }
    }
    const out: EntryId[] = []
    for (const ref of refs) if (ref.entryId < readPos) out.push(ref.entryId)
    this.scanAfterMs = scannedTo
    const next = ledger.nextDelayedAfter(topic, this.scanAfterMs)
    this.nextAtMs = next
    // Nothing pending any more: nothing passed over can be outstanding.
    if (next === undefined) this.skipped = 0
    return out
  }

  /** in-order: the alarm for a delayed head fired; the next pick checks the heads again. */
  clearHold (): void { this.nextAtMs = undefined }

  reset (): void {
    this.scanAfterMs = Date.now()
    this.nextAtMs = undefined
    this.skipped = 0
    this.runList = undefined
  }
}
