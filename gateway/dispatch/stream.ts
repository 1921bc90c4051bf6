/**
 * TopicStream: one (topic, subscription) — its cursor, its reader position,
 * its read-ahead window and the state of every entry handed out and not yet
 * acknowledged (see inflight.ts for the state machine). The subscription owns
 * the consumers and decides who gets what; the stream decides what is next.
 *
 * Ordering rules:
 * - exclusive / failover ("in-order"): log order, priority ignored (a
 *   cumulative ack must never skip an undelivered lower-priority entry). A
 *   not-yet-due delayed entry at the head holds the stream until it is due.
 *   Redeliveries (nack, ack timeout) go out ahead of the window when due. A
 *   consumer switch rewinds the stream to the cursor's mark-delete position.
 * - shared / key_shared: weighted round robin over priority levels within the
 *   window; delayed entries are passed over by the reader and come back from
 *   the ledger's delayed index when due. key_shared keeps per-key order: an
 *   entry goes out only when it is the oldest of its key in the window, no
 *   returned entry of the key is waiting, and no other live consumer holds an
 *   unacknowledged entry of the key (Pulsar's recently-joined-consumer rule).
 */
import type { Cursor, LedgerEntry } from '../../store/index.js'
import { orderingKeyOf, PRIORITY_DEFAULT } from '../message-props.js'
import { PRIORITY_LEVELS } from '../policy/index.js'
import type { ConsumerImpl } from './consumer.js'
import { DELAYED_SCAN_ENTRIES_MAX, KEY_SHARED_SCAN_ENTRIES_MAX } from './constants.js'
import { delayedRuns, type IdRun } from './delayed-runs.js'
import type { Fifo } from './fifo.js'
import { KeyState } from './key-state.js'
import { InflightState, newInflight, type Inflight } from './inflight.js'
import { PriorityWindow } from './priority-window.js'
import type { Subscription } from './subscription.js'

interface WindowEntry { entry: LedgerEntry, key: string }

/** One hand-out decided in a dispatch round, delivered once the counts are persisted. */
export interface Pick {
  stream: TopicStream
  rec: Inflight
  consumer: ConsumerImpl
  entry: LedgerEntry
  redeliveryCount: number
}

const Verdict = { ok: 0, acked: 1, cancelled: 2, expired: 3, dead: 4 } as const
type Verdict = typeof Verdict[keyof typeof Verdict]

export class TopicStream {
  /** Next entry id the reader asks for. */
  readPos: number
  reading = false
  /** Bumped by rewind: a read started before it is discarded. */
  private epoch = 0
  // The window and the key maps are allocated on first use and dropped on rewind, so an idle
  // (topic, subscription) — a durable subscription nobody consumes — costs a few hundred bytes.
  private windowObj: PriorityWindow<WindowEntry> | undefined
  private windowIdsObj: Set<number> | undefined
  private windowBytes = 0
  /** key_shared: per-key window order, key owners, returned keys. */
  private keysObj: KeyState | undefined
  private get window (): PriorityWindow<WindowEntry> { return (this.windowObj ??= new PriorityWindow<WindowEntry>()) }
  private get windowIds (): Set<number> { return (this.windowIdsObj ??= new Set<number>()) }
  private get keys (): KeyState { return (this.keysObj ??= new KeyState()) }
  private inflightObj: Map<number, Inflight> | undefined
  private deliveredObj: Map<number, Inflight> | undefined
  private countsObj: Map<number, number> | undefined
  /** Entries with a record (see inflight.ts). */
  get inflight (): Map<number, Inflight> { return (this.inflightObj ??= new Map()) }
  /** Delivered entries in delivery order (ack timeout walks it from the oldest). */
  get delivered (): Map<number, Inflight> { return (this.deliveredObj ??= new Map()) }
  /** Deliveries so far per entry known here (max'ed with the cursor's persisted count). */
  private get counts (): Map<number, number> { return (this.countsObj ??= new Map()) }
  /** Loaded redeliveries, ascending entry id. */
  private ready: Inflight[] = []
  /** Delayed index scanned up to this deliverAt (shared / key_shared). */
  private delayScanAfterMs: number
  /** When the next delayed entry of interest is due (undefined: none known). */
  nextDelayedAtMs: number | undefined
  /** Delayed entries the reader passed over and that are not yet back (shared / key_shared; stats). */
  private delayedSkipped = 0
  /** Runs of pending delayed entries to jump over; undefined until built after a start or rewind. */
  private delayedRunList: IdRun[] | undefined
  private delayedRunNext = 0
  private delayedRunsAtMs = 0

