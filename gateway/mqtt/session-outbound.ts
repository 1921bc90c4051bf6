/**
 * Outbound delivery of one session, with its flow control.
 *
 * Each consumer starts with the client's Receive Maximum (v5) or
 * inflightMessagesMax3 (3.1.1) permits and gets one back per acknowledged (or
 * QoS 0: written) message; the session also caps its total in flight at that
 * window [MQTT-3.3.4-9] and parks the rest (bounded by the permits it handed
 * out). While the socket is backed up, permits are owed rather than returned,
 * so a slow subscriber pauses its own delivery and nothing else.
 *
 * Overlapping subscriptions of the session send one copy carrying every
 * matching Subscription Identifier, at the highest QoS of them
 * [MQTT-3.3.4-2] [MQTT-3.3.4-4]; the other subscriptions' copies of that
 * message are acknowledged when they arrive.
 *
 * Expiry is checked when a message is handed to the client, so a message that
 * expired while it waited (parked here, or read ahead) is never sent
 * [MQTT-3.3.2-5]; the rest carry the remaining interval [MQTT-3.3.2-6].
 */
import type { Consumer, Delivery } from '../dispatch/index.js'
import type { Logger } from '../../common/log.js'
import type { UserProperty } from '../../store/index.js'
import { FerryProp } from '../message-props.js'
import type { OutboundPublish } from './codec.js'
import { OVERLAP_COPIES_TRACKED_MAX, SESSION_PENDING_DELIVERIES_MAX, SESSION_TOPIC_NAMES_MAX } from './constants.js'
import type { NoLocalTracker } from './session-no-local.js'
import { InflightState, PacketIds, type Inflight } from './session-packet-ids.js'
import type { SessionSubscriptions, SubscriptionState } from './session-subscriptions.js'
import { localTopicName } from './topics.js'

/** What the session needs from its live connection. */
export interface SessionLink {
  readonly protocolVersion: 3 | 4 | 5
  /** Outbound window: the client's Receive Maximum or inflightMessagesMax3. */
  readonly outboundWindow: number
  /** The client asked for Ferry's delivery metadata (CONNECT user property `ferry-metadata: 1`). */
  readonly ferryMetadata: boolean
  /**
   * Write a PUBLISH. Extra user properties are left out when they would push
   * the packet over the client's Maximum Packet Size; false when even without
   * them it is too large, and nothing was sent [MQTT-3.1.2-24].
   */
  sendPublish (m: OutboundPublish): boolean
  sendPubrel (packetId: number): void
  /** True while the socket holds more than it should: withhold permits. */
  backedUp (): boolean
}

/** What outbound delivery needs from its session. */
export interface OutboundHost {
  readonly link: SessionLink | undefined
  readonly namespace: string
  readonly logger: Logger
  readonly subs: SessionSubscriptions
  readonly noLocal: NoLocalTracker
  isRetainedEntry (topic: string, entryId: number): boolean
}

/** One copy standing for several overlapping subscriptions. */
interface Merged { subscriptionIds: number[], qos: 0 | 1 | 2 }

/** A message waiting for room in the window: a dispatcher delivery or a retained message. */
interface Pending {
  sub: SubscriptionState
  consumer: Promise<Consumer> | undefined
  delivery: Delivery
  retained: boolean
  merged: Merged | undefined
}

export type SettleHow = 'ack' | 'nack'

export class SessionOutbound {
  readonly ids = new PacketIds()
  private pending: Pending[] = []
  /** `topic NUL entryId` → copies of other overlapping subscriptions still to come (bounded, oldest dropped). */
  // Made on first use: most connections (idle ones above all) never need it, and an empty Map is ~170 B.
  private lazy_copiesToCome: Map<string, number> | undefined
  private get copiesToCome (): Map<string, number> { return (this.lazy_copiesToCome ??= new Map<string, number>()) }
  /** Full topic name → the client's (local) name, made on first delivery; bounded by SESSION_TOPIC_NAMES_MAX. */
  private lazy_localTopics: Map<string, string> | undefined
  constructor (private readonly host: OutboundHost) {}

