/**
 * The dispatcher of one site: publish (quota check, append), subscriptions
 * (create, persist, materialise cursors on matching topics, attach
 * consumers), subscription-level acks, cancel, stats, close.
 *
 * Subscriptions are keyed by (namespace, name). Durable ones are persisted in
 * ledger meta space `subscription` together with `ledger.lastLsn()` at
 * creation; a topic that appears later (while running, or while the gateway
 * was down) gets its cursor with `{ kind: 'afterLsn', lsn: createdLsn }`, so
 * it sees exactly the entries appended after the subscription existed.
 * The indexes of subscriptions are subscription-registry.ts; the walks that
 * give a restored or new subscription its cursors on existing topics are
 * subscription-attach.ts; publish's steps are publish-path.ts.
 */
import { TopicSubscriptions } from './spanned-topics.js'
import { CommonCode, FerryError } from '../../common/errors.js'
import type { Logger } from '../../common/log.js'
import type { Cursor, EntryId, Ledger, LedgerEntry, MessageProps, TopicName } from '../../store/index.js'
import { namespaceOfTopic, type NamespacePolicy, type PolicyRegistry } from '../policy/index.js'
import { BacklogGuard } from './backlog.js'
import { PublishPacer } from './publish-pacer.js'
import { PublishPath } from './publish-path.js'
import {
  BACKLOG_HOLD_MS_MAX, PENDING_ACK_ENTRIES_MAX, SUBSCRIPTION_META_SPACE
} from './constants.js'
import type { DispatchContext } from './context.js'
import { deadLetterProducerOf, deadLetterProps, deadLetterSuffixOf, deadLetterTopicOf, resultTopicOf, type ResultEvent, type ResultOutcome } from './dead-letter.js'
import { DispatchCode, dispatchError } from './errors.js'
import { parseFilter, parseTopicName } from './filter.js'
import type { TopicStream } from './stream.js'
import { Subscription, type SubscriptionDef } from './subscription.js'
import { checkSubscribeOptions, defToMeta, parseDef } from './subscription-defs.js'
import { attachExisting, attachRestored } from './subscription-attach.js'
import { SubscriptionRegistry, subscriptionKey } from './subscription-registry.js'
import { replicatedSubscriptions, type ReplicatedSubscriptions } from './replicated.js'
import {
  type AckResult, type Consumer, type Dispatcher, type DispatcherStats, type NamespaceName, type PublishRequest,
  type PublishObserver, type PublishResult, type PublishSink, type SubscribeOptions
} from './types.js'

export interface DispatcherDeps {
  ledger: Ledger
  policies: PolicyRegistry
  siteId: string
  logger: Logger
  /** producer_hold: longest a publish waits, ms (default BACKLOG_HOLD_MS_MAX; tests shorten it). */
  backlogHoldMsMax?: number
  /** Records per subscription, delivered plus waiting for redelivery (default PENDING_ACK_ENTRIES_MAX; tests lower it). */
  pendingAckEntriesMax?: number
}

/** The dispatcher, and the replicated-subscription surface the replicator uses (gateway/server.ts hands it over). */
export function createDispatcher (deps: DispatcherDeps): Dispatcher & { readonly replicated: ReplicatedSubscriptions } {
  return new DispatcherImpl(deps)
}

class DispatcherImpl implements Dispatcher, DispatchContext {
  readonly ledger: Ledger
  readonly logger: Logger
  readonly recordsMax: number
  private readonly policies: PolicyRegistry
  /** Every subscription, by identity, namespace, name and cursor name (subscription-registry.ts). */
  private readonly subs = new SubscriptionRegistry()
  /**
   * The subscriptions with a cursor on each topic: one inline (most topics have one, and a million topics
   * behind one wildcard subscription must not cost an array each), an array from the second on; the
   * subscriptions' own view of their topics once large (spanned-topics.ts).
   */
  readonly topicIndex = new TopicSubscriptions<Subscription>()
  private readonly creating = new Map<string, Promise<Subscription>>()
  private readonly background = new Set<Promise<unknown>>()
  private readonly backlog: BacklogGuard
  /** fanin (issue 11): memory-durability publishers wait for the slowest attached subscription (publish-pacer.ts). */
  private readonly pacer = new PublishPacer((topic) => this.pacedOf(topic))
  private readonly unlisten: Array<() => void> = []
  private readonly ready: Promise<void>
  private readonly publishing: PublishPath
  private nextConsumerId = 1
  private closed = false
  readonly replicated: ReplicatedSubscriptions = replicatedSubscriptions({
    all: () => this.subs.values(),
    find: (ns, filter, name) => this.subs.get(ns, filter, name),
    create: async (def) => { await this.ready; this.checkOpen(); await this.ensureSubscription({ ...def, durable: true, replicated: true, initialPosition: 'earliest' }) }
  })