  constructor (readonly sub: Subscription, readonly topic: string, readonly cursor: Cursor) {
    this.readPos = cursor.markDelete() + 1
    this.delayScanAfterMs = Date.now()
  }

  get windowSize (): number { return this.windowObj?.size ?? 0 }
  get hasWork (): boolean { return this.windowSize > 0 || this.ready.length > 0 }

  // ---- reading --------------------------------------------------------------

  /** Start one read of at most maxEntries / maxBytes; false when there is nothing to read. */
  startRead (maxEntries: number, maxBytes: number): boolean {
    if (this.reading) return true
    const info = this.sub.ctx.ledger.topicInfo(this.topic)
    if (info === undefined) return false
    this.readPos = Math.max(this.readPos, info.firstEntryId)
    this.skipAcked()
    maxEntries = this.skipDelayedRuns(maxEntries)
    if (this.readPos >= info.nextEntryId) return false
    this.reading = true
    const epoch = this.epoch
    this.sub.ctx.ledger.read(this.topic, this.readPos, { maxEntries, maxBytes }).then((entries) => {
      if (epoch !== this.epoch) return
      this.reading = false
      this.admit(entries)
      this.sub.kick()
    }, (err: unknown) => {
      if (epoch !== this.epoch) return
      this.reading = false
      this.sub.readFailed(this, err)
    })
    return true
  }

  /**
   * shared / key_shared: jump over runs of pending delayed entries known from
   * the delayed index (built once per start or rewind), and stop a read short
   * of the next run. Returns the entries the read may ask for.
   */
  private skipDelayedRuns (maxEntries: number): number {
    if (this.sub.inOrder || !this.sub.policy.delayedDeliveryEnabled) return maxEntries
    const now = Date.now()
    if (this.delayedRunList === undefined) {
      this.delayedRunList = delayedRuns(this.sub.ctx.ledger, this.topic, this.readPos, now)
      this.delayedRunNext = 0
      this.delayedRunsAtMs = now
    }
    const runs = this.delayedRunList
    while (this.delayedRunNext < runs.length) {
      const [first, last] = runs[this.delayedRunNext] as IdRun
      if (last < this.readPos) { this.delayedRunNext++; continue }
      if (first <= this.readPos) {
        this.delayedSkipped += last - this.readPos + 1
        this.readPos = last + 1
        this.delayedRunNext++
        // Entries of the run that fell due since it was built must come back through the scan:
        // scan again from the build time (a rescan is harmless, handled entries are recognised).
        this.delayScanAfterMs = Math.min(this.delayScanAfterMs, this.delayedRunsAtMs)
        const next = this.sub.ctx.ledger.nextDelayedAfter(this.topic, this.delayScanAfterMs)
        if (next !== undefined) this.noteDelayed(next)
        continue
      }
      return Math.max(1, Math.min(maxEntries, first - this.readPos))
    }
    return maxEntries
  }

  /** Move readPos past acknowledged entries (mark-delete and individually acked ranges). */
  private skipAcked (): void {
    const md = this.cursor.markDelete()
    if (this.readPos <= md) this.readPos = md + 1
    // Only walk the ranges when readPos sits inside one (ackedRanges() copies them all).
    if (!this.cursor.isAcked(this.readPos)) return
    for (const [s, e] of this.cursor.ackedRanges()) {
      if (this.readPos < s) break
      if (this.readPos <= e) this.readPos = e + 1
    }
  }

