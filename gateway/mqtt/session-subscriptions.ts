/**
 * The subscriptions of one session: each is a dispatcher subscription, and a
 * dispatcher consumer while a connection is attached. A subscription keeps
 * the durability it was created with (durable when the session was
 * persistent then): a later CONNECT without Session Expiry only means the
 * session ends with that connection, not that its queued messages go
 * [MQTT-3.1.2-23].
 */
import { CommonCode, isFerryError, type FerryError } from '../../common/errors.js'
import type { Consumer, Delivery, Dispatcher, SubscriptionMode } from '../dispatch/index.js'
import type { Logger } from '../../common/log.js'
import { localTopicName, subscriptionNameOf, topicMatches, type ParsedFilter } from './topics.js'

/** Shared, never written: what a session without subscriptions iterates. */
const NO_SUBSCRIPTIONS: ReadonlyMap<string, SubscriptionState> = new Map()

export interface SubscriptionState {
  parsed: ParsedFilter
  /** Dispatcher subscription name. */
  name: string
  qos: 0 | 1 | 2
  noLocal: boolean
  retainAsPublished: boolean
  retainHandling: 0 | 1 | 2
  subscriptionId: number | undefined
  /** Durability of the dispatcher subscription, fixed when it was created. */
  durable: boolean
  /** Geo-replicated (SUBSCRIBE user property ferry-replicated); only ever turned on. */
  replicated: boolean
  /** Consumer of the current connection (undefined while detached). */
  consumer: Promise<Consumer> | undefined
  /**
   * The settled value of a `consumer` promise (`of` says which): acks and permits of every delivered message go
   * to it directly instead of through two promise reactions each.
   */
  resolved: { of: Promise<Consumer>, consumer: Consumer } | undefined
  /** Permits withheld while the socket was backed up. */
  owedPermits: number
}

/** Persisted form of a subscription (ledger meta). Restored subscriptions are durable. */
export interface StoredSubscription {
  raw: string
  qos: 0 | 1 | 2
  nl: boolean
  rap: boolean
  rh: 0 | 1 | 2
  subId: number | null
  /** Geo-replicated subscription (absent: not). */
  rep?: boolean
}

export type SubscriptionOptions = Omit<StoredSubscription, 'raw'>

/** Called for each delivery of a consumer; `consumer` tells a stale consumer from the current one. */
export type DeliveryHandler = (sub: SubscriptionState, consumer: Promise<Consumer> | undefined, d: Delivery) => void

export class SessionSubscriptions {
  // Made on first use: most connections (idle ones above all) never need it, and an empty Map is ~170 B.
  private lazy_byRaw: Map<string, SubscriptionState> | undefined
  get byRaw (): Map<string, SubscriptionState> { return (this.lazy_byRaw ??= new Map<string, SubscriptionState>()) }
  constructor (
    private readonly dispatcher: Dispatcher,
    private readonly logger: Logger,
    private readonly clientId: string,
    private readonly namespace: string,
    private readonly onDelivery: DeliveryHandler
  ) {}

  get size (): number { return this.lazy_byRaw?.size ?? 0 }
  get (raw: string): SubscriptionState | undefined { return this.lazy_byRaw?.get(raw) }
  has (raw: string): boolean { return this.lazy_byRaw?.has(raw) ?? false }
  values (): IterableIterator<SubscriptionState> { return (this.lazy_byRaw ?? NO_SUBSCRIPTIONS).values() }

  stored (): StoredSubscription[] {
    return [...this.values()].map((s) => ({
      raw: s.parsed.raw, qos: s.qos, nl: s.noLocal, rap: s.retainAsPublished, rh: s.retainHandling, subId: s.subscriptionId ?? null, ...(s.replicated ? { rep: true } : {})
    }))
  }

  anyDurable (): boolean {
    for (const s of this.values()) if (s.durable) return true
    return false
  }

  /**
   * The session's own (non-shared) subscriptions matching a full topic name,
   * No Local ones excepted (those are filtered per subscription): the ones a
   * single delivered copy stands for [MQTT-3.3.4-2].
   */
  overlapping (topic: string): SubscriptionState[] {
    const local = localTopicName(this.namespace, topic)
    if (local === undefined) return []
    const out: SubscriptionState[] = []
    for (const s of this.values()) {
      if (s.parsed.group === undefined && !s.noLocal && topicMatches(s.parsed.filter, local)) out.push(s)
    }
    return out
  }

