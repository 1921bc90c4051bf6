/**
 * Subscription: (namespace, name) with one filter, one mode, its consumers
 * (consumer-set.ts), a cursor on every topic the filter matches (`spanned`)
 * and a TopicStream for the topics that have something to deliver. Its
 * dispatch loop (dispatch-loop.ts) runs the rounds; its clock (subscription-clock.ts, one timer) drives
 * everything time-based: redelivery backoff, ack timeout, delayed delivery.
 * It is the StreamHost of its streams: they report to it through that
 * interface and never touch its fields. When a topic gets a stream and when
 * the stream is dropped (lazily, to keep an offline subscription at its
 * cursors) is subscription-streams.ts; telling consumers who is active after
 * a join or leave is subscription-active.ts.
 */
import { SpannedTopics } from './spanned-topics.js'
import { CommonCode, FerryError } from '../../common/errors.js'
import type { Logger } from '../../common/log.js'
import type { CursorStart, EntryId, Lsn, MessageProps, TopicName } from '../../store/index.js'
import type { NamespacePolicy } from '../policy/index.js'
import { ConsumerImpl } from './consumer.js'
import { ConsumerSet } from './consumer-set.js'
import { READ_RETRY_MS } from './constants.js'
import type { DispatchContext } from './context.js'
import { DispatchLoop, type LoopHost } from './dispatch-loop.js'
import { DispatchCode, dispatchError } from './errors.js'
import { filterMatches } from './filter.js'
import type { Inflight } from './inflight.js'
import { OfflineBacklog } from './offline-backlog.js'
import type { TopicStream } from './stream.js'
import { membershipChanged, notifyActive } from './subscription-active.js'
import { SubscriptionClock, type ClockHost } from './subscription-clock.js'
import type { Outcome, StreamEnv, StreamHost } from './stream-host.js'
import { SubscriptionStreams } from './subscription-streams.js'
import { SubscriptionMode, type AckResult, type SubscribeOptions, type SubscriptionStats } from './types.js'

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
  /** Geo-replicated: its acknowledgements travel to the namespace's other sites (replicated.ts). */
  replicated?: boolean
}

type Counters = Pick<SubscriptionStats, 'delivered' | 'acked' | 'redelivered' | 'expired' | 'deadLettered' | 'evicted'>

export class Subscription implements StreamHost, LoopHost, ClockHost {
  readonly namespace: string
  readonly filter: string
  readonly levels: readonly string[]
  readonly name: string
  readonly durable: boolean
  readonly initialPosition: 'latest' | 'earliest'
  readonly createdLsn: Lsn
  mode: SubscriptionMode
  /** Geo-replicated (SubscriptionDef.replicated); only ever turned on. */
  replicated: boolean
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

  /** Topics this subscription has a cursor on (a view of the dispatcher's topic index once large: spanned-topics.ts). */
  readonly spanned: SpannedTopics<Subscription>
  /** Live streams, made and dropped by `lifecycle` (insertion order is least recently used first while offline). */
  readonly streams: ReadonlyMap<TopicName, TopicStream>
  private readonly lifecycle: SubscriptionStreams
  readonly consumers: ConsumerSet
  private readonly offlineBacklog: OfflineBacklog
  private readonly loop: DispatchLoop
  private readonly clock: SubscriptionClock

  private pendingTotal = 0
  /** Records over all streams (delivered, waiting, loading, ready, dead-lettering): bounded by recordsMax. */
  private recordsTotal = 0
  /** Redeliveries being loaded or loaded and waiting for a consumer. */
  redeliveryHeld = 0
  closed = false
  /** Unsubscribed (or a non-durable one dropped): its cursors are being deleted. */
  deleted = false
  private readonly counters: Counters = { delivered: 0, acked: 0, redelivered: 0, expired: 0, deadLettered: 0, evicted: 0 }