  private admit (entries: readonly LedgerEntry[]): void {
    const now = Date.now()
    const inOrder = this.sub.inOrder
    const keyed = this.sub.keyShared
    const delays = this.sub.policy.delayedDeliveryEnabled
    for (const entry of entries) {
      const id = entry.entryId
      if (id < this.readPos) continue
      this.readPos = id + 1
      if (this.cursor.isAcked(id) || this.inflight.has(id)) continue
      if (this.sub.ctx.ledger.isCancelled(this.topic, id)) {
        this.sub.ctx.track(this.cursor.ack([id]), 'ack cancelled entry')
        continue
      }
      const deliverAt = entry.props.deliverAt
      if (!inOrder && delays && deliverAt !== undefined && deliverAt > now) {
        // Passed over: the delayed index brings it back when due (scanDelayed).
        this.delayedSkipped++
        this.noteDelayed(deliverAt)
        continue
      }
      const key = keyed ? orderingKeyOf(this.topic, entry.props) : ''
      const level = inOrder ? 0 : clampPriority(entry.props.priority)
      this.window.push(level, { entry, key })
      this.windowIds.add(id)
      this.windowBytes += entry.payload.length
      this.sub.windowChanged(1, entry.payload.length)
      if (keyed) this.keys.queued(key, id)
    }
    if (this.hasWork) this.sub.markActive(this)
  }

  /** A delayed entry waits until atMs: wake the subscription then. */
  private noteDelayed (atMs: number): void {
    if (this.nextDelayedAtMs === undefined || atMs < this.nextDelayedAtMs) this.nextDelayedAtMs = atMs
    this.sub.delayedAt(this, atMs)
  }

  /**
   * shared / key_shared: bring back delayed entries that are due and that the
   * reader has passed over. Entries at or after readPos are left to the reader.
   */
  scanDelayed (now: number, loadRoom: number): void {
    const ledger = this.sub.ctx.ledger
    if (loadRoom <= 0) return
    const max = Math.min(DELAYED_SCAN_ENTRIES_MAX, loadRoom)
    let refs = ledger.delayedBetween(this.topic, this.delayScanAfterMs, now, max)
    let scannedTo = now
    if (refs.length >= max) {
      const last = (refs[refs.length - 1] as { deliverAt: number }).deliverAt
      if ((refs[0] as { deliverAt: number }).deliverAt === last) {
        // Every ref shares one millisecond: take that millisecond whole so the scan always advances.
        refs = ledger.delayedBetween(this.topic, last - 1, last, Number.MAX_SAFE_INTEGER)
        scannedTo = last
      } else {
        // Stop before the last millisecond seen: it may continue past the batch.
        let i = refs.length - 1
        while (i > 0 && (refs[i] as { deliverAt: number }).deliverAt === last) i--
        scannedTo = (refs[i] as { deliverAt: number }).deliverAt
        refs = refs.slice(0, i + 1)
      }
    }
    for (const ref of refs) {
      const id = ref.entryId
      if (id >= this.readPos || this.cursor.isAcked(id) || this.inflight.has(id) || this.windowIdsObj?.has(id) === true) continue
      if (this.delayedSkipped > 0) this.delayedSkipped--
      const rec = newInflight(this, id)
      this.inflight.set(id, rec)
      this.startLoad(rec)
    }
    this.delayScanAfterMs = scannedTo
    const next = ledger.nextDelayedAfter(this.topic, this.delayScanAfterMs)
    this.nextDelayedAtMs = next
    if (next === undefined) this.delayedSkipped = 0
  }

  /** in-order: the head is delayed; the alarm fired, so forget the hold (the next pick re-checks). */
  clearHold (): void { this.nextDelayedAtMs = undefined }