  constructor (deps: DispatcherDeps) {
    this.ledger = deps.ledger
    this.policies = deps.policies
    this.logger = deps.logger
    this.recordsMax = deps.pendingAckEntriesMax ?? PENDING_ACK_ENTRIES_MAX
    this.backlog = new BacklogGuard(this.ledger, deps.backlogHoldMsMax ?? BACKLOG_HOLD_MS_MAX, (topic) => this.policies.forTopic(topic), (topic, cursor, entries, upTo) => { this.onEvicted(topic, cursor, entries, upTo) })
    this.unlisten.push(this.ledger.onAppend((topic) => { this.onAppend(topic) }))
    this.unlisten.push(this.ledger.onTopicCreated((topic) => { this.onTopicCreated(topic) }))
    this.unlisten.push(this.policies.onChange((ns, policy) => { this.onPolicy(ns, policy) }))
    // A failed restore is logged, not fatal: topics still attach as they are used and appear.
    this.ready = this.restore().catch((err: unknown) => { this.logger.error({ err }, 'restoring durable subscriptions failed') })
    this.publishing = new PublishPath({ ledger: this.ledger, policies: this.policies, backlog: this.backlog, pacer: this.pacer, ready: this.ready, checkOpen: () => { this.checkOpen() } })
  }

  // ---- DispatchContext --------------------------------------------------------------------

  track (work: Promise<unknown>, what: string): void {
    const p = work.catch((err: unknown) => { this.logger.warn({ err }, `${what} failed`) })
    this.background.add(p)
    void p.finally(() => { this.background.delete(p) })
  }

  emitResult (topic: TopicName, entryId: EntryId, props: MessageProps, subscription: string, outcome: ResultOutcome): void {
    if (props.resultTopic === undefined || this.closed) return
    const target = resultTopicOf(topic, props.resultTopic)
    if (target === undefined) {
      this.logger.warn({ topic, resultTopic: props.resultTopic }, 'unusable result topic; event dropped')
      return
    }
    const event: ResultEvent = { messageId: entryId, topic, subscription, outcome, at: Date.now() }
    this.track(this.ledger.append({ topic: target, payload: Buffer.from(JSON.stringify(event)), props: { contentType: 'application/json', payloadFormat: 1 } }), 'result event')
  }

  async deadLetter (topic: TopicName, subscription: string, entry: LedgerEntry, reason: string): Promise<void> {
    // The producer id names the source entry: an append repeated after a crash or a late failure is stored once.
    const props = { ...deadLetterProps(entry.props, reason), producerId: deadLetterProducerOf(topic, subscription, entry.entryId), producerSeq: 0 }
    await this.ledger.append({ topic: deadLetterTopicOf(topic, subscription), payload: entry.payload, props })
  }

  backlogChanged (topic: TopicName): void { this.backlog.changed(topic); this.pacer.changed(topic) }

  /**
   * The pacer's view of a topic (topics: streams are made lazily): the live streams of its subscriptions. A
   * subscription with consumers has one wherever it has a backlog (appends make it; sweeps drop only drained ones).
   */
  private pacedOf (topic: TopicName): Array<{ stream: TopicStream, sub: Subscription }> | undefined {
    const have = this.topicIndex.get(topic)
    if (have === undefined) return undefined
    const out: Array<{ stream: TopicStream, sub: Subscription }> = []
    for (const sub of Array.isArray(have) ? have : [have]) {
      const stream = sub.streams.get(topic)
      if (stream !== undefined) out.push({ stream, sub })
    }
    return out
  }

  /** The subscriptions with a cursor on topic. */
  private subsOf (topic: TopicName): readonly Subscription[] {
    const have = this.topicIndex.get(topic)
    return have === undefined ? [] : Array.isArray(have) ? have : [have]
  }

  async dropSubscription (sub: Subscription): Promise<void> {
    if (this.subs.get(sub.namespace, sub.filter, sub.name) !== sub || sub.consumers.size > 0) return
    const spanned = this.forget(sub)
    sub.close(new FerryError(CommonCode.CLOSED, 'subscription closed'))
    await Promise.all(spanned.map(async (topic) => { await this.ledger.deleteCursor(topic, sub.cursorName) }))
  }

  /** Take sub out of every index; the topics it spanned (their cursors are the caller's to delete). */
  private forget (sub: Subscription): TopicName[] {
    sub.deleted = true
    this.subs.remove(sub)
    return sub.spanned.clear()
  }

