/**
 * The in-flight machine of one (topic, subscription): a record per entry
 * from its first hand-out until its outcome (states in inflight.ts), the
 * delivered entries in delivery order (the ack timeout walks them oldest
 * first), the loaded redeliveries in entry-id order, and the delivery count
 * of every entry known here. Every state change goes through enter/leave so
 * the subscription's counters (pending acks, records, loads held) and the
 * key_shared key owners stay exact.
 */
import type { EntryId, LedgerEntry } from '../../store/index.js'
import type { ConsumerImpl } from './consumer.js'
import { InflightState, newInflight, type Inflight } from './inflight.js'
import type { KeyState } from './key-state.js'
import type { StreamHost } from './stream-host.js'

export class InflightTable {
  private recsObj: Map<number, Inflight> | undefined
  private deliveredObj: Map<number, Inflight> | undefined
  private countsObj: Map<number, number> | undefined
  /** Loaded redeliveries, ascending entry id. */
  private ready: Inflight[] = []

  constructor (
    private readonly host: StreamHost,
    private readonly stream: Inflight['stream']
  ) {}

  private keys (): KeyState { return this.stream.reader.keys }

  private get recs (): Map<number, Inflight> { return (this.recsObj ??= new Map()) }
  /** Delivered entries in delivery order. */
  get delivered (): Map<number, Inflight> { return (this.deliveredObj ??= new Map()) }
  private get counts (): Map<number, number> { return (this.countsObj ??= new Map()) }

  get size (): number { return this.recsObj?.size ?? 0 }
  get deliveredCount (): number { return this.deliveredObj?.size ?? 0 }
  get readyCount (): number { return this.ready.length }
  get (id: EntryId): Inflight | undefined { return this.recsObj?.get(id) }
  has (id: EntryId): boolean { return this.recsObj?.has(id) === true }
  records (): Inflight[] { return [...(this.recsObj?.values() ?? [])] }

  // ---- delivery counts ----------------------------------------------------------------------

  /** Deliveries of the entry known in this process (undefined: none since start). */
  countOf (id: EntryId): number | undefined { return this.countsObj?.get(id) }
  /** Any count known here (topics: a stream holding counts is not dropped, stream.ts `droppable`). */
  get hasCounts (): boolean { return (this.countsObj?.size ?? 0) > 0 }
  forgetCount (id: EntryId): void { this.countsObj?.delete(id) }
  forgetCountsUpTo (upTo: EntryId): void {
    if (this.countsObj === undefined) return
    for (const id of [...this.countsObj.keys()]) if (id <= upTo) this.countsObj.delete(id)
  }

  // ---- records ------------------------------------------------------------------------------

  /** The record of id, created (in state done, not yet counted) if there is none. */
  recordOf (id: EntryId): Inflight {
    return this.recs.get(id) ?? newInflight(this.stream, id)
  }

  private track (rec: Inflight): void {
    if (this.recs.get(rec.entryId) === rec) return
    this.recs.set(rec.entryId, rec)
    this.host.recordsChanged(1)
  }

  /** Hand rec out to c (a fresh entry from the window, or a redelivery). */
  deliver (rec: Inflight, c: ConsumerImpl, entry: LedgerEntry, key: string, rc: number): void {
    this.leave(rec)
    rec.state = InflightState.delivered
    rec.consumer = c
    rec.key = key
    rec.props = entry.props
    rec.entry = undefined
    rec.returned = false
    // Not handed out yet: the ack timeout starts when the sink gets it.
    rec.deliveredAtMs = Number.POSITIVE_INFINITY
    this.track(rec)
    this.delivered.set(rec.entryId, rec)
    this.counts.set(rec.entryId, rc + 1)
    c.took(rec)
    this.host.pendingChanged(this.stream, 1)
    if (this.host.keyShared) this.keys().owned(key, c)
  }