  delayedPending (): number {
    if (!this.sub.inOrder) return this.delayedSkipped
    const now = Date.now()
    let n = 0
    for (const we of this.windowObj?.levels[0] ?? []) if ((we.entry.props.deliverAt ?? 0) > now) n++
    return n
  }

  // ---- picking ---------------------------------------------------------------

  private redeliveryCountOf (id: number): number {
    return Math.max(this.counts.get(id) ?? 0, this.cursor.deliveryCount(id))
  }

  private verdict (entry: LedgerEntry, rc: number, now: number): Verdict {
    const id = entry.entryId
    if (this.cursor.isAcked(id)) return Verdict.acked
    if (this.sub.ctx.ledger.isCancelled(this.topic, id)) return Verdict.cancelled
    const ttl = this.sub.policy.messageTtlMs
    if (ttl > 0 && entry.publishTime + ttl <= now) return Verdict.expired
    if (entry.props.expiresAt !== undefined && entry.props.expiresAt <= now) return Verdict.expired
    const max = this.sub.policy.maxRedeliveries
    if (max >= 0 && rc > max) return Verdict.dead
    return Verdict.ok
  }

  /** Hand out up to `max` entries (or dispose of them); returns entries taken off the window or ready list. */
  pick (out: Pick[], max: number): number {
    if (this.sub.inOrder) return this.pickInOrder(out, max)
    if (this.sub.keyShared) return this.pickKeyShared(out, max)
    return this.pickShared(out, max)
  }

  private pickInOrder (out: Pick[], max: number): number {
    const now = Date.now()
    const head = this.window.levels[0] as Fifo<WindowEntry>
    let worked = 0
    while (worked < max) {
      const c = this.sub.active
      if (c === undefined || !this.sub.canTake(c)) break
      const rec = this.ready[0]
      if (rec !== undefined) {
        const entry = rec.entry as LedgerEntry
        const rc = this.redeliveryCountOf(rec.entryId)
        this.ready.shift()
        this.sub.redeliveryHeldChanged(-1)
        worked++
        const v = this.verdict(entry, rc, now)
        if (v !== Verdict.ok) this.dispose(v, entry, rec, rc)
        else this.assign(out, c, entry, rec, rc)
        continue
      }
      const we = head.peek()
      if (we === undefined) break
      const entry = we.entry
      const deliverAt = entry.props.deliverAt
      if (this.sub.policy.delayedDeliveryEnabled && deliverAt !== undefined && deliverAt > now &&
          !this.cursor.isAcked(entry.entryId) && !this.sub.ctx.ledger.isCancelled(this.topic, entry.entryId)) {
        this.noteDelayed(deliverAt) // hold the stream: in-order modes never overtake a delayed head
        break
      }
      this.takeWindow(0, 0)
      worked++
      const rc = this.redeliveryCountOf(entry.entryId)
      const v = this.verdict(entry, rc, now)
      if (v !== Verdict.ok) this.dispose(v, entry, undefined, rc)
      else this.assign(out, c, entry, undefined, rc)
    }
    return worked
  }

  private pickShared (out: Pick[], max: number): number {
    const now = Date.now()
    const weights = this.sub.policy.priorityWeights
    let worked = 0
    while (worked < max) {
      const c = this.sub.nextSharedConsumer()
      if (c === undefined) break
      const rec = this.ready[0]
      let entry: LedgerEntry
      if (rec !== undefined) {
        entry = rec.entry as LedgerEntry
        this.ready.shift()
        this.sub.redeliveryHeldChanged(-1)
      } else {
        const level = this.window.chooseLevel(weights, 0)
        if (level < 0) break
        entry = this.takeWindow(level, 0).entry
      }
      worked++
      const rc = this.redeliveryCountOf(entry.entryId)
      const v = this.verdict(entry, rc, now)
      if (v !== Verdict.ok) { this.dispose(v, entry, rec, rc); continue }
      this.assign(out, c, entry, rec, rc)
      this.sub.sharedConsumerUsed(c)
    }
    return worked
  }

