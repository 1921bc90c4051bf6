/**
 * Subscription: (namespace, name) with one filter, one mode, its consumers
 * and one TopicStream per topic the filter matches. It runs the dispatch
 * loop: rounds that pick entries from its streams for consumers with
 * permits, persist the delivery counts of the whole round in one call per
 * topic, then hand the entries to the sinks. One timer (Alarm) drives
 * everything time-based: redelivery backoff, ack timeout, delayed delivery.
 */
import { CommonCode, FerryError } from '../../common/errors.js'
import type { Cursor, CursorStart, EntryId, Lsn, TopicName } from '../../store/index.js'
import type { NamespacePolicy } from '../policy/index.js'
import { Alarm } from './alarm.js'
import { ConsumerImpl } from './consumer.js'
import {
  DISPATCH_ROUND_ENTRIES_MAX, DISPATCH_ROUNDS_IN_FLIGHT_MAX, DISPATCH_TURN_ENTRIES_MAX, PENDING_ACK_ENTRIES_MAX, READ_AHEAD_BYTES_MAX,
  READ_AHEAD_ENTRIES_MAX, READ_BATCH_ENTRIES_MAX, READ_RETRY_MS, REDELIVERY_LOADS_MAX
} from './constants.js'
import type { DispatchContext } from './context.js'
import { DispatchCode, dispatchError } from './errors.js'
import { filterMatches } from './filter.js'
import { InflightState, type Inflight } from './inflight.js'
import { KeyRing } from './key-ring.js'
import { MinHeap } from './min-heap.js'
import { TopicStream, type Pick } from './stream.js'
import { SubscriptionMode, type Delivery, type SubscribeOptions, type SubscriptionStats } from './types.js'

/** What is persisted for a durable subscription (ledger meta space `subscription`). */
export interface SubscriptionDef {
  namespace: string
  filter: string
  name: string
  mode: SubscriptionMode
  durable: boolean
  initialPosition: 'latest' | 'earliest'
  /** ledger.lastLsn() when the subscription was created: topics appearing later start right after it. */
  createdLsn: Lsn
}

type Counters = globalThis.Pick<SubscriptionStats, 'delivered' | 'acked' | 'redelivered' | 'expired' | 'deadLettered' | 'evicted'>

interface Due { stream: TopicStream, rec: Inflight, gen: number }

const yieldToLoop = async (): Promise<void> => { await new Promise<void>((resolve) => setImmediate(resolve)) }

export class Subscription {
  readonly namespace: string
  readonly filter: string
  readonly levels: readonly string[]
  readonly name: string
  readonly durable: boolean
  readonly initialPosition: 'latest' | 'earliest'
  readonly createdLsn: Lsn
  mode: SubscriptionMode
  policy: Readonly<NamespacePolicy>
  /** Topic local names ending with this are its own dead-letter topics, never spanned by a wildcard. */
  readonly dlqSuffix: string
  readonly wildcard: boolean
  /**
   * Cursor name on every topic spanned: the subscription name for a filter
   * naming one topic (what Pulsar users expect to see), `name NUL filter` for
   * a wildcard filter, so several filters may share a name without sharing cursors.
   */
  readonly cursorName: string

  readonly streams = new Map<TopicName, TopicStream>()
  private readonly attaching = new Map<TopicName, Promise<TopicStream>>()
  readonly consumers: ConsumerImpl[] = []
  /** exclusive / failover: the consumer receiving. */
  active: ConsumerImpl | undefined
  private sharedNext = 0
  private readonly ring = new KeyRing<ConsumerImpl>()

  /** Streams with entries in their window or ready list. */
  private readonly activeStreams = new Set<TopicStream>()
  /** Streams that may have unread entries. */
  private readonly hungry = new Set<TopicStream>()
  /** Streams with delivered, unacknowledged entries (ack timeout). */
  private readonly pendingStreams = new Set<TopicStream>()
  /** Streams waiting on a delayed entry. */
  private readonly delayedStreams = new Set<TopicStream>()
  private readonly redeliveries = new MinHeap<Due>()
  private readonly alarm: Alarm

  private windowEntries = 0
  private windowBytes = 0
  private pendingTotal = 0
  /** Redeliveries being loaded or loaded and waiting for a consumer. */
  private redeliveryHeld = 0

