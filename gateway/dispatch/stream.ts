/**
 * TopicStream: one (topic, subscription). It puts together the window
 * reader (window-reader.ts: what has been read, by priority level), the
 * in-flight records (inflight-table.ts), the pick strategies (pickers.ts)
 * and the outcomes other than delivery (outcomes.ts), and takes the
 * acknowledgements. The subscription owns the consumers and decides who may
 * receive; the stream decides what is next.
 *
 * Acknowledgements:
 * - individual acks count only entries that were unacknowledged entries of
 *   the topic; an id the topic never had (or already acknowledged) is
 *   reported back as unknown and never reaches the cursor (acking an id
 *   beyond the end would acknowledge a future message before it exists);
 * - cumulative acks (exclusive, failover) acknowledge what was handed out:
 *   with priority a later entry may go out before an earlier one of a lower
 *   level, and a cumulative ack of the later one must not acknowledge the
 *   earlier one nobody has seen. Entries below the lowest one not yet handed
 *   out are acknowledged cumulatively, handed-out ones above it one by one.
 */
import type { Cursor, EntryId, LedgerEntry, MessageProps, TopicName } from '../../store/index.js'
import { orderingKeyOf } from '../message-props.js'
import type { ConsumerImpl } from './consumer.js'
import { DELAYED_SCAN_ENTRIES_MAX } from './constants.js'
import { InflightState, type Inflight } from './inflight.js'
import { InflightTable } from './inflight-table.js'
import { EntryOutcomes } from './outcomes.js'
import { pickInOrder, pickKeyShared, pickShared, type PickSource } from './pickers.js'
import { Outcome, type StreamHost } from './stream-host.js'
import type { AckResult } from './types.js'
import { WindowReader } from './window-reader.js'
import { AckBatcher } from './ack-batcher.js'

/** One hand-out decided in a dispatch round, delivered once the counts are persisted. */
export interface Pick {
  stream: TopicStream
  rec: Inflight
  consumer: ConsumerImpl
  entry: LedgerEntry
  redeliveryCount: number
}

export class TopicStream implements PickSource {
  readonly reader: WindowReader
  readonly table: InflightTable
  readonly outcomes: EntryOutcomes
  /** The round being picked (set for the duration of pick()). */
  private round: Pick[] = []
  /** Individual acks of one loop turn become one cursor record (made on the first ack: a million idle topic streams need none). */
  private lazyAcks: AckBatcher | undefined
  private get acks (): AckBatcher { return (this.lazyAcks ??= new AckBatcher(this.cursor, (ids, err) => { this.noWaitSettled(ids, err) })) }
  /** Individual acks waiting for their cursor record. */
  private acksInFlight = 0

  constructor (readonly host: StreamHost, readonly topic: TopicName, readonly cursor: Cursor) {
    // No closures per stream (a million of them for one wildcard subscription): the parts reach each other through it.
    this.table = new InflightTable(host, this)
    this.reader = new WindowReader(host, this, cursor, this.table)
    this.outcomes = new EntryOutcomes(host, this, cursor, this.table)
  }

  get hasWork (): boolean { return this.reader.size > 0 || this.table.readyCount > 0 }
  get windowSize (): number { return this.reader.size }
  get deliveredCount (): number { return this.table.deliveredCount }
  get backlogEntries (): number { return this.cursor.backlogEntries() }

  /**
   * Holds nothing its cursor does not, so the subscription may forget it and
   * later build it again from the cursor (subscription.ts): no records, nothing
   * in the window, no read or ack under way, and no delivery count that only
   * this process knows (with hardenRedeliveryCount off the counts live here).
   */
  get droppable (): boolean {
    return this.table.size === 0 && this.reader.size === 0 && !this.reader.reading && this.acksInFlight === 0 &&
      (this.host.policy.hardenRedeliveryCount || !this.table.hasCounts)
  }

  /** Persist one more delivery of each id (in any order: the cursor sorts them for its hand-out watermark). */
  recordDeliveries (ids: number[]): Promise<void> { return this.cursor.recordDeliveries(ids) }
  get nextDelayedAtMs (): number | undefined { return this.reader.delayed.nextAtMs }

  startRead (): boolean { return this.reader.startRead() }
  delayedPending (now: number): number { return this.reader.delayedPending(now) }
  clearHold (): void { this.reader.delayed.clearHold() }