  private pickKeyShared (out: Pick[], max: number): number {
    const now = Date.now()
    const blocked = new Set<string>()
    let worked = 0
    // Redeliveries first, oldest first.
    for (let i = 0; i < this.ready.length && worked < max;) {
      const rec = this.ready[i] as Inflight
      const entry = rec.entry as LedgerEntry
      const rc = this.redeliveryCountOf(rec.entryId)
      const v = this.verdict(entry, rc, now)
      if (v !== Verdict.ok) {
        this.ready.splice(i, 1); this.sub.redeliveryHeldChanged(-1); worked++
        this.dispose(v, entry, rec, rc)
        continue
      }
      const target = this.keyTarget(rec.key, blocked)
      if (target === undefined) { i++; continue }
      this.ready.splice(i, 1); this.sub.redeliveryHeldChanged(-1); worked++
      this.assign(out, target, entry, rec, rc)
    }
    const weights = this.sub.policy.priorityWeights
    let skip = 0
    while (worked < max) {
      const level = this.window.chooseLevel(weights, skip)
      if (level < 0) break
      const fifo = this.window.levels[level] as Fifo<WindowEntry>
      const scan = Math.min(fifo.length, KEY_SHARED_SCAN_ENTRIES_MAX)
      let took = false
      for (let i = 0; i < scan; i++) {
        const we = fifo.at(i) as WindowEntry
        if (blocked.has(we.key)) continue
        const entry = we.entry
        const rc = this.redeliveryCountOf(entry.entryId)
        const v = this.verdict(entry, rc, now)
        if (v !== Verdict.ok) {
          this.takeWindow(level, i); worked++; took = true
          this.dispose(v, entry, undefined, rc)
          break
        }
        // Not the oldest of its key: skip it (the oldest may sit in another level and go first).
        if (!this.keys.isOldest(we.key, entry.entryId)) continue
        if (this.keys.hasReturned(we.key)) { blocked.add(we.key); continue }
        const target = this.keyTarget(we.key, blocked)
        if (target === undefined) continue
        this.takeWindow(level, i); worked++; took = true
        this.assign(out, target, entry, undefined, rc)
        break
      }
      // Taking the oldest entry of a key may have made entries of skipped levels the oldest of theirs.
      if (took) skip = 0
      else skip |= 1 << level
    }
    return worked
  }

  /** key_shared: who may take the next entry of `key` now, or undefined (and the key is blocked for this round). */
  private keyTarget (key: string, blocked: Set<string>): ConsumerImpl | undefined {
    if (blocked.has(key)) return undefined
    const target = this.sub.ringOwner(key)
    const owner = this.keys.ownerOf(key)
    if (target === undefined || (owner !== undefined && owner !== target) || !this.sub.canTake(target)) {
      blocked.add(key)
      return undefined
    }
    return target
  }

  private takeWindow (level: number, i: number): WindowEntry {
    const we = this.window.removeAt(level, i) as WindowEntry
    const id = we.entry.entryId
    this.windowIds.delete(id)
    this.windowBytes -= we.entry.payload.length
    this.sub.windowChanged(-1, -we.entry.payload.length)
    if (this.sub.keyShared) this.keys.unqueued(we.key, id)
    return we
  }

  private assign (out: Pick[], c: ConsumerImpl, entry: LedgerEntry, existing: Inflight | undefined, rc: number): void {
    const id = entry.entryId
    const rec = existing ?? newInflight(this, id)
    if (existing !== undefined) this.leaveState(rec)
    rec.state = InflightState.delivered
    rec.consumer = c
    rec.key = this.sub.keyShared ? orderingKeyOf(this.topic, entry.props) : ''
    rec.props = entry.props
    rec.entry = undefined
    rec.returned = false
    // Not handed out yet: the ack timeout starts when the sink gets it (deliverPicks).
    rec.deliveredAtMs = Number.POSITIVE_INFINITY
    this.inflight.set(id, rec)
    this.delivered.set(id, rec)
    this.counts.set(id, rc + 1)
    c.permits--
    c.inflight.add(rec)
    this.sub.pendingChanged(this, 1)
    if (this.sub.keyShared) this.keys.owned(rec.key, c)
    out.push({ stream: this, rec, consumer: c, entry, redeliveryCount: rc })
  }