  private running = false
  private again = false
  /** Rounds picked whose hand-out has not finished; their chain keeps hand-outs in pick order. */
  private roundsInFlight = 0
  private handing: Promise<void> = Promise.resolve()
  /** Due delayed entries wait for room under REDELIVERY_LOADS_MAX. */
  private delayedBlocked = false
  closed = false
  /** Unsubscribed (or a non-durable one dropped): its cursors are being deleted. */
  deleted = false
  readonly stats: Counters = { delivered: 0, acked: 0, redelivered: 0, expired: 0, deadLettered: 0, evicted: 0 }

  constructor (readonly ctx: DispatchContext, def: SubscriptionDef, policy: Readonly<NamespacePolicy>, levels: readonly string[], dlqSuffix: string) {
    this.namespace = def.namespace
    this.filter = def.filter
    this.levels = levels
    this.name = def.name
    this.durable = def.durable
    this.initialPosition = def.initialPosition
    this.createdLsn = def.createdLsn
    this.mode = def.mode
    this.policy = policy
    this.dlqSuffix = dlqSuffix
    this.wildcard = levels.some((l) => l === '+' || l === '#')
    this.cursorName = this.wildcard ? `${def.name}\u0000${def.filter}` : def.name
    this.alarm = new Alarm(() => { this.onAlarm() })
  }

  get def (): SubscriptionDef {
    return { namespace: this.namespace, filter: this.filter, name: this.name, mode: this.mode, durable: this.durable, initialPosition: this.initialPosition, createdLsn: this.createdLsn }
  }

  get inOrder (): boolean { return this.mode === SubscriptionMode.exclusive || this.mode === SubscriptionMode.failover }
  get keyShared (): boolean { return this.mode === SubscriptionMode.key_shared }

  /** Does this subscription span `local` (a topic of its namespace)? */
  matches (local: string): boolean {
    if (!filterMatches(this.levels, local)) return false
    return !(this.wildcard && local.endsWith(this.dlqSuffix))
  }

  // ---- topics ----------------------------------------------------------------------

  /** Get or create the stream of a topic (creating its cursor at `start` if it has none). */
  async attach (topic: TopicName, start: () => CursorStart | Promise<CursorStart>): Promise<TopicStream> {
    const have = this.streams.get(topic)
    if (have !== undefined) return have
    let p = this.attaching.get(topic)
    if (p === undefined) {
      p = (async () => {
        const cursor: Cursor = await this.ctx.ledger.cursor(topic, this.cursorName, { durable: this.durable, start: await start() })
        const s = new TopicStream(this, topic, cursor)
        if (this.closed) {
          // Deleted while the cursor was being created: do not leave it behind.
          if (this.deleted) await this.ctx.ledger.deleteCursor(topic, this.cursorName)
          return s
        }
        this.streams.set(topic, s)
        this.ctx.streamAdded(s)
        this.hungry.add(s)
        this.kick()
        return s
      })()
      this.attaching.set(topic, p)
      p.finally(() => { this.attaching.delete(topic) }).catch(() => {})
    }
    return await p
  }

  /** New entries on a stream's topic. */
  appended (s: TopicStream): void {
    this.hungry.add(s)
    if (this.consumers.length > 0) this.kick()
  }

  // ---- consumers -------------------------------------------------------------------

  addConsumer (id: number, opts: SubscribeOptions): ConsumerImpl {
    if (this.closed) throw new FerryError(CommonCode.CLOSED, `subscription '${this.name}' is closing`)
    if (this.mode === SubscriptionMode.exclusive && this.consumers.length > 0) {
      throw dispatchError(DispatchCode.SUBSCRIPTION_BUSY, `exclusive subscription '${this.name}' already has a consumer`, { subscription: this.name })
    }
    const c = new ConsumerImpl(id, this, opts.consumerName, opts.consumerPriority ?? 0, opts.sink, opts.permits)
    this.consumers.push(c)
    this.membershipChanged()
    // failover: every consumer learns whether it is the active one, as in Pulsar.
    if (this.mode === SubscriptionMode.failover && this.active !== c) this.notifyActive(c, false)
    // After the caller's await on subscribe() resumes: a sink never sees a delivery before it has its Consumer.
    setImmediate(() => { this.kick() })
    return c
  }