  // ---- ledger and policy events ------------------------------------------------------------

  private onAppend (topic: TopicName): void {
    const have = this.topicIndex.get(topic)
    if (have === undefined) return
    if (Array.isArray(have)) for (const sub of have) sub.appended(topic)
    else have.appended(topic)
  }

  private onTopicCreated (topic: TopicName): void {
    const ns = namespaceOfTopic(topic)
    const subs = ns === undefined ? undefined : this.subs.inNamespace(ns)
    if (ns === undefined || subs === undefined) return
    const local = topic.slice(ns.length + 1)
    for (const sub of subs) {
      if (!sub.matches(local)) continue
      this.track(sub.attach(topic, () => ({ kind: 'afterLsn', lsn: sub.createdLsn })), 'attach new topic')
    }
  }

  private onPolicy (ns: string, policy: Readonly<NamespacePolicy>): void {
    for (const sub of this.subs.inNamespace(ns) ?? []) sub.setPolicy(policy)
    this.backlog.wakeAll()
  }

  private onEvicted (topic: TopicName, cursor: Cursor, entries: number, upTo: number): void {
    const ns = namespaceOfTopic(topic)
    const sub = ns === undefined ? undefined : this.subs.byCursorName(ns, cursor.subscription)
    sub?.evicted(topic, entries, upTo)
  }

  // ---- start-up ------------------------------------------------------------------------------

  /** Re-create durable subscriptions and give every matching topic its cursor. */
  private async restore (): Promise<void> {
    for (const [key, value] of this.ledger.metaEntries(SUBSCRIPTION_META_SPACE)) {
      const def = parseDef(value)
      if (def === undefined) { this.logger.warn({ key }, 'unreadable subscription definition ignored'); continue }
      this.subs.add(this.newSubscription(def))
    }
    await attachRestored(this.ledger, this.subs)
  }

  private newSubscription (def: SubscriptionDef): Subscription {
    const levels = parseFilter(def.filter)
    return new Subscription(this, def, this.policies.forTopic(`${def.namespace}/x`), levels, deadLetterSuffixOf(def.name))
  }

  private checkOpen (): void {
    if (this.closed) throw new FerryError(CommonCode.CLOSED, 'dispatcher is closed')
  }

  // ---- Dispatcher ---------------------------------------------------------------------------

  observePublishes (observer: PublishObserver): void { this.publishing.observer = observer }

  /** Publish: the steps are publish-path.ts's. */
  publish (req: PublishRequest): Promise<PublishResult> { return this.publishing.publish(req) }

  publishTo (req: PublishRequest, sink: PublishSink): void { this.publishing.publishTo(req, sink) }

  async subscribe (opts: SubscribeOptions): Promise<Consumer> {
    await this.ready
    this.checkOpen()
    checkSubscribeOptions(opts)
    const policy = this.policies.get(opts.namespace) // E_NOT_FOUND for an unknown namespace
    // Replicated when asked, or for every durable subscription of a namespace whose policy says so.
    const replicated = opts.replicated === true || (opts.durable && policy.replicatedSubscriptions)
    const sub = await this.ensureSubscription({ namespace: opts.namespace, filter: opts.filter, name: opts.subscription, mode: opts.mode, durable: opts.durable, initialPosition: opts.initialPosition, replicated })
    const key = subscriptionKey(opts.namespace, opts.filter, opts.subscription)
    this.checkOpen()
    if (sub.durable !== opts.durable) {
      throw dispatchError(DispatchCode.SUBSCRIPTION_CONFLICT,
        `subscription '${opts.subscription}' on '${opts.filter}' exists in ${opts.namespace} as ${sub.durable ? 'durable' : 'non-durable'}`,
        { subscription: opts.subscription })
    }
    if (sub.mode !== opts.mode) {
      sub.changeMode(opts.mode) // E_SUBSCRIPTION_BUSY while consumers are attached
      if (sub.durable) await this.ledger.putMeta(SUBSCRIPTION_META_SPACE, key, defToMeta(sub.def))
    }
    return sub.addConsumer(this.nextConsumerId++, opts)
  }

  /** Get or create the subscription; `replicated` true turns an existing durable one replicated (persisted). */
  private async ensureSubscription (o: Omit<SubscriptionDef, 'createdLsn'>): Promise<Subscription> {
    const levels = parseFilter(o.filter)
    const key = subscriptionKey(o.namespace, o.filter, o.name)
    let sub = this.subs.get(o.namespace, o.filter, o.name)
    if (sub === undefined) {
      let creating = this.creating.get(key)
      if (creating === undefined) {
        creating = this.createSubscription(o, levels)
        this.creating.set(key, creating)
        void creating.finally(() => { this.creating.delete(key) }).catch(() => {})
      }
      sub = await creating
    }
    if (o.replicated === true && !sub.replicated && sub.durable) {
      sub.replicated = true
      await this.ledger.putMeta(SUBSCRIPTION_META_SPACE, key, defToMeta(sub.def))
    }
    return sub
  }