  /** Undo the bookkeeping of rec's current state; rec.state is left for the caller to set. */
  private leaveState (rec: Inflight): void {
    switch (rec.state) {
      case InflightState.delivered: {
        this.delivered.delete(rec.entryId)
        const c = rec.consumer
        if (c !== undefined) {
          c.inflight.delete(rec)
          if (this.sub.keyShared) this.keys.disowned(rec.key, c)
        }
        rec.consumer = undefined
        this.sub.pendingChanged(this, -1)
        break
      }
      case InflightState.loading:
        this.sub.redeliveryHeldChanged(-1)
        break
      case InflightState.ready: {
        const i = this.ready.indexOf(rec)
        if (i >= 0) { this.ready.splice(i, 1); this.sub.redeliveryHeldChanged(-1) }
        rec.entry = undefined
        break
      }
      default:
        break
    }
    if (rec.returned) {
      this.keys.unmarkReturned(rec.key)
      rec.returned = false
    }
    rec.gen++
  }

  /** Forget rec entirely (acknowledged, expired, dead-lettered, evicted). */
  private release (rec: Inflight): void {
    this.leaveState(rec)
    rec.state = InflightState.done
    this.inflight.delete(rec.entryId)
  }

  // ---- outcomes other than delivery ----------------------------------------------

  private dispose (v: Verdict, entry: LedgerEntry, rec: Inflight | undefined, rc: number): void {
    const id = entry.entryId
    switch (v) {
      case Verdict.acked:
        if (rec !== undefined) this.release(rec)
        this.counts.delete(id)
        return
      case Verdict.cancelled:
        if (rec !== undefined) this.release(rec)
        this.counts.delete(id)
        this.sub.ctx.track(this.cursor.ack([id]), 'ack cancelled entry')
        return
      case Verdict.expired:
        if (rec !== undefined) this.release(rec)
        this.counts.delete(id)
        this.sub.stats.expired++
        this.sub.ctx.track(this.cursor.ack([id]).then(() => {
          this.sub.ctx.emitResult(this.topic, id, entry.props, this.sub.name, 'expired')
          this.sub.ctx.backlogChanged(this.topic)
        }), 'ack expired entry')
        return
      case Verdict.dead:
        this.deadLetter(entry, rec ?? newInflight(this, id), rc)
        return
      default:
        return
    }
  }

  private deadLetter (entry: LedgerEntry, rec: Inflight, rc: number): void {
    const id = entry.entryId
    this.leaveState(rec)
    rec.state = InflightState.deadLettering
    this.inflight.set(id, rec)
    const reason = rec.reason ?? `redelivered ${rc} times, maxRedeliveries is ${this.sub.policy.maxRedeliveries}`
    const work = this.sub.ctx.deadLetter(this.topic, this.sub.name, entry, reason).then(async () => {
      await this.cursor.ack([id])
      if (rec.state !== InflightState.deadLettering) return
      this.release(rec)
      this.counts.delete(id)
      this.sub.stats.deadLettered++
      this.sub.ctx.emitResult(this.topic, id, entry.props, this.sub.name, 'dead-lettered')
      this.sub.ctx.backlogChanged(this.topic)
      this.sub.kick()
    }, (err: unknown) => {
      // The DLQ append failed: keep the entry and try again after the backoff.
      this.sub.ctx.logger.warn({ err, topic: this.topic, entryId: id }, 'dead-letter append failed; will retry')
      if (rec.state === InflightState.deadLettering) this.schedule(rec, Date.now() + this.backoffMs(rc), reason)
    })
    this.sub.ctx.track(work, 'dead letter')
  }