  async removeConsumer (c: ConsumerImpl): Promise<void> {
    if (c.closed) return
    c.closed = true
    const i = this.consumers.indexOf(c)
    if (i >= 0) this.consumers.splice(i, 1)
    if (!this.inOrder) {
      // Unacknowledged entries go to the others (redelivered, count + 1).
      for (const rec of [...c.inflight]) rec.stream.returnFrom(rec)
    }
    c.inflight.clear()
    const wasActive = this.active === c
    this.membershipChanged()
    if (this.inOrder && wasActive) for (const s of this.streams.values()) s.rewind()
    if (this.consumers.length === 0) {
      this.idle()
      if (!this.durable) await this.ctx.dropSubscription(this)
      return
    }
    this.kick()
  }

  /** Nobody attached: drop everything held in memory; the cursors keep the state. */
  private idle (): void {
    for (const s of this.streams.values()) s.rewind()
    this.pendingStreams.clear()
    this.redeliveries.clear()
  }

  /** Recompute who receives after a join or leave (failover: active consumer; key_shared: the ring). */
  private membershipChanged (): void {
    if (this.mode === SubscriptionMode.key_shared) {
      // Ring points come from the consumer name (and its rank among same-named consumers), not the
      // per-process consumer id: a consumer that reconnects, even after a restart, gets its keys back.
      const seen = new Map<string, number>()
      this.ring.rebuild(this.consumers.map((c) => {
        const rank = seen.get(c.name) ?? 0
        seen.set(c.name, rank + 1)
        return { member: c, id: `${c.name}\u0000${rank}` }
      }))
    }
    if (this.inOrder) {
      const next = this.mode === SubscriptionMode.exclusive ? this.consumers[0] : preferred(this.consumers)
      const prev = this.active
      if (next === prev) return
      this.active = next
      if (prev !== undefined && !prev.closed) {
        // The old active consumer keeps its connection but stops receiving; what it holds goes to the new one.
        for (const s of this.streams.values()) s.rewind()
        this.notifyActive(prev, false)
      }
      if (next !== undefined && this.mode === SubscriptionMode.failover) this.notifyActive(next, true)
    }
  }

  private notifyActive (c: ConsumerImpl, active: boolean): void {
    queueMicrotask(() => {
      if (c.closed) return
      try { c.sink.activeChanged?.(active) } catch (err) { this.ctx.logger.warn({ err }, 'sink.activeChanged threw') }
    })
  }

  /** Changing the mode is allowed only while nobody is attached. */
  changeMode (mode: SubscriptionMode): void {
    if (mode === this.mode) return
    if (this.consumers.length > 0) {
      throw dispatchError(DispatchCode.SUBSCRIPTION_BUSY, `subscription '${this.name}' is ${this.mode} and has consumers; cannot attach as ${mode}`, { subscription: this.name })
    }
    this.mode = mode
    this.idle()
  }

  canTake (c: ConsumerImpl): boolean {
    return !c.closed && c.permits > 0 && this.pendingTotal < PENDING_ACK_ENTRIES_MAX
  }

  /** shared: the next consumer in round-robin order that has permits. */
  nextSharedConsumer (): ConsumerImpl | undefined {
    const n = this.consumers.length
    for (let k = 0; k < n; k++) {
      const c = this.consumers[(this.sharedNext + k) % n] as ConsumerImpl
      if (this.canTake(c)) { this.sharedNext = (this.sharedNext + k) % n; return c }
    }
    return undefined
  }

  sharedConsumerUsed (c: ConsumerImpl): void {
    const i = this.consumers.indexOf(c)
    this.sharedNext = i < 0 ? 0 : (i + 1) % Math.max(1, this.consumers.length)
  }

  ringOwner (key: string): ConsumerImpl | undefined { return this.ring.ownerOf(key) }

  // ---- acks --------------------------------------------------------------------------

  private async streamFor (topic: TopicName): Promise<TopicStream> {
    const s = this.streams.get(topic)
    if (s !== undefined) return s
    const local = topic.startsWith(this.namespace + '/') ? topic.slice(this.namespace.length + 1) : undefined
    if (local === undefined || !this.matches(local) || this.ctx.ledger.topicInfo(topic) === undefined) {
      throw new FerryError(CommonCode.NOT_FOUND, `subscription '${this.name}' does not span topic '${topic}'`)
    }
    return await this.attach(topic, () => ({ kind: 'afterLsn', lsn: this.createdLsn }))
  }