  constructor (private readonly ctx: DispatchContext, def: SubscriptionDef, policy: Readonly<NamespacePolicy>, levels: readonly string[], dlqSuffix: string) {
    this.namespace = def.namespace
    this.filter = def.filter
    this.levels = levels
    this.name = def.name
    this.durable = def.durable
    this.initialPosition = def.initialPosition
    this.createdLsn = def.createdLsn
    this.mode = def.mode
    this.replicated = def.replicated === true
    this.policy = policy
    this.dlqSuffix = dlqSuffix
    this.wildcard = levels.some((l) => l === '+' || l === '#')
    this.cursorName = this.wildcard ? `${def.name}\u0000${def.filter}` : def.name
    this.clock = new SubscriptionClock(this)
    this.consumers = new ConsumerSet(() => this.mode, () => this.recordsTotal < this.ctx.recordsMax)
    this.loop = new DispatchLoop(this)
    this.spanned = new SpannedTopics(ctx.topicIndex, this)
    this.lifecycle = new SubscriptionStreams(this, ctx.ledger, this.loop, this.clock)
    this.streams = this.lifecycle.byTopic
    this.offlineBacklog = new OfflineBacklog(ctx.ledger, this.cursorName, this.spanned, (topic) => this.streams.has(topic))
  }

  get def (): SubscriptionDef {
    return { namespace: this.namespace, filter: this.filter, name: this.name, mode: this.mode, durable: this.durable, initialPosition: this.initialPosition, createdLsn: this.createdLsn, ...(this.replicated ? { replicated: true } : {}) }
  }

  get inOrder (): boolean { return this.mode === SubscriptionMode.exclusive || this.mode === SubscriptionMode.failover }
  get keyShared (): boolean { return this.mode === SubscriptionMode.key_shared }
  get env (): StreamEnv { return this.ctx }
  get logger (): Logger { return this.ctx.logger }
  get idle (): boolean { return this.closed || this.consumers.size === 0 }
  get hasConsumers (): boolean { return this.consumers.size > 0 }
  spans (s: TopicStream): boolean { return this.streams.get(s.topic) === s }

  /** Does this subscription span `local` (a topic of its namespace)? */
  matches (local: string): boolean {
    if (!filterMatches(this.levels, local)) return false
    return !(this.wildcard && local.endsWith(this.dlqSuffix))
  }

  // ---- topics ----------------------------------------------------------------------

  /** Give the subscription its cursor on a topic (created at `start` if it has none). */
  attach (topic: TopicName, start: () => CursorStart | Promise<CursorStart>): Promise<void> {
    return this.lifecycle.attach(topic, start)
  }

  /** New entries on a spanned topic: a consumer gets its stream reading (offline, nothing to do: the cursor pins them). */
  appended (topic: TopicName): void {
    if (this.consumers.size === 0) {
      const kept = this.streams.get(topic)
      if (kept !== undefined) this.loop.wantRead(kept)
      return
    }
    const s = this.lifecycle.live(topic)
    if (s === undefined) return
    this.loop.wantRead(s)
    this.kick()
  }

  // ---- consumers -------------------------------------------------------------------

  addConsumer (id: number, opts: SubscribeOptions): ConsumerImpl {
    if (this.closed) throw new FerryError(CommonCode.CLOSED, `subscription '${this.name}' is closing`)
    if (this.mode === SubscriptionMode.exclusive && this.consumers.size > 0) {
      throw dispatchError(DispatchCode.SUBSCRIPTION_BUSY, `exclusive subscription '${this.name}' already has a consumer`, { subscription: this.name })
    }
    const c = new ConsumerImpl(id, this, opts.consumerName, opts.consumerPriority ?? 0, opts.sink, opts.permits)
    this.consumers.add(c)
    if (this.consumers.size === 1) this.lifecycle.materialise()
    membershipChanged(this)
    // failover: every consumer learns whether it is the active one, as in Pulsar.
    if (this.mode === SubscriptionMode.failover && this.consumers.active !== c) notifyActive(this.ctx.logger, c, false)
    // After the caller's await on subscribe() resumes: a sink never sees a delivery before it has its Consumer.
    setImmediate(() => { this.kick() })
    return c
  }

  async removeConsumer (c: ConsumerImpl): Promise<void> {
    if (c.closed) return
    c.closed = true
    this.consumers.remove(c)
    if (!this.inOrder) {
      // Unacknowledged entries go to the others (redelivered, count + 1).
      for (const rec of c.holding()) rec.stream.returnFrom(rec)
    }
    c.detached()
    const wasActive = this.consumers.active === c
    membershipChanged(this)
    if (this.inOrder && wasActive) for (const s of this.streams.values()) s.rewind()
    if (this.consumers.size === 0) {
      this.goIdle()
      if (!this.durable) await this.ctx.dropSubscription(this)
      return
    }
    this.kick()
  }