  // ---- picking ----------------------------------------------------------------------------------

  redeliveryCountOf (id: number): number {
    return Math.max(this.table.countOf(id) ?? 0, this.cursor.deliveryCount(id))
  }

  /** Hand out up to `max` entries (or dispose of them) into `out`; returns entries taken off the window or ready list. */
  pick (out: Pick[], max: number): number {
    this.round = out
    try {
      if (this.host.inOrder) return pickInOrder(this, max)
      if (this.host.keyShared) return pickKeyShared(this, max)
      return pickShared(this, max)
    } finally {
      this.round = []
    }
  }

  assign (c: ConsumerImpl, entry: LedgerEntry, existing: Inflight | undefined, rc: number): void {
    const rec = existing ?? this.table.recordOf(entry.entryId)
    const key = this.host.keyShared ? orderingKeyOf(this.topic, entry.props) : ''
    this.table.deliver(rec, c, entry, key, rc)
    this.round.push({ stream: this, rec, consumer: c, entry, redeliveryCount: rc })
  }

  /** The front end found a delivery expired before its client saw it: acknowledge it as expired. */
  expireDelivered (id: EntryId): boolean {
    const rec = this.table.get(id)
    if (rec === undefined || rec.state !== InflightState.delivered) return false
    this.outcomes.expire(id, rec.props ?? {}, rec)
    return true
  }

  /** The entry expired between its pick and its hand-out: it never reaches the sink; the permit goes back. */
  expiredBeforeHandOut (p: Pick): void {
    if (p.rec.state !== InflightState.delivered) return
    p.consumer.refund()
    this.outcomes.expire(p.entry.entryId, p.entry.props, p.rec)
  }

  // ---- redeliveries and delayed entries --------------------------------------------------------

  /** A heap item of this stream fell due: load a waiting entry, or retry the ack of a dead-lettered one. */
  due (rec: Inflight): void {
    if (rec.state === InflightState.waiting) this.startLoad(rec, false)
    else if (rec.state === InflightState.deadLettering && rec.dlqStored) this.outcomes.ackDeadLettered(rec)
  }

  /** shared / key_shared: load delayed entries that are due and that the reader has passed over. */
  scanDelayed (now: number, loadRoom: number): void {
    if (loadRoom <= 0) return
    for (const id of this.reader.dueDelayed(now, Math.min(loadRoom, DELAYED_SCAN_ENTRIES_MAX))) {
      if (this.cursor.isAcked(id) || this.table.has(id)) continue
      this.startLoad(this.table.recordOf(id), true)
    }
  }

  /** Read rec back from the ledger (a redelivery, or a due delayed entry found in the index). */
  private startLoad (rec: Inflight, fromDelayedIndex: boolean): void {
    const gen = this.table.loading(rec)
    this.host.env.ledger.readOne(this.topic, rec.entryId).then((entry) => {
      if (rec.state !== InflightState.loading || rec.gen !== gen) return
      if (entry === undefined) { // gone by retention: nothing left to deliver
        this.table.release(rec)
        this.table.forgetCount(rec.entryId)
        this.host.kick()
        return
      }
      if (fromDelayedIndex) this.reader.delayedReturned(rec.entryId, entry.props)
      if (this.host.keyShared && !rec.returned) rec.key = orderingKeyOf(this.topic, entry.props)
      this.table.loaded(rec, entry)
      this.host.markActive(this)
      this.host.kick()
    }, (err: unknown) => {
      if (rec.state !== InflightState.loading || rec.gen !== gen) return
      this.host.env.logger.warn({ err, topic: this.topic, entryId: rec.entryId }, 'redelivery read failed; will retry')
      this.table.schedule(rec, Date.now() + this.outcomes.backoffMs(0), rec.reason)
    })
  }

  // ---- acknowledgements -----------------------------------------------------------------------------