  async ack (topic: TopicName, ids: readonly EntryId[]): Promise<void> {
    checkIds(ids)
    const s = await this.streamFor(topic)
    await s.ack(ids)
  }

  async ackCumulative (topic: TopicName, upTo: EntryId): Promise<void> {
    checkIds([upTo])
    if (!this.inOrder) {
      throw new FerryError(CommonCode.BAD_REQUEST, `cumulative ack is not allowed on ${this.mode} subscription '${this.name}'; ack each message`)
    }
    const s = await this.streamFor(topic)
    await s.ackCumulative(upTo)
  }

  /** Admin (clear backlog, skip, reset forward): acknowledge everything <= upTo on one topic, whatever the mode. */
  async ackUpTo (topic: TopicName, upTo: EntryId): Promise<void> {
    checkIds([upTo])
    const s = await this.streamFor(topic)
    await s.ackCumulative(upTo)
  }

  nack (topic: TopicName, ids: readonly EntryId[], reason?: string): void {
    checkIds(ids)
    const s = this.streams.get(topic)
    if (s === undefined) return
    s.nack(ids, reason, Date.now())
  }

  // ---- bookkeeping called by streams --------------------------------------------------

  windowChanged (entries: number, bytes: number): void {
    this.windowEntries += entries
    this.windowBytes += bytes
  }

  pendingChanged (s: TopicStream, delta: number): void {
    this.pendingTotal += delta
    if (delta > 0) {
      this.pendingStreams.add(s) // the ack-timeout alarm is armed when the round is handed out
    } else if (s.delivered.size === 0) {
      this.pendingStreams.delete(s)
    }
  }

  redeliveryHeldChanged (delta: number): void { this.redeliveryHeld += delta }

  markActive (s: TopicStream): void { this.activeStreams.add(s) }

  /** A stream forgot its window and will read again from its cursor. */
  rewound (s: TopicStream): void {
    this.activeStreams.delete(s)
    this.delayedStreams.delete(s)
    this.hungry.add(s)
    this.kick()
  }

  delayedAt (s: TopicStream, atMs: number): void {
    this.delayedStreams.add(s)
    this.alarm.at(atMs)
  }

  scheduleRedelivery (s: TopicStream, rec: Inflight, dueMs: number): void {
    this.redeliveries.push(dueMs, { stream: s, rec, gen: rec.gen })
    this.alarm.at(dueMs)
    this.kick()
  }

  readFailed (s: TopicStream, err: unknown): void {
    this.ctx.logger.warn({ err, topic: s.topic, subscription: this.name }, 'read failed; will retry')
    this.hungry.add(s)
    this.alarm.at(Date.now() + READ_RETRY_MS)
  }

  // ---- the dispatch loop -----------------------------------------------------------------

  /** Ask for a dispatch round soon (never synchronously: callers may be inside a sink or an ack). */
  kick (): void {
    if (this.closed) return
    if (this.running) { this.again = true; return }
    this.running = true
    queueMicrotask(() => { this.run().catch((err: unknown) => { this.ctx.logger.error({ err, subscription: this.name }, 'dispatch loop failed') }) })
  }

  private async run (): Promise<void> {
    try {
      let first = true
      do {
        if (!first) await yieldToLoop()
        first = false
        this.again = false
        if (this.closed || this.consumers.length === 0) break
        this.fillReadAhead()
        this.loadDue(Date.now())
        const picks: Pick[] = []
        const worked = this.pickRound(picks)
        if (picks.length > 0) {
          this.startHand(picks)
          if (this.roundsInFlight >= DISPATCH_ROUNDS_IN_FLIGHT_MAX) await this.handing
        }
        if (worked >= DISPATCH_ROUND_ENTRIES_MAX) this.again = true
        if (this.delayedBlocked && this.redeliveryHeld < REDELIVERY_LOADS_MAX / 2) {
          this.delayedBlocked = false
          this.alarm.at(Date.now())
        }
      } while (this.again)
    } finally {
      this.running = false
    }
  }