  /** Undo the bookkeeping of rec's current state; rec.state is left for the caller to set. */
  leave (rec: Inflight): void {
    switch (rec.state) {
      case InflightState.delivered: {
        this.deliveredObj?.delete(rec.entryId)
        const c = rec.consumer
        if (c !== undefined) {
          c.released(rec)
          if (this.host.keyShared) this.keys().disowned(rec.key, c)
        }
        rec.consumer = undefined
        this.host.pendingChanged(this.stream, -1)
        break
      }
      case InflightState.loading:
        this.host.redeliveryHeldChanged(-1)
        break
      case InflightState.ready: {
        const i = this.ready.indexOf(rec)
        if (i >= 0) { this.ready.splice(i, 1); this.host.redeliveryHeldChanged(-1) }
        rec.entry = undefined
        break
      }
      default:
        break
    }
    if (rec.returned) {
      this.keys().unmarkReturned(rec.key)
      rec.returned = false
    }
    rec.gen++
  }

  /** Forget rec entirely (acknowledged, expired, dead-lettered, evicted). */
  release (rec: Inflight): void {
    this.leave(rec)
    rec.state = InflightState.done
    if (this.recsObj?.get(rec.entryId) === rec) {
      this.recsObj.delete(rec.entryId)
      this.host.recordsChanged(-1)
    }
  }

  /** Put rec in `waiting` until dueMs (nack, ack timeout, a failed load or dead-letter append). */
  schedule (rec: Inflight, dueMs: number, reason: string | undefined): void {
    this.leave(rec)
    rec.state = InflightState.waiting
    rec.reason = reason
    this.track(rec)
    this.host.scheduleRedelivery(this.stream, rec, dueMs)
  }

  /** A consumer closed while holding rec: it goes back, due at once (key_shared: before later entries of its key). */
  returned (rec: Inflight): void {
    this.leave(rec)
    rec.state = InflightState.waiting
    if (this.host.keyShared) this.markReturned(rec)
    this.host.scheduleRedelivery(this.stream, rec, Date.now())
  }

  private markReturned (rec: Inflight): void {
    rec.returned = true
    this.keys().markReturned(rec.key)
  }

  /** rec is being read back from the ledger; returns its generation (a stale load is ignored). */
  loading (rec: Inflight): number {
    const returned = rec.returned
    this.leave(rec)
    rec.state = InflightState.loading
    this.track(rec)
    this.host.redeliveryHeldChanged(1)
    if (returned) this.markReturned(rec)
    return rec.gen
  }

  /** The load finished: rec waits in the ready list for a consumer. */
  loaded (rec: Inflight, entry: LedgerEntry): void {
    rec.state = InflightState.ready
    rec.entry = entry
    rec.props = entry.props
    let i = this.ready.length
    while (i > 0 && (this.ready[i - 1] as Inflight).entryId > rec.entryId) i--
    this.ready.splice(i, 0, rec)
  }

  /** rec is being dead-lettered: no consumer holds it, nothing else may happen to it meanwhile. */
  deadLettering (rec: Inflight): void {
    this.leave(rec)
    rec.state = InflightState.deadLettering
    this.track(rec)
  }

  // ---- the ready list -----------------------------------------------------------------------

  readyAt (i: number): Inflight | undefined { return this.ready[i] }

  /** Take the i-th ready record off the list (its state is set by what happens next). */
  takeReady (i: number): Inflight {
    const [rec] = this.ready.splice(i, 1) as [Inflight]
    this.host.redeliveryHeldChanged(-1)
    return rec
  }

  /** Forget every record but those being dead-lettered (rewind); delivery counts stay, they only grow. */
  clear (): void {
    for (const rec of this.records()) if (rec.state !== InflightState.deadLettering) this.release(rec)
    if (this.recsObj?.size === 0) this.recsObj = undefined
    if (this.deliveredObj?.size === 0) this.deliveredObj = undefined
    if (this.countsObj?.size === 0) this.countsObj = undefined
    this.ready = []
  }
}