  /** A delivery from one of the session's consumers. */
  onDelivery (sub: SubscriptionState, consumer: Promise<Consumer> | undefined, d: Delivery): void {
    if (this.host.link === undefined || sub.consumer !== consumer) return // stale consumer: it returns its messages on close
    if (sub.noLocal) {
      // [MQTT-3.8.3-3]: never send a client its own publications on a No Local subscription.
      if (this.host.noLocal.mustWait(d.topic, () => { this.onDelivery(sub, consumer, d) })) return
      if (this.host.noLocal.isOwn(d.topic, d.entryId)) { this.settle(sub, consumer, d, 'ack'); return }
    }
    let merged: Merged | undefined
    // Most sessions have one subscription: no overlap to look for.
    if (sub.parsed.group === undefined && !sub.noLocal && this.host.subs.size > 1) {
      const over = this.host.subs.overlapping(d.topic)
      if (over.length > 1 && over.includes(sub)) {
        const key = `${d.topic}\u0000${d.entryId}`
        const left = this.copiesToCome.get(key)
        if (left !== undefined) {
          // The copy already went (or waits) for another of the overlapping subscriptions.
          if (left <= 1) this.copiesToCome.delete(key); else this.copiesToCome.set(key, left - 1)
          this.settle(sub, consumer, d, 'ack')
          return
        }
        this.copiesToCome.set(key, over.length - 1)
        if (this.copiesToCome.size > OVERLAP_COPIES_TRACKED_MAX) this.copiesToCome.delete(this.copiesToCome.keys().next().value as string)
        const ids: number[] = []
        let qos: 0 | 1 | 2 = 0
        for (const s of over) {
          if (s.subscriptionId !== undefined) ids.push(s.subscriptionId)
          if (s.qos > qos) qos = s.qos
        }
        merged = { subscriptionIds: ids, qos }
      }
    }
    this.enqueue(sub, consumer, d, false, merged)
  }

  /** Send a retained message for a new subscription (not through the dispatcher: nothing to ack). */
  sendRetained (sub: SubscriptionState, d: Delivery): void {
    this.enqueue(sub, undefined, d, true, undefined)
  }

  // The parts of a Pending as arguments: a message sent at once (the common case) makes no Pending object.
  private enqueue (sub: SubscriptionState, consumer: Promise<Consumer> | undefined, d: Delivery, retained: boolean, merged: Merged | undefined): void {
    const link = this.host.link
    if (link === undefined) return
    const qos = qosOf(sub, d, merged)
    if (qos > 0 && (this.ids.size >= link.outboundWindow || this.pending.length > 0)) {
      if (this.pending.length >= SESSION_PENDING_DELIVERIES_MAX) {
        // Cannot happen while permits bound the dispatcher; if it does, hand the message back rather than grow.
        this.settle(sub, consumer, d, 'nack')
        return
      }
      this.pending.push({ sub, consumer, delivery: d, retained, merged })
      return
    }
    this.send(link, sub, consumer, d, retained, merged, qos)
  }

  private send (link: SessionLink, sub: SubscriptionState, consumer: Promise<Consumer> | undefined, d: Delivery, retained: boolean, merged: Merged | undefined, qos: 0 | 1 | 2): void {
    const now = Date.now()
    if (d.props.expiresAt !== undefined && d.props.expiresAt <= now) {
      // Checked at hand-out: an expired message is not delivered [MQTT-3.3.2-5].
      if (!retained) this.settle(sub, consumer, d, 'ack')
      return
    }
    const m = this.toOutbound(link, sub, d, retained, merged, qos, now)
    if (qos > 0) {
      const id = this.ids.alloc()
      if (id === undefined) { if (!retained) this.settle(sub, consumer, d, 'nack'); return }
      m.packetId = id
      if (!link.sendPublish(m)) {
        // Larger than the client's Maximum Packet Size: discard as if delivered [MQTT-3.1.2-25].
        if (!retained) this.settle(sub, consumer, d, 'ack')
        return
      }
      this.ids.set(id, {
        qos: qos as 1 | 2,
        state: InflightState.awaitAck,
        consumer: retained ? undefined : consumer,
        sub: retained ? undefined : sub,
        topic: d.topic,
        entryId: d.entryId
      })
      return
    }
    link.sendPublish(m)
    if (!retained) this.settle(sub, consumer, d, 'ack')
  }

  /** The client's name of a topic of this namespace: one string per topic (bounded), not a slice per message. */
  private localTopic (full: string): string {
    const known = this.lazy_localTopics?.get(full)
    if (known !== undefined) return known
    const map = (this.lazy_localTopics ??= new Map<string, string>())
    if (map.size >= SESSION_TOPIC_NAMES_MAX) map.clear()
    const local = localTopicName(this.host.namespace, full) ?? full
    map.set(full, local)
    return local
  }