  private fillReadAhead (): void {
    for (const s of [...this.hungry]) {
      const roomEntries = READ_AHEAD_ENTRIES_MAX - this.windowEntries
      const roomBytes = READ_AHEAD_BYTES_MAX - this.windowBytes
      if (roomEntries <= 0 || roomBytes <= 0) return
      if (s.reading) continue
      if (!s.startRead(Math.min(READ_BATCH_ENTRIES_MAX, roomEntries), roomBytes)) this.hungry.delete(s)
    }
  }

  /** Start loading redeliveries that are due, within REDELIVERY_LOADS_MAX. */
  private loadDue (now: number): void {
    for (;;) {
      const at = this.redeliveries.peekKey()
      if (at === undefined) return
      if (at > now) { this.alarm.at(at); return }
      if (this.redeliveryHeld >= REDELIVERY_LOADS_MAX) return
      const due = this.redeliveries.pop() as Due
      if (due.rec.state !== InflightState.waiting || due.rec.gen !== due.gen || !this.streams.has(due.stream.topic)) continue
      due.stream.startLoad(due.rec)
    }
  }

  /** Take entries from the streams in turn, DISPATCH_TURN_ENTRIES_MAX each, up to DISPATCH_ROUND_ENTRIES_MAX. */
  private pickRound (picks: Pick[]): number {
    let budget = DISPATCH_ROUND_ENTRIES_MAX
    let progress = true
    while (budget > 0 && progress) {
      progress = false
      for (const s of [...this.activeStreams]) {
        if (budget <= 0) break
        const worked = s.pick(picks, Math.min(DISPATCH_TURN_ENTRIES_MAX, budget))
        budget -= worked
        if (worked > 0) progress = true
        if (!s.hasWork) {
          this.activeStreams.delete(s)
        } else if (worked > 0) {
          // Rotate: a stream that was served goes to the back.
          this.activeStreams.delete(s)
          this.activeStreams.add(s)
        }
      }
      if (budget > 0 && this.hungry.size > 0) this.fillReadAhead()
    }
    return DISPATCH_ROUND_ENTRIES_MAX - budget
  }

  /**
   * Persist the round's delivery counts (one call per topic) and queue the
   * hand-out behind the rounds before it: rounds overlap their count writes
   * (so a sync ledger group-commits several in one fsync) but reach the sinks
   * in pick order.
   */
  private startHand (picks: Pick[]): void {
    const persisted = this.persistCounts(picks)
    this.roundsInFlight++
    this.handing = this.handing.then(async () => {
      if (await persisted) this.deliverPicks(picks)
    }).catch((err: unknown) => {
      this.ctx.logger.error({ err, subscription: this.name }, 'handing out a round failed')
    }).finally(() => { this.roundsInFlight-- })
  }

  /** True once the counts are durable (or hardening is off); false after a failure (the picks are nacked). */
  private async persistCounts (picks: Pick[]): Promise<boolean> {
    if (!this.policy.hardenRedeliveryCount) return true
    const byStream = new Map<TopicStream, number[]>()
    for (const p of picks) {
      let ids = byStream.get(p.stream)
      if (ids === undefined) { ids = []; byStream.set(p.stream, ids) }
      ids.push(p.entry.entryId)
    }
    const results = await Promise.allSettled([...byStream].map(async ([s, ids]) => { await s.cursor.recordDeliveries(ids) }))
    for (const r of results) {
      if (r.status === 'rejected') {
        // Not persisted: do not hand out (the count would be wrong after a crash); redeliver later.
        this.ctx.logger.warn({ err: r.reason, subscription: this.name }, 'recording deliveries failed; entries will be redelivered')
        for (const p of picks) if (p.rec.state === InflightState.delivered) p.stream.nack([p.entry.entryId], 'delivery count not persisted', Date.now())
        return false
      }
    }
    return true
  }

  private deliverPicks (picks: Pick[]): void {
    const now = Date.now()
    if (this.policy.ackTimeoutMs > 0) this.alarm.at(now + this.policy.ackTimeoutMs)
    for (const p of picks) {
      const { rec, consumer, entry } = p
      if (rec.state !== InflightState.delivered || rec.consumer !== consumer || consumer.closed) continue
      rec.deliveredAtMs = now
      this.stats.delivered++
      if (p.redeliveryCount > 0) this.stats.redelivered++
      const d: Delivery = {
        topic: p.stream.topic,
        entryId: entry.entryId,
        subscription: this.name,
        publishTime: entry.publishTime,
        payload: entry.payload,
        props: entry.props,
        redeliveryCount: p.redeliveryCount
      }
      try {
        consumer.sink.deliver(d)
      } catch (err) {
        this.ctx.logger.warn({ err, subscription: this.name }, 'sink.deliver threw; message will be redelivered')
        p.stream.nack([entry.entryId], 'consumer failed', Date.now())
      }
    }
  }