  private backoffMs (rc: number): number {
    const steps = this.sub.policy.redeliveryBackoffMs
    return steps[Math.min(Math.max(rc, 0), steps.length - 1)] ?? 0
  }

  /** Put rec in `waiting` until dueMs (nack, ack timeout, failed dead-lettering). */
  private schedule (rec: Inflight, dueMs: number, reason: string | undefined): void {
    this.leaveState(rec)
    rec.state = InflightState.waiting
    rec.reason = reason
    this.sub.scheduleRedelivery(this, rec, dueMs)
  }

  /** Mark rec as returned (key_shared: it goes out before later entries of its key). */
  private markReturned (rec: Inflight): void {
    rec.returned = true
    this.keys.markReturned(rec.key)
  }

  /** Start reading rec back from the ledger (redelivery or due delayed entry). */
  startLoad (rec: Inflight): void {
    const returned = rec.returned
    this.leaveState(rec)
    rec.state = InflightState.loading
    const gen = rec.gen
    this.sub.redeliveryHeldChanged(1)
    if (returned) this.markReturned(rec)
    this.sub.ctx.ledger.readOne(this.topic, rec.entryId).then((entry) => {
      if (rec.state !== InflightState.loading || rec.gen !== gen) return
      if (entry === undefined) { // gone by retention: nothing left to deliver
        this.release(rec)
        this.counts.delete(rec.entryId)
        this.sub.kick()
        return
      }
      rec.state = InflightState.ready
      rec.entry = entry
      rec.props = entry.props
      if (this.sub.keyShared && !rec.returned) rec.key = orderingKeyOf(this.topic, entry.props)
      let i = this.ready.length
      while (i > 0 && (this.ready[i - 1] as Inflight).entryId > rec.entryId) i--
      this.ready.splice(i, 0, rec)
      this.sub.markActive(this)
      this.sub.kick()
    }, (err: unknown) => {
      if (rec.state !== InflightState.loading || rec.gen !== gen) return
      this.sub.ctx.logger.warn({ err, topic: this.topic, entryId: rec.entryId }, 'redelivery read failed; will retry')
      this.schedule(rec, Date.now() + this.backoffMs(0), rec.reason)
    })
  }

  // ---- acknowledgements ---------------------------------------------------------

  async ack (ids: readonly number[]): Promise<void> {
    const recs: Inflight[] = []
    for (const id of ids) {
      const rec = this.inflight.get(id)
      if (rec !== undefined && rec.state !== InflightState.deadLettering) {
        if (rec.state === InflightState.delivered && rec.props?.resultTopic !== undefined) recs.push(rec)
        this.release(rec)
      }
      this.counts.delete(id)
    }
    let fresh = 0
    for (const id of ids) if (!this.cursor.isAcked(id)) fresh++ // O(log ranges); backlogEntries() would walk them all
    const p = this.cursor.ack(ids)
    this.sub.stats.acked += fresh
    this.sub.kick()
    await p
    for (const rec of recs) this.sub.ctx.emitResult(this.topic, rec.entryId, rec.props ?? {}, this.sub.name, 'delivered')
    this.sub.ctx.backlogChanged(this.topic)
  }

  async ackCumulative (upTo: number): Promise<void> {
    const recs: Inflight[] = []
    for (const rec of [...this.inflight.values()]) {
      if (rec.entryId > upTo || rec.state === InflightState.deadLettering) continue
      if (rec.state === InflightState.delivered && rec.props?.resultTopic !== undefined) recs.push(rec)
      this.release(rec)
    }
    for (const id of [...this.counts.keys()]) if (id <= upTo) this.counts.delete(id)
    const before = this.cursor.backlogEntries()
    const p = this.cursor.ackCumulative(upTo)
    this.sub.stats.acked += Math.max(0, before - this.cursor.backlogEntries())
    this.sub.kick()
    await p
    for (const rec of recs) this.sub.ctx.emitResult(this.topic, rec.entryId, rec.props ?? {}, this.sub.name, 'delivered')
    this.sub.ctx.backlogChanged(this.topic)
  }