  private async createSubscription (o: Omit<SubscriptionDef, 'createdLsn'>, levels: string[]): Promise<Subscription> {
    const def: SubscriptionDef = {
      namespace: o.namespace,
      filter: o.filter,
      name: o.name,
      mode: o.mode,
      durable: o.durable,
      initialPosition: o.initialPosition,
      createdLsn: this.ledger.lastLsn(),
      ...(o.replicated === true && o.durable ? { replicated: true } : {})
    }
    const sub = new Subscription(this, def, this.policies.get(o.namespace), levels, deadLetterSuffixOf(def.name))
    if (def.durable) await this.ledger.putMeta(SUBSCRIPTION_META_SPACE, subscriptionKey(def.namespace, def.filter, def.name), defToMeta(def))
    this.subs.add(sub)
    await attachExisting(this.ledger, sub)
    return sub
  }

  async unsubscribe (namespace: NamespaceName, filter: string, subscription: string): Promise<void> {
    await this.ready
    this.checkOpen()
    const sub = this.subs.get(namespace, filter, subscription)
    if (sub === undefined) {
      throw new FerryError(CommonCode.NOT_FOUND, `no subscription '${subscription}' on '${filter}' in ${namespace}`)
    }
    const spanned = this.forget(sub)
    sub.close(dispatchError(DispatchCode.SUBSCRIPTION_DELETED, `subscription '${subscription}' was deleted`))
    await Promise.all(spanned.map(async (topic) => { await this.ledger.deleteCursor(topic, sub.cursorName) }))
    if (sub.durable) await this.ledger.putMeta(SUBSCRIPTION_META_SPACE, subscriptionKey(namespace, filter, subscription), undefined)
  }

  async ack (topic: TopicName, subscription: string, entryIds: readonly EntryId[]): Promise<AckResult> {
    await this.ready
    this.checkOpen()
    return await this.subs.forAck(topic, subscription).ack(topic, entryIds)
  }

  async ackUpTo (topic: TopicName, subscription: string, upTo: EntryId): Promise<void> {
    await this.ready
    this.checkOpen()
    await this.subs.forAck(topic, subscription).ackUpTo(topic, upTo)
  }

  async rewindTo (topic: TopicName, subscription: string, markDelete: EntryId): Promise<EntryId> {
    await this.ready
    this.checkOpen()
    return await this.subs.forAck(topic, subscription).rewindTo(topic, markDelete)
  }

  async nack (topic: TopicName, subscription: string, entryIds: readonly EntryId[], reason?: string): Promise<void> {
    await this.ready
    this.checkOpen()
    this.subs.forAck(topic, subscription).nack(topic, entryIds, reason)
  }

  async cancelScheduled (topic: TopicName, entryId: EntryId): Promise<boolean> {
    await this.ready
    this.checkOpen()
    parseTopicName(topic)
    if (!Number.isSafeInteger(entryId) || entryId < 0) throw new FerryError(CommonCode.BAD_REQUEST, `invalid message id ${String(entryId)}`)
    // Its props (priority level) tell the subscriptions whether they already counted it as pending.
    const entry = this.ledger.topicInfo(topic) === undefined ? undefined : await this.ledger.readOne(topic, entryId).catch(() => undefined)
    if (!await this.ledger.cancel(topic, entryId)) return false
    for (const sub of this.subsOf(topic)) sub.cancelled(topic, entryId, entry?.props)
    // Acknowledge it everywhere so it holds back neither backlog nor retention.
    await Promise.all(this.ledger.cursors(topic).map(async (c) => { await c.ack([entryId]) }))
    this.backlog.changed(topic)
    return true
  }

  stats (): DispatcherStats {
    return {
      subscriptions: [...this.subs.values()].map((s) => s.snapshot()),
      published: this.publishing.published,
      backlogRejected: this.backlog.counters.rejected,
      backlogHeld: this.backlog.counters.held
    }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const u of this.unlisten) u()
    await this.ready.catch(() => {})
    const reason = new FerryError(CommonCode.CLOSED, 'gateway is closing')
    for (const sub of this.subs.values()) sub.close(reason)
    this.backlog.close()
    this.pacer.close()
    while (this.background.size > 0) await Promise.allSettled([...this.background])
  }
}