  // ---- time ------------------------------------------------------------------------------

  private onAlarm (): void {
    if (this.closed) return
    const now = Date.now()
    const ackTimeout = this.policy.ackTimeoutMs
    let next = Number.POSITIVE_INFINITY
    if (ackTimeout > 0) {
      for (const s of [...this.pendingStreams]) {
        const oldest = s.expireAcks(now - ackTimeout, now)
        if (oldest !== undefined) next = Math.min(next, oldest + ackTimeout)
      }
    }
    for (const s of [...this.delayedStreams]) {
      const at = s.nextDelayedAtMs
      if (at !== undefined && at > now) { next = Math.min(next, at); continue }
      if (this.inOrder) {
        s.clearHold()
      } else if (this.consumers.length === 0 || this.redeliveryHeld >= REDELIVERY_LOADS_MAX) {
        // No room to load due entries: the dispatch loop re-arms once consumers drain the held ones.
        this.delayedBlocked = true
        continue
      } else {
        s.scanDelayed(now, REDELIVERY_LOADS_MAX - this.redeliveryHeld)
      }
      const again = s.nextDelayedAtMs
      if (again === undefined) this.delayedStreams.delete(s)
      else next = Math.min(next, Math.max(again, now + 1))
    }
    const due = this.redeliveries.peekKey()
    if (due !== undefined) next = Math.min(next, due)
    if (this.hungry.size > 0) this.kick()
    this.alarm.at(next)
    this.kick()
  }

  // ---- policy, stats, close -----------------------------------------------------------------

  setPolicy (p: Readonly<NamespacePolicy>): void {
    const old = this.policy
    this.policy = p
    if (old.delayedDeliveryEnabled !== p.delayedDeliveryEnabled) {
      for (const s of this.streams.values()) s.rewind()
    }
    // The alarm handler works out every deadline under the new policy.
    if (p.ackTimeoutMs > 0 && this.pendingStreams.size > 0) this.alarm.at(Date.now())
    this.kick()
  }

  snapshot (): SubscriptionStats {
    let backlog = 0
    let delayedPending = 0
    for (const s of this.streams.values()) {
      backlog += s.cursor.backlogEntries()
      delayedPending += s.delayedPending()
    }
    return {
      namespace: this.namespace,
      filter: this.filter,
      subscription: this.name,
      mode: this.mode,
      durable: this.durable,
      consumers: this.consumers.length,
      topics: this.streams.size,
      backlog,
      pendingAck: this.pendingTotal,
      readAhead: this.windowEntries + this.redeliveryHeld,
      delayedPending,
      ...this.stats
    }
  }

  /** Close every consumer (sink.closed(reason)) and stop. Cursors stay unless the caller deletes them. */
  close (reason: FerryError): void {
    if (this.closed) return
    this.closed = true
    this.alarm.stop()
    for (const c of this.consumers.splice(0)) {
      c.closed = true
      queueMicrotask(() => {
        try { c.sink.closed?.(reason) } catch (err) { this.ctx.logger.warn({ err }, 'sink.closed threw') }
      })
    }
    for (const s of this.streams.values()) s.rewind()
    this.redeliveries.clear()
  }
}

/** failover: lowest consumerPriority, then consumerName, then the earliest attached. */
function preferred (cs: readonly ConsumerImpl[]): ConsumerImpl | undefined {
  let best: ConsumerImpl | undefined
  for (const c of cs) {
    if (best === undefined || c.priority < best.priority || (c.priority === best.priority && (c.name < best.name || (c.name === best.name && c.id < best.id)))) best = c
  }
  return best
}

function checkIds (ids: readonly EntryId[]): void {
  for (const id of ids) {
    if (!Number.isSafeInteger(id) || id < 0) throw new FerryError(CommonCode.BAD_REQUEST, `invalid message id ${String(id)}`)
  }
}