  async ack (ids: readonly EntryId[]): Promise<AckResult> {
    const info = this.host.env.ledger.topicInfo(this.topic)
    const end = info?.nextEntryId ?? 0
    const first = info?.firstEntryId ?? 0
    const fresh = new Set<EntryId>()
    const unknown: EntryId[] = []
    const results: Inflight[] = []
    let joined = 0
    for (const id of ids) {
      if (id >= end || id < first || this.cursor.isAcked(id) || fresh.has(id)) { unknown.push(id); continue }
      // Acked earlier in this loop turn, not durable yet: wait for that record, count it once.
      if (this.lazyAcks?.has(id) === true) { fresh.add(id); joined++; continue }
      fresh.add(id)
      const rec = this.table.get(id)
      if (rec !== undefined && rec.state !== InflightState.deadLettering) {
        if (rec.state === InflightState.delivered && rec.props?.resultTopic !== undefined) results.push(rec)
        this.table.release(rec)
      }
      this.table.forgetCount(id)
    }
    if (fresh.size === 0) return { acked: 0, unknown }
    const p = this.acks.ack([...fresh])
    if (fresh.size > joined) this.host.count(Outcome.acked, fresh.size - joined)
    this.host.kick()
    this.acksInFlight++
    try { await p } finally { this.acksInFlight-- }
    this.resultsDelivered(results)
    return { acked: fresh.size, unknown }
  }

  /**
   * ack([id]) for a caller that does not wait (MQTT PUBACK; fanin, issue 11): the same
   * bookkeeping without a Set, arrays, or promises per call. A refused cursor record is
   * logged here (the entry comes again, as after a failed ack anyone waited for).
   */
  ackNoWait (id: EntryId): void {
    const info = this.host.env.ledger.topicInfo(this.topic)
    if (info === undefined || id >= info.nextEntryId || id < info.firstEntryId || this.cursor.isAcked(id)) return
    // Acked earlier in this loop turn and counted then; its record is on the way.
    if (this.lazyAcks?.has(id) === true) return
    const rec = this.table.get(id)
    if (rec !== undefined && rec.state !== InflightState.deadLettering) {
      if (rec.state === InflightState.delivered && rec.props?.resultTopic !== undefined) {
        // A result event waits for the durable ack: the promise path, rare.
        this.table.release(rec)
        this.table.forgetCount(id)
        this.host.count(Outcome.acked, 1)
        this.host.kick()
        this.acksInFlight++
        this.acks.ack([id]).then(() => { this.acksInFlight--; this.resultsDelivered([rec]) }, (err: unknown) => { this.acksInFlight--; this.ackFailed(id, err) })
        return
      }
      this.table.release(rec)
    }
    this.table.forgetCount(id)
    this.acksInFlight++
    this.acks.ackNoWait(id)
    this.host.count(Outcome.acked, 1)
    this.host.kick()
  }

  private noWaitSettled (ids: readonly EntryId[], err: unknown): void {
    this.acksInFlight -= ids.length
    if (err !== undefined) { for (const id of ids) this.ackFailed(id, err); return }
    this.host.env.backlogChanged(this.topic) // as resultsDelivered does after a durable ack

  }

  private ackFailed (id: EntryId, err: unknown): void {
    this.host.env.logger.warn({ err, topic: this.topic, entryId: id, subscription: this.host.name }, 'ack failed')
  }

  async ackCumulative (upTo: EntryId): Promise<AckResult> {
    const end = this.host.env.ledger.topicInfo(this.topic)?.nextEntryId ?? 0
    if (upTo >= end) upTo = end - 1 // never acknowledge entries that do not exist yet
    // Everything below `lowest` has been handed out (or is acknowledged); above it only records were.
    const cut = Math.min(upTo, this.reader.lowestNotHandedOut() - 1)
    const above: EntryId[] = []
    const results: Inflight[] = []
    for (const rec of this.table.records()) {
      if (rec.entryId > upTo || rec.state === InflightState.deadLettering) continue
      if (rec.state === InflightState.delivered && rec.props?.resultTopic !== undefined) results.push(rec)
      if (rec.entryId > cut) above.push(rec.entryId)
      this.table.release(rec)
    }
    this.table.forgetCountsUpTo(cut)
    for (const id of above) this.table.forgetCount(id)
    const before = this.cursor.backlogEntries()
    const work: Array<Promise<void>> = []
    if (cut > this.cursor.markDelete()) work.push(this.cursor.ackCumulative(cut))
    if (above.length > 0) work.push(this.cursor.ack(above))
    const acked = Math.max(0, before - this.cursor.backlogEntries())
    this.host.count(Outcome.acked, acked)
    this.host.kick()
    await Promise.all(work)
    this.resultsDelivered(results)
    return { acked, unknown: [] }
  }