  /** Nobody attached: drop everything held in memory, streams included where idle; the cursors keep the state. */
  private goIdle (): void {
    for (const s of this.streams.values()) s.rewind()
    this.clock.clear()
    this.lifecycle.dropIdle(0)
  }

  /** Changing the mode is allowed only while nobody is attached. */
  changeMode (mode: SubscriptionMode): void {
    if (mode === this.mode) return
    if (this.consumers.size > 0) {
      throw dispatchError(DispatchCode.SUBSCRIPTION_BUSY, `subscription '${this.name}' is ${this.mode} and has consumers; cannot attach as ${mode}`, { subscription: this.name })
    }
    this.mode = mode
    this.goIdle()
  }

  // ---- acks --------------------------------------------------------------------------

  ack (topic: TopicName, ids: readonly EntryId[]): Promise<AckResult> {
    // fanin (issue 11): the stream exists (every MQTT PUBACK): its own promise, no async frames here per ack.
    const s = this.streams.get(topic)
    if (s === undefined) return this.ackAttaching(topic, ids)
    try { checkIds(ids) } catch (err) { return Promise.reject(err) }
    return s.ack(ids)
  }

  /** ack(topic, [id]) for a caller that does not wait (types.ts Consumer.ackNoWait): no promise when the stream exists. */
  ackNoWait (topic: TopicName, id: EntryId): void {
    const s = this.streams.get(topic)
    if (s !== undefined && Number.isSafeInteger(id) && id >= 0) { s.ackNoWait(id); return }
    this.ack(topic, [id]).catch((err: unknown) => {
      this.ctx.logger.warn({ err, topic, entryId: id, subscription: this.name }, 'ack failed')
    })
  }

  private async ackAttaching (topic: TopicName, ids: readonly EntryId[]): Promise<AckResult> {
    checkIds(ids)
    const s = await this.lifecycle.forAck(topic)
    return await s.ack(ids)
  }

  async ackCumulative (topic: TopicName, upTo: EntryId): Promise<AckResult> {
    checkIds([upTo])
    if (!this.inOrder) {
      throw new FerryError(CommonCode.BAD_REQUEST, `cumulative ack is not allowed on ${this.mode} subscription '${this.name}'; ack each message`)
    }
    const s = await this.lifecycle.forAck(topic)
    return await s.ackCumulative(upTo)
  }

  /** Admin (clear backlog, skip, reset forward): acknowledge everything <= upTo on one topic, whatever the mode. */
  async ackUpTo (topic: TopicName, upTo: EntryId): Promise<void> {
    checkIds([upTo])
    const s = await this.lifecycle.forAck(topic)
    await s.skipTo(upTo)
  }

  /** Admin (reset backwards): deliver again everything after markDelete on one topic, acknowledged or not. */
  async rewindTo (topic: TopicName, markDelete: EntryId): Promise<EntryId> {
    checkIds([markDelete + 1])
    const s = await this.lifecycle.forAck(topic)
    return await s.rewindTo(markDelete)
  }

  nack (topic: TopicName, ids: readonly EntryId[], reason?: string): void {
    checkIds(ids)
    this.streams.get(topic)?.nack(ids, reason, Date.now())
  }

  /** A front end found a delivery expired before its client saw it. */
  expireDelivered (topic: TopicName, id: EntryId): boolean {
    return this.streams.get(topic)?.expireDelivered(id) ?? false
  }

  /** Backlog eviction skipped entries up to upTo on a topic. */
  evicted (topic: TopicName, entries: number, upTo: EntryId): void {
    this.counters.evicted += entries
    this.streams.get(topic)?.evicted(upTo)
  }

  // ---- StreamHost ------------------------------------------------------------------------

