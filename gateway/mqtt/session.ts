/**
 * One MQTT session: its subscriptions (each one a dispatcher consumer while a
 * connection is attached), the outbound in-flight window, and inbound QoS 2
 * packet ids awaiting PUBREL. A session outlives its connection when it is
 * persistent; its subscriptions' queued messages are the dispatcher's durable
 * cursors, so nothing is copied per session.
 *
 * Flow control, outbound: each consumer starts with the client's Receive
 * Maximum (v5) or inflightMessagesMax3 (3.1.1) permits and gets one back per
 * acknowledged (or QoS 0: written) message; the session also caps its total
 * in flight at that window [MQTT-4.9.0-2] and parks the rest (bounded by the
 * permits it handed out). While the socket is backed up, permits are owed
 * rather than returned, so a slow subscriber pauses its own delivery.
 */
import type { Consumer, Delivery, SubscriptionMode } from '../dispatch/types.js'
import { CommonCode, isFerryError, type FerryError } from '../../common/errors.js'
import type { EntryId, MessageProps, TopicName, UserProperty } from '../../store/index.js'
import { FerryProp } from '../message-props.js'
import { PACKET_ID_MAX, SESSION_PENDING_DELIVERIES_MAX } from './constants.js'
import type { OutboundPublish } from './codec.js'
import { localTopicName, subscriptionNameOf, type ParsedFilter } from './topics.js'
import type { FrontEndCore } from './core.js'

/** What the session needs from its live connection. */
export interface SessionLink {
  readonly protocolVersion: 3 | 4 | 5
  /** Outbound window: the client's Receive Maximum or inflightMessagesMax3. */
  readonly outboundWindow: number
  /** Write a PUBLISH; false when it exceeds the client's Maximum Packet Size and was not sent [MQTT-3.1.2-24]. */
  sendPublish (m: OutboundPublish): boolean
  sendPubrel (packetId: number): void
  /** True while the socket holds more than it should: withhold permits. */
  backedUp (): boolean
}

export interface SubscriptionState {
  parsed: ParsedFilter
  /** Dispatcher subscription name. */
  name: string
  qos: 0 | 1 | 2
  noLocal: boolean
  retainAsPublished: boolean
  retainHandling: 0 | 1 | 2
  subscriptionId: number | undefined
  /** Consumer of the current connection (undefined while detached). */
  consumer: Promise<Consumer> | undefined
  /** Permits withheld while the socket was backed up. */
  owedPermits: number
}

/** Persisted form of a subscription (ledger meta). */
export interface StoredSubscription {
  raw: string
  qos: 0 | 1 | 2
  nl: boolean
  rap: boolean
  rh: 0 | 1 | 2
  subId: number | null
}

interface Inflight {
  qos: 1 | 2
  /** awaitAck: PUBLISH sent; awaitComp: PUBREC received, PUBREL sent. */
  state: 'awaitAck' | 'awaitComp'
  consumer: Promise<Consumer> | undefined
  sub: SubscriptionState | undefined
  topic: TopicName
  entryId: EntryId
}

/** A message waiting for room in the window: a dispatcher delivery or a retained message. */
interface Pending {
  sub: SubscriptionState
  consumer: Promise<Consumer> | undefined
  delivery: Delivery
  retained: boolean
}

export class Session {
  readonly subs = new Map<string, SubscriptionState>()
  /** Packet ids of inbound QoS 2 publishes stored but not yet released by PUBREL. */
  readonly inboundQos2 = new Set<number>()
  link: SessionLink | undefined
  /** Session Expiry Interval in seconds; 0 = ends with the connection. */
  expirySec: number
  private readonly inflight = new Map<number, Inflight>()
  private pending: Pending[] = []
  private nextPacketId = 1
  /** Serialises subscribe / unsubscribe / attach / detach so consumers never race. */
  private chain: Promise<void> = Promise.resolve()
  /** Publishes of this session waiting for the store, per topic (no-local needs the entry id). */
  private readonly ownPending = new Map<TopicName, number>()
  /** Entry ids this session published recently, per topic: no-local filter. */
  private readonly ownRecent = new Map<TopicName, Set<EntryId>>()
  private readonly noLocalWait: Array<{ sub: SubscriptionState, consumer: Promise<Consumer> | undefined, d: Delivery }> = []