  private toOutbound (link: SessionLink, sub: SubscriptionState, d: Delivery, retained: boolean, merged: Merged | undefined, qos: 0 | 1 | 2, now: number): OutboundPublish {
    const props = d.props
    const ns = this.host.namespace
    const retain = retained || (sub.retainAsPublished && this.host.isRetainedEntry(d.topic, d.entryId))
    const m: OutboundPublish = {
      topic: this.localTopic(d.topic),
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
    if (props.responseTopic !== undefined) m.responseTopic = localTopicName(ns, props.responseTopic) ?? props.responseTopic
    if (props.correlationData !== undefined) m.correlationData = props.correlationData
    const subIds = merged !== undefined ? merged.subscriptionIds : (sub.subscriptionId !== undefined ? [sub.subscriptionId] : [])
    if (subIds.length > 0) m.subscriptionIds = subIds
    // Exactly the publisher's user properties, in order [MQTT-3.3.2-18].
    if (props.userProperties !== undefined && props.userProperties.length > 0) m.userProperties = props.userProperties
    // Ferry's metadata only for a client that asked, and only if it fits the client's Maximum Packet Size.
    if (link.ferryMetadata && !retained) {
      const extra: UserProperty[] = [[FerryProp.redeliveryCount, String(d.redeliveryCount)], [FerryProp.messageId, String(d.entryId)]]
      m.extraUserProperties = extra
    }
    return m
  }

  /** Acknowledge or nack to the dispatcher and give the permit back (or owe it while backed up). */
  settle (sub: SubscriptionState, consumer: Promise<Consumer> | undefined, d: { topic: string, entryId: number }, how: SettleHow, reason?: string): void {
    if (consumer === undefined) return
    const r = sub.resolved
    if (r !== undefined && r.of === consumer) {
      // The hot path: the consumer is known, no promise per message (a failed ack is logged by the dispatcher).
      if (how === 'ack') r.consumer.ackNoWait(d.topic, d.entryId)
      else r.consumer.nack(d.topic, d.entryId, reason)
      this.returnPermit(sub, consumer)
      return
    }
    void consumer.then((c) => {
      if (how === 'ack') {
        c.ack(d.topic, d.entryId).catch((err: unknown) => {
          this.host.logger.warn({ err, topic: d.topic, entryId: d.entryId }, 'ack failed')
        })
      } else {
        c.nack(d.topic, d.entryId, reason)
      }
    }, () => undefined)
    this.returnPermit(sub, consumer)
  }

  /** Settle what an in-flight packet id stood for (a retained copy has nothing to settle). */
  settleInflight (f: Inflight, how: SettleHow, reasonCode: number): void {
    if (f.sub === undefined || f.consumer === undefined) return
    this.settle(f.sub, f.consumer, f, how, how === 'nack' ? `mqtt reason code 0x${reasonCode.toString(16)}` : undefined)
  }

  returnPermit (sub: SubscriptionState, consumer: Promise<Consumer>): void {
    if (sub.consumer !== consumer) return // that consumer is gone; the new one has its own permits
    if (this.host.link?.backedUp() === true) { sub.owedPermits++; return }
    const r = sub.resolved
    if (r !== undefined && r.of === consumer) { r.consumer.addPermits(1); return }
    void consumer.then((c) => { c.addPermits(1) }, () => undefined)
  }

  /** The socket drained: pay the permits owed and fill the window again. */
  drained (): void {
    for (const sub of this.host.subs.values()) {
      if (sub.owedPermits === 0 || sub.consumer === undefined) continue
      const n = sub.owedPermits
      sub.owedPermits = 0
      void sub.consumer.then((c) => { c.addPermits(n) }, () => undefined)
    }
    this.pump()
  }

  /** Send parked messages while the window has room. */
  pump (): void {
    const link = this.host.link
    if (link === undefined) return
    while (this.pending.length > 0 && this.ids.size < link.outboundWindow) {
      const p = this.pending.shift() as Pending
      if (p.sub.consumer !== p.consumer && !p.retained) continue // stale
      this.send(link, p.sub, p.consumer, p.delivery, p.retained, p.merged, qosOf(p.sub, p.delivery, p.merged))
    }
  }

  /** A connection attached: resend PUBREL for messages awaiting PUBCOMP [MQTT-4.4.0-1]. */
  attached (link: SessionLink): void {
    for (const [id, f] of this.ids.entries()) {
      if (f.state === InflightState.awaitComp) link.sendPubrel(id)
    }
  }

  /** The connection went away: what was only in flight on it comes again from the dispatcher. */
  detached (): void {
    this.ids.dropUnacknowledged()
    this.pending = []
    this.copiesToCome.clear()
  }
}

/** Outbound QoS: the subscription's (or the highest overlapping one's), at most the publisher's [MQTT-3.8.4-8]. */
function qosOf (sub: SubscriptionState, d: Delivery, merged: Merged | undefined): 0 | 1 | 2 {
  const msgQos = d.props.qos ?? 1
  return Math.min(merged?.qos ?? sub.qos, msgQos) as 0 | 1 | 2
}