  kick (): void { if (!this.closed) this.loop.kick() }
  wantRead (s: TopicStream): void { this.loop.wantRead(s) }
  markActive (s: TopicStream): void { this.loop.markActive(s) }
  windowRoom (): { entries: number, bytes: number } { return this.loop.windowRoom() }
  windowChanged (entries: number, bytes: number): void { this.loop.windowChanged(entries, bytes) }
  recordsChanged (delta: number): void { this.recordsTotal += delta }
  redeliveryHeldChanged (delta: number): void { this.redeliveryHeld += delta }
  count (what: Outcome, n: number): void { this.counters[what] += n }

  pendingChanged (s: TopicStream, delta: number): void {
    this.pendingTotal += delta
    this.clock.pendingChanged(s, delta, s.deliveredCount)
  }

  rewound (s: TopicStream): void {
    this.clock.rewound(s)
    this.loop.rewound(s)
    this.kick()
  }

  delayedAt (s: TopicStream, atMs: number): void { this.clock.delayedAt(s, atMs) }

  scheduleRedelivery (s: TopicStream, rec: Inflight, dueMs: number): void {
    this.clock.scheduleRedelivery(s, rec, dueMs)
    this.kick()
  }

  readFailed (s: TopicStream, err: unknown): void {
    this.ctx.logger.warn({ err, topic: s.topic, subscription: this.name }, 'read failed; will retry')
    this.loop.wantRead(s)
    this.clock.wakeAt(Date.now() + READ_RETRY_MS)
  }

  // ---- LoopHost ------------------------------------------------------------------------------

  loadDue (now: number): void { this.clock.loadDue(now) }
  afterRound (): void { this.clock.afterRound() }
  handedOut (nowMs: number): void { this.clock.handedOut(nowMs) }

  delivered (redelivery: boolean): void {
    this.counters.delivered++
    if (redelivery) this.counters.redelivered++
  }

  // ---- policy, stats, close -----------------------------------------------------------------

  setPolicy (p: Readonly<NamespacePolicy>): void {
    const old = this.policy
    this.policy = p
    if (old.delayedDeliveryEnabled !== p.delayedDeliveryEnabled) {
      for (const s of this.streams.values()) s.rewind()
    }
    this.clock.policyChanged()
    this.kick()
  }

  /** A delayed entry of topic was cancelled (props when known). */
  cancelled (topic: TopicName, id: EntryId, props: MessageProps | undefined): void {
    this.streams.get(topic)?.cancelled(id, props)
  }

  snapshot (): SubscriptionStats {
    let backlog = 0
    let delayedPending = 0
    const now = Date.now()
    for (const [topic, s] of this.streams) {
      if (!this.spanned.has(topic)) continue
      backlog += s.backlogEntries
      delayedPending += s.delayedPending(now)
    }
    // Topics without a stream: from their cursors (offline-backlog.ts; in slices for very large subscriptions).
    backlog += this.offlineBacklog.entries(now)
    return {
      namespace: this.namespace,
      filter: this.filter,
      subscription: this.name,
      mode: this.mode,
      durable: this.durable,
      ...(this.replicated ? { replicated: true } : {}),
      consumers: this.consumers.size,
      topics: this.spanned.size,
      streams: this.streams.size,
      backlog,
      pendingAck: this.pendingTotal,
      redeliveryPending: Math.max(0, this.recordsTotal - this.pendingTotal),
      readAhead: this.loop.windowEntries + this.redeliveryHeld,
      delayedPending,
      ...this.counters
    }
  }

  /** Close every consumer (sink.closed(reason)) and stop. Cursors stay unless the caller deletes them. */
  close (reason: FerryError): void {
    if (this.closed) return
    this.closed = true
    this.offlineBacklog.stop()
    this.clock.stop()
    this.loop.stop()
    for (const c of this.consumers.takeAll()) {
      c.closed = true
      queueMicrotask(() => {
        try { c.sink.closed?.(reason) } catch (err) { this.ctx.logger.warn({ err }, 'sink.closed threw') }
      })
    }
    for (const s of this.streams.values()) s.rewind()
  }
}

function checkIds (ids: readonly EntryId[]): void {
  for (const id of ids) {
    if (!Number.isSafeInteger(id) || id < 0) throw new FerryError(CommonCode.BAD_REQUEST, `invalid message id ${String(id)}`)
  }
}