  /** Negative ack of delivered entries: redeliver after the backoff step of their redelivery count. */
  nack (ids: readonly number[], reason: string | undefined, now: number): void {
    for (const id of ids) {
      const rec = this.inflight.get(id)
      if (rec === undefined || rec.state !== InflightState.delivered) continue
      const rc = Math.max(0, (this.counts.get(id) ?? 1) - 1)
      this.schedule(rec, now + this.backoffMs(rc), reason)
    }
  }

  /** Ack timeout: every delivered entry older than deadlineMs is treated as nacked. Returns the next deadline. */
  expireAcks (olderThanMs: number, now: number): number | undefined {
    const late: number[] = []
    let next: number | undefined
    for (const rec of this.delivered.values()) {
      if (rec.deliveredAtMs > olderThanMs) { next = rec.deliveredAtMs; break }
      late.push(rec.entryId)
    }
    if (late.length > 0) this.nack(late, 'ack timeout', now)
    return next
  }

  /** shared / key_shared: a consumer closed; its unacknowledged entries go back (redelivered, count + 1). */
  returnFrom (rec: Inflight): void {
    if (rec.state !== InflightState.delivered) return
    this.leaveState(rec)
    rec.state = InflightState.waiting
    if (this.sub.keyShared) this.markReturned(rec)
    // Due at once; loaded within REDELIVERY_LOADS_MAX like every redelivery.
    this.sub.scheduleRedelivery(this, rec, Date.now())
  }

  /** Entries up to upTo were skipped by backlog eviction: forget them. */
  evicted (upTo: number): void {
    for (const rec of [...this.inflight.values()]) if (rec.entryId <= upTo && rec.state !== InflightState.deadLettering) this.release(rec)
    for (const id of [...this.counts.keys()]) if (id <= upTo) this.counts.delete(id)
    if (this.readPos <= upTo) this.readPos = upTo + 1
    this.sub.kick()
  }

  /** A cancelled delayed entry: never deliver it. */
  dropEntry (id: number): void {
    const rec = this.inflight.get(id)
    if (rec !== undefined && rec.state !== InflightState.deadLettering) this.release(rec)
    this.counts.delete(id)
  }

  /**
   * Forget everything not acknowledged and read again from the cursor's
   * mark-delete position: a consumer switch in exclusive / failover, the last
   * consumer leaving, or a policy change that alters what is deliverable.
   * Delivery counts are kept, so redeliveries still count up.
   */
  rewind (): void {
    this.epoch++
    this.reading = false
    for (const rec of [...this.inflight.values()]) if (rec.state !== InflightState.deadLettering) this.release(rec)
    this.sub.windowChanged(-this.windowSize, -this.windowBytes)
    this.windowObj = undefined
    this.windowIdsObj = undefined
    this.windowBytes = 0
    this.keysObj = undefined
    // Records are gone (dead-lettering ones excepted); delivery counts stay, they only grow.
    if (this.inflightObj?.size === 0) this.inflightObj = undefined
    if (this.deliveredObj?.size === 0) this.deliveredObj = undefined
    if (this.countsObj?.size === 0) this.countsObj = undefined
    this.ready = []
    this.readPos = this.cursor.markDelete() + 1
    this.delayScanAfterMs = Date.now()
    this.nextDelayedAtMs = undefined
    this.delayedSkipped = 0
    this.delayedRunList = undefined
    this.sub.rewound(this)
  }
}

function clampPriority (p: number | undefined): number {
  if (p === undefined || !Number.isInteger(p)) return PRIORITY_DEFAULT
  return Math.min(PRIORITY_LEVELS - 1, Math.max(0, p))
}