  constructor (
    private readonly core: FrontEndCore,
    readonly clientId: string,
    readonly namespace: string,
    expirySec: number
  ) {
    this.expirySec = expirySec
  }

  get persistent (): boolean { return this.expirySec > 0 }

  /** Run `fn` after every earlier serialised operation of this session. */
  serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn)
    this.chain = run.then(() => undefined, () => undefined)
    return run
  }

  inflightCount (): number { return this.inflight.size }

  stored (): StoredSubscription[] {
    return [...this.subs.values()].map((s) => ({
      raw: s.parsed.raw, qos: s.qos, nl: s.noLocal, rap: s.retainAsPublished, rh: s.retainHandling, subId: s.subscriptionId ?? null
    }))
  }

  // ---------------------------------------------------------------------------
  // Subscriptions

  /** Add or replace a subscription [MQTT-3.8.4-3]; attaches a consumer when connected. Returns true if it is new. */
  async subscribe (parsed: ParsedFilter, opts: Omit<StoredSubscription, 'raw'>): Promise<boolean> {
    const existing = this.subs.get(parsed.raw)
    if (existing !== undefined) {
      existing.qos = opts.qos
      existing.noLocal = opts.nl
      existing.retainAsPublished = opts.rap
      existing.retainHandling = opts.rh
      existing.subscriptionId = opts.subId ?? undefined
      return false
    }
    const sub: SubscriptionState = {
      parsed,
      name: subscriptionNameOf(this.clientId, parsed),
      qos: opts.qos,
      noLocal: opts.nl,
      retainAsPublished: opts.rap,
      retainHandling: opts.rh,
      subscriptionId: opts.subId ?? undefined,
      consumer: undefined,
      owedPermits: 0
    }
    if (this.link !== undefined) {
      const c = this.attachConsumer(sub, this.link.outboundWindow)
      await c // surface subscribe errors to the SUBACK
    }
    this.subs.set(parsed.raw, sub)
    return true
  }

  /** Restore a subscription from the persisted session (no consumer until a connection attaches). */
  restore (parsed: ParsedFilter, s: StoredSubscription): void {
    this.subs.set(parsed.raw, {
      parsed,
      name: subscriptionNameOf(this.clientId, parsed),
      qos: s.qos,
      noLocal: s.nl,
      retainAsPublished: s.rap,
      retainHandling: s.rh,
      subscriptionId: s.subId ?? undefined,
      consumer: undefined,
      owedPermits: 0
    })
  }

  /** Remove a subscription; the session's own subscription is deleted in the dispatcher, a group one only left. */
  async unsubscribe (raw: string): Promise<boolean> {
    const sub = this.subs.get(raw)
    if (sub === undefined) return false
    this.subs.delete(raw)
    await this.closeConsumer(sub)
    if (sub.parsed.group === undefined) {
      try {
        await this.core.deps.dispatcher.unsubscribe(this.namespace, sub.parsed.filter, sub.name)
      } catch (err) {
        // A non-durable subscription may already be gone with its last consumer: that is the goal anyway.
        if (!isFerryError(err, CommonCode.NOT_FOUND)) throw err
      }
    }
    return true
  }

  private attachConsumer (sub: SubscriptionState, permits: number): Promise<Consumer> {
    // `p` is unset if the dispatcher delivered before subscribe() returned: look again a microtask later.
    let p: Promise<Consumer> | undefined
    const deliver = (d: Delivery): void => {
      if (p === undefined) queueMicrotask(() => { this.onDelivery(sub, p, d) })
      else this.onDelivery(sub, p, d)
    }
    const started = this.core.deps.dispatcher.subscribe({
      namespace: this.namespace,
      filter: sub.parsed.filter,
      subscription: sub.name,
      mode: sub.parsed.mode as SubscriptionMode,
      durable: this.persistent,
      initialPosition: 'latest',
      consumerName: this.clientId,
      permits,
      sink: {
        deliver,
        closed: (reason: FerryError) => {
          if (sub.consumer === started) sub.consumer = undefined
          this.core.logger.debug({ clientId: this.clientId, subscription: sub.name, code: reason.code }, 'consumer closed by dispatcher')
        }
      }
    })
    p = started
    sub.consumer = started
    started.catch(() => { if (sub.consumer === started) sub.consumer = undefined })
    return started
  }

  private async closeConsumer (sub: SubscriptionState): Promise<void> {
    const c = sub.consumer
    sub.consumer = undefined
    sub.owedPermits = 0
    if (c === undefined) return
    try { await (await c).close() } catch { /* already closed or never opened */ }
  }

  // ---------------------------------------------------------------------------
  // Connection attach / detach

  /** A connection took this session: attach consumers, resend PUBREL for messages awaiting PUBCOMP [MQTT-4.4.0-1]. */
  async attach (link: SessionLink): Promise<void> {
    this.link = link
    for (const [id, f] of this.inflight) {
      if (f.state === 'awaitComp') link.sendPubrel(id)
    }
    await Promise.all([...this.subs.values()].map(async (sub) => {
      try { await this.attachConsumer(sub, link.outboundWindow) } catch (err) {
        this.core.logger.warn({ err, clientId: this.clientId, filter: sub.parsed.raw }, 're-attaching a subscription failed')
      }
    }))
  }

  /**
   * The connection went away: close consumers (their unacknowledged messages
   * go back to the subscriptions and come again, with a higher redelivery
   * count) and forget what was only in flight on that connection.
   */
  async detach (): Promise<void> {
    this.link = undefined
    for (const [id, f] of this.inflight) {
      if (f.state === 'awaitAck') this.inflight.delete(id)
    }
    this.pending = []
    this.noLocalWait.length = 0
    await Promise.all([...this.subs.values()].map(async (sub) => { await this.closeConsumer(sub) }))
  }

  /** End of the session: delete its own subscriptions everywhere. */
  async destroy (): Promise<void> {
    await this.detach()
    for (const raw of [...this.subs.keys()]) {
      try { await this.unsubscribe(raw) } catch (err) {
        this.core.logger.warn({ err, clientId: this.clientId, filter: raw }, 'deleting a subscription of an ended session failed')
      }
    }
    this.inflight.clear()
    this.inboundQos2.clear()
  }

  // ---------------------------------------------------------------------------
  // No local bookkeeping

  ownPublishStarted (topic: TopicName): void {
    this.ownPending.set(topic, (this.ownPending.get(topic) ?? 0) + 1)
  }

  ownPublishSettled (topic: TopicName, entryId: EntryId | undefined): void {
    const n = (this.ownPending.get(topic) ?? 1) - 1
    if (n <= 0) this.ownPending.delete(topic); else this.ownPending.set(topic, n)
    if (entryId !== undefined && this.hasNoLocal()) {
      let set = this.ownRecent.get(topic)
      if (set === undefined) { set = new Set(); this.ownRecent.set(topic, set) }
      set.add(entryId)
      // Bounded: only entries that might still be in flight to this session matter.
      if (set.size > SESSION_PENDING_DELIVERIES_MAX) set.delete(set.values().next().value as EntryId)
    }
    if (this.noLocalWait.length > 0 && n <= 0) {
      const waiting = this.noLocalWait.splice(0)
      for (const w of waiting) this.onDelivery(w.sub, w.consumer, w.d)
    }
  }

  private hasNoLocal (): boolean {
    for (const s of this.subs.values()) if (s.noLocal) return true
    return false
  }

  // ---------------------------------------------------------------------------
  // Outbound delivery

  private onDelivery (sub: SubscriptionState, consumer: Promise<Consumer> | undefined, d: Delivery): void {
    if (this.link === undefined || sub.consumer !== consumer) return // stale consumer: it returns its messages on close
    if (sub.noLocal) {
      // [MQTT-3.8.3-3]: never send a client its own publications on a No Local subscription.
      if ((this.ownPending.get(d.topic) ?? 0) > 0) { this.noLocalWait.push({ sub, consumer, d }); return }
      if (this.ownRecent.get(d.topic)?.has(d.entryId) === true) { this.settle(sub, consumer, d, 'ack'); return }
    }
    this.enqueue({ sub, consumer, delivery: d, retained: false })
  }

  /** Send retained messages for a new subscription (not through the dispatcher: nothing to ack). */
  sendRetained (sub: SubscriptionState, d: Delivery): void {
    this.enqueue({ sub, consumer: undefined, delivery: d, retained: true })
  }

  private enqueue (p: Pending): void {
    const link = this.link
    if (link === undefined) return
    const qos = this.qosOf(p)
    if (qos > 0 && (this.inflight.size >= link.outboundWindow || this.pending.length > 0)) {
      if (this.pending.length >= SESSION_PENDING_DELIVERIES_MAX) {
        // Cannot happen while permits bound the dispatcher; if it does, hand the message back rather than grow.
        this.settle(p.sub, p.consumer, p.delivery, 'nack')
        return
      }
      this.pending.push(p)
      return
    }
    this.send(link, p, qos)
  }

  private qosOf (p: Pending): 0 | 1 | 2 {
    const msgQos = p.delivery.props.qos ?? 1
    return Math.min(p.sub.qos, msgQos) as 0 | 1 | 2
  }

  private send (link: SessionLink, p: Pending, qos: 0 | 1 | 2): void {
    const d = p.delivery
    const now = Date.now()
    if (d.props.expiresAt !== undefined && d.props.expiresAt <= now) {
      // [MQTT-3.3.2-5]: an expired message is not delivered.
      if (!p.retained) this.settle(p.sub, p.consumer, d, 'ack')
      return
    }
    const m = this.toOutbound(link, p, qos, now)
    if (qos > 0) {
      const id = this.allocPacketId()
      if (id === undefined) { if (!p.retained) this.settle(p.sub, p.consumer, d, 'nack'); return }
      m.packetId = id
      if (!link.sendPublish(m)) {
        // Larger than the client's Maximum Packet Size: discard as if delivered [MQTT-3.1.2-25].
        if (!p.retained) this.settle(p.sub, p.consumer, d, 'ack')
        return
      }
      this.inflight.set(id, {
        qos: qos as 1 | 2, state: 'awaitAck', consumer: p.retained ? undefined : p.consumer, sub: p.retained ? undefined : p.sub, topic: d.topic, entryId: d.entryId
      })
      return
    }
    link.sendPublish(m)
    if (!p.retained) this.settle(p.sub, p.consumer, d, 'ack')
  }

  private toOutbound (link: SessionLink, p: Pending, qos: 0 | 1 | 2, now: number): OutboundPublish {
    const d = p.delivery
    const props: MessageProps = d.props
    const retain = p.retained || (p.sub.retainAsPublished && this.core.retained.isRetainedEntry(d.topic, d.entryId))
    const m: OutboundPublish = {
      topic: localTopicName(this.namespace, d.topic) ?? d.topic,
      qos,
      retain,
      // A redelivery may be a message the client saw before (on an earlier connection) [MQTT-3.3.1-1].
      dup: qos > 0 && d.redeliveryCount > 0,
      payload: d.payload
    }
    if (link.protocolVersion !== 5) return m
    if (props.payloadFormat !== undefined) m.payloadFormat = props.payloadFormat
    if (props.expiresAt !== undefined) m.messageExpirySec = Math.max(1, Math.ceil((props.expiresAt - now) / 1000))
    if (props.contentType !== undefined) m.contentType = props.contentType
    if (props.responseTopic !== undefined) m.responseTopic = localTopicName(this.namespace, props.responseTopic) ?? props.responseTopic
    if (props.correlationData !== undefined) m.correlationData = props.correlationData
    if (p.sub.subscriptionId !== undefined) m.subscriptionIds = [p.sub.subscriptionId]
    // Originals first, in order [MQTT-3.3.2-18]; then the gateway's own two (always present).
    const ups: UserProperty[] = props.userProperties !== undefined ? [...props.userProperties] : []
    if (!p.retained) {
      ups.push([FerryProp.redeliveryCount, String(d.redeliveryCount)])
      ups.push([FerryProp.messageId, String(d.entryId)])
    }
    if (ups.length > 0) m.userProperties = ups
    return m
  }

  private allocPacketId (): number | undefined {
    for (let i = 0; i < PACKET_ID_MAX; i++) {
      const id = this.nextPacketId
      this.nextPacketId = id === PACKET_ID_MAX ? 1 : id + 1
      if (!this.inflight.has(id)) return id
    }
    return undefined
  }

  /** Acknowledge or nack to the dispatcher and give the permit back (or owe it while backed up). */
  private settle (sub: SubscriptionState, consumer: Promise<Consumer> | undefined, d: Delivery, how: 'ack' | 'nack', reason?: string): void {
    if (consumer === undefined) return
    void consumer.then((c) => {
      if (how === 'ack') {
        c.ack(d.topic, d.entryId).catch((err: unknown) => {
          this.core.logger.warn({ err, topic: d.topic, entryId: d.entryId }, 'ack failed')
        })
      } else {
        c.nack(d.topic, d.entryId, reason)
      }
    }, () => undefined)
    this.returnPermit(sub, consumer)
  }

  private returnPermit (sub: SubscriptionState, consumer: Promise<Consumer>): void {
    if (sub.consumer !== consumer) return // that consumer is gone; the new one has its own permits
    if (this.link?.backedUp() === true) { sub.owedPermits++; return }
    void consumer.then((c) => { c.addPermits(1) }, () => undefined)
  }

  /** The socket drained: pay the permits owed and fill the window again. */
  drained (): void {
    for (const sub of this.subs.values()) {
      if (sub.owedPermits === 0 || sub.consumer === undefined) continue
      const n = sub.owedPermits
      sub.owedPermits = 0
      void sub.consumer.then((c) => { c.addPermits(n) }, () => undefined)
    }
    this.pump()
  }

  private pump (): void {
    const link = this.link
    if (link === undefined) return
    while (this.pending.length > 0 && this.inflight.size < link.outboundWindow) {
      const p = this.pending.shift() as Pending
      if (p.sub.consumer !== p.consumer && !p.retained) continue // stale
      this.send(link, p, this.qosOf(p))
    }
  }

  // ---------------------------------------------------------------------------
  // Acknowledgements from the client

  /** PUBACK; a v5 reason code >= 0x80 is a negative ack. False when the packet id is unknown. */
  onPuback (packetId: number, reasonCode: number): boolean {
    const f = this.inflight.get(packetId)
    if (f === undefined || f.qos !== 1 || f.state !== 'awaitAck') return false
    this.inflight.delete(packetId)
    this.finish(f, reasonCode >= 0x80 ? 'nack' : 'ack', reasonCode)
    this.pump()
    return true
  }

  /** PUBREC: the client has the message. A reason code >= 0x80 ends the flow as a nack. */
  onPubrec (packetId: number, reasonCode: number): 'pubrel' | 'done' | 'unknown' {
    const f = this.inflight.get(packetId)
    if (f === undefined || f.qos !== 2) return 'unknown'
    if (f.state === 'awaitComp') return 'pubrel' // repeated PUBREC: answer PUBREL again
    if (reasonCode >= 0x80) {
      this.inflight.delete(packetId)
      this.finish(f, 'nack', reasonCode)
      this.pump()
      return 'done'
    }
    // The client owns the message now: acknowledge it to the dispatcher; only the packet id stays in use until PUBCOMP.
    f.state = 'awaitComp'
    if (f.sub !== undefined && f.consumer !== undefined) {
      const { topic, entryId } = f
      void f.consumer.then((c) => c.ack(topic, entryId), () => undefined).catch(() => undefined)
    }
    return 'pubrel'
  }

  onPubcomp (packetId: number): boolean {
    const f = this.inflight.get(packetId)
    if (f === undefined || f.qos !== 2 || f.state !== 'awaitComp') return false
    this.inflight.delete(packetId)
    if (f.sub !== undefined && f.consumer !== undefined) this.returnPermit(f.sub, f.consumer)
    this.pump()
    return true
  }

  private finish (f: Inflight, how: 'ack' | 'nack', reasonCode: number): void {
    if (f.sub === undefined || f.consumer === undefined) return // retained copy: nothing to settle
    const d = { topic: f.topic, entryId: f.entryId } as Delivery
    this.settle(f.sub, f.consumer, d, how, how === 'nack' ? `mqtt reason code 0x${reasonCode.toString(16)}` : undefined)
  }
}