  /**
   * Add or replace a subscription [MQTT-3.8.4-3]; attaches a consumer when a
   * connection is (permits > 0). Returns true if it is new.
   */
  async subscribe (parsed: ParsedFilter, opts: SubscriptionOptions, durable: boolean, permits: number | undefined): Promise<boolean> {
    const existing = this.get(parsed.raw)
    if (existing !== undefined) {
      existing.qos = opts.qos
      existing.noLocal = opts.nl
      existing.retainAsPublished = opts.rap
      existing.retainHandling = opts.rh
      existing.subscriptionId = opts.subId ?? undefined
      if (opts.rep === true) existing.replicated = true // the dispatcher subscription turns replicated at its next attach
      return false
    }
    const sub = this.make(parsed, opts, durable)
    if (permits !== undefined) await this.attach(sub, permits) // surface subscribe errors to the SUBACK
    this.byRaw.set(parsed.raw, sub)
    return true
  }

  /** Restore a subscription from the persisted session (no consumer until a connection attaches). */
  restore (parsed: ParsedFilter, s: StoredSubscription): void {
    this.byRaw.set(parsed.raw, this.make(parsed, s, true))
  }

  private make (parsed: ParsedFilter, opts: SubscriptionOptions, durable: boolean): SubscriptionState {
    return {
      parsed,
      name: subscriptionNameOf(this.clientId, parsed),
      qos: opts.qos,
      noLocal: opts.nl,
      retainAsPublished: opts.rap,
      retainHandling: opts.rh,
      subscriptionId: opts.subId ?? undefined,
      durable,
      replicated: opts.rep === true,
      consumer: undefined,
      resolved: undefined,
      owedPermits: 0
    }
  }

  /** Remove a subscription; the session's own subscription is deleted in the dispatcher, a group one only left. */
  async unsubscribe (raw: string): Promise<boolean> {
    const sub = this.get(raw)
    if (sub === undefined) return false
    this.byRaw.delete(raw)
    await this.detach(sub)
    if (sub.parsed.group === undefined) {
      try {
        await this.dispatcher.unsubscribe(this.namespace, sub.parsed.filter, sub.name)
      } catch (err) {
        // A non-durable subscription may already be gone with its last consumer: that is the goal anyway.
        if (!isFerryError(err, CommonCode.NOT_FOUND)) throw err
      }
    }
    return true
  }

  /** Attach a dispatcher consumer with `permits` credits. */
  attach (sub: SubscriptionState, permits: number): Promise<Consumer> {
    // `p` is unset if the dispatcher delivered before subscribe() returned: look again a microtask later.
    let p: Promise<Consumer> | undefined
    const deliver = (d: Delivery): void => {
      if (p === undefined) queueMicrotask(() => { this.onDelivery(sub, p, d) })
      else this.onDelivery(sub, p, d)
    }
    const started = this.dispatcher.subscribe({
      namespace: this.namespace,
      filter: sub.parsed.filter,
      subscription: sub.name,
      mode: sub.parsed.mode as SubscriptionMode,
      durable: sub.durable,
      ...(sub.replicated ? { replicated: true } : {}),
      initialPosition: 'latest',
      consumerName: this.clientId,
      permits,
      sink: {
        deliver,
        closed: (reason: FerryError) => {
          if (sub.consumer === started) sub.consumer = undefined
          this.logger.debug({ clientId: this.clientId, subscription: sub.name, code: reason.code }, 'consumer closed by dispatcher')
        }
      }
    })
    p = started
    sub.consumer = started
    started.then((c) => { if (sub.consumer === started) sub.resolved = { of: started, consumer: c } }, () => { if (sub.consumer === started) sub.consumer = undefined })
    return started
  }

  /** Close the subscription's consumer: its unacknowledged messages go back to the subscription. */
  async detach (sub: SubscriptionState): Promise<void> {
    const c = sub.consumer
    sub.consumer = undefined
    sub.resolved = undefined
    sub.owedPermits = 0
    if (c === undefined) return
    try { await (await c).close() } catch { /* already closed or never opened */ }
  }
}