  private resultsDelivered (recs: readonly Inflight[]): void {
    for (const rec of recs) this.host.env.emitResult(this.topic, rec.entryId, rec.props ?? {}, this.host.name, 'delivered')
    this.host.env.backlogChanged(this.topic)
  }

  /** Negative ack of delivered entries: redeliver after the backoff step of their redelivery count. */
  nack (ids: readonly EntryId[], reason: string | undefined, now: number): void {
    for (const id of ids) {
      const rec = this.table.get(id)
      if (rec === undefined || rec.state !== InflightState.delivered) continue
      const rc = Math.max(0, (this.table.countOf(id) ?? 1) - 1)
      this.table.schedule(rec, now + this.outcomes.backoffMs(rc), reason)
    }
  }

  /** Ack timeout: every delivered entry handed out before olderThanMs is treated as nacked. Returns the next deadline. */
  expireAcks (olderThanMs: number, now: number): number | undefined {
    const late: number[] = []
    let next: number | undefined
    for (const rec of this.table.delivered.values()) {
      if (rec.deliveredAtMs > olderThanMs) { next = rec.deliveredAtMs; break }
      late.push(rec.entryId)
    }
    if (late.length > 0) this.nack(late, 'ack timeout', now)
    return next
  }

  /** shared / key_shared: a consumer closed; its unacknowledged entries go back (redelivered, count + 1). */
  returnFrom (rec: Inflight): void {
    if (rec.state === InflightState.delivered) this.table.returned(rec)
  }

  /** Entries up to upTo were skipped by backlog eviction: forget them. */
  evicted (upTo: EntryId): void {
    for (const rec of this.table.records()) if (rec.entryId <= upTo && rec.state !== InflightState.deadLettering) this.table.release(rec)
    this.table.forgetCountsUpTo(upTo)
    this.reader.skippedTo(upTo)
    this.host.kick()
  }

  /**
   * Admin (gateway/ops: skip, clear backlog, reset forward): acknowledge
   * everything <= upTo, handed out or not, then read on from the new
   * mark-delete position. Entries above upTo that are in flight stay so.
   */
  async skipTo (upTo: EntryId): Promise<void> {
    const end = this.host.env.ledger.topicInfo(this.topic)?.nextEntryId ?? 0
    if (upTo >= end) upTo = end - 1
    if (upTo <= this.cursor.markDelete()) return
    const p = this.cursor.ackCumulative(upTo)
    for (const rec of this.table.records()) if (rec.entryId <= upTo && rec.state !== InflightState.deadLettering) this.table.release(rec)
    this.table.forgetCountsUpTo(upTo)
    // The window may hold entries <= upTo that were read but not handed out: read again from the cursor
    // (rewound: the subscription asks this stream to read again, or nothing above upTo would be read).
    this.reader.reset()
    this.host.rewound(this)
    await p
    this.host.env.backlogChanged(this.topic)
  }

  /**
   * Admin (gateway/ops: reset backwards): the cursor starts over after
   * `markDelete` (acknowledgements above it dropped, store/cursor-reset.ts),
   * then the stream forgets what it holds and reads again from there, as in
   * rewind(). Returns the position the store took (clamped to what exists).
   */
  async rewindTo (markDelete: EntryId): Promise<EntryId> {
    const taken = await this.cursor.rewindTo(markDelete)
    this.rewind()
    this.host.env.backlogChanged(this.topic)
    return taken
  }

  /** A cancelled delayed entry (props when known): never deliver it, and stop counting it as pending. */
  cancelled (id: EntryId, props: MessageProps | undefined): void {
    const rec = this.table.get(id)
    if (rec !== undefined && rec.state !== InflightState.deadLettering) this.table.release(rec)
    this.table.forgetCount(id)
    this.reader.cancelled(id, props)
  }

  /**
   * Forget everything not acknowledged and read again from the cursor's
   * mark-delete position: a consumer switch in exclusive / failover, the last
   * consumer leaving, or a policy change that alters what is deliverable.
   * Delivery counts are kept, so redeliveries still count up.
   */
  rewind (): void {
    this.table.clear()
    this.reader.reset()
    this.host.rewound(this)
  }
}
