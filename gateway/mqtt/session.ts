/**
 * One MQTT session: what outlives a connection when the session is
 * persistent. Composed of
 *  - its subscriptions (session-subscriptions.ts), whose queued messages are
 *    the dispatcher's durable cursors, so nothing is copied per session;
 *  - outbound delivery and flow control (session-outbound.ts) with its packet
 *    ids (session-packet-ids.ts) and the client's acks (session-acks.ts);
 *  - No Local bookkeeping (session-no-local.ts);
 *  - inbound QoS 2 identifiers (inbound-qos2.ts).
 * This file attaches and detaches connections and runs the session's
 * subscribe / unsubscribe / attach / detach one at a time.
 */
import type { EntryId, MetaPut, TopicName } from '../../store/index.js'
import type { Delivery } from '../dispatch/index.js'
import type { FrontEndCore } from './core.js'
import { META_SPACE_QOS2_IN, SESSION_TOPIC_NAMES_MAX } from './constants.js'
import { InboundQos2 } from './inbound-qos2.js'
import { onPuback, onPubcomp, onPubrec, type PubrecOutcome } from './session-acks.js'
import { NoLocalTracker } from './session-no-local.js'
import { SessionOutbound, type SessionLink } from './session-outbound.js'
import { SessionSubscriptions, type StoredSubscription, type SubscriptionOptions, type SubscriptionState } from './session-subscriptions.js'
import { fullTopicName, type ParsedFilter } from './topics.js'

export type { SessionLink, StoredSubscription, SubscriptionState }

/** Key of an inbound QoS 2 id in META_SPACE_QOS2_IN: `{clientId}/{packetId}` (client ids may contain `/`; the id is after the last). */
export function qos2KeyOf (clientId: string, packetId: number): string { return `${clientId}/${packetId}` }

export function parseQos2Key (key: string): { clientId: string, packetId: number } | undefined {
  const slash = key.lastIndexOf('/')
  const packetId = Number(key.slice(slash + 1))
  if (slash < 0 || !Number.isInteger(packetId) || packetId < 1 || packetId > 65535) return undefined
  return { clientId: key.slice(0, slash), packetId }
}

export class Session {
  readonly subs: SessionSubscriptions
  readonly inboundQos2 = new InboundQos2()
  readonly noLocal: NoLocalTracker
  readonly outbound: SessionOutbound
  link: SessionLink | undefined
  /** Session Expiry Interval in seconds; 0 = ends with the connection. */
  expirySec: number
  /** Serialises subscribe / unsubscribe / attach / detach so consumers never race. */
  private chain: Promise<void> = Promise.resolve()

  constructor (
    private readonly core: FrontEndCore,
    readonly clientId: string,
    readonly namespace: string,
    expirySec: number
  ) {
    this.expirySec = expirySec
    this.subs = new SessionSubscriptions(core.deps.dispatcher, core.logger, clientId, namespace, (sub, consumer, d) => {
      this.outbound.onDelivery(sub, consumer, d)
    })
    this.noLocal = new NoLocalTracker(() => { for (const s of this.subs.values()) if (s.noLocal) return true; return false })
    this.outbound = new SessionOutbound(this)
  }

  /** Local topic name → full topic name (fanin, issue 11); made on first publish, bounded by SESSION_TOPIC_NAMES_MAX. */
  private lazy_fullTopics: Map<string, TopicName> | undefined

  /** The full topic name of a local one in this session's namespace: the same string for the same topic. */
  fullTopic (local: string): TopicName {
    const known = this.lazy_fullTopics?.get(local)
    if (known !== undefined) return known
    const map = (this.lazy_fullTopics ??= new Map<string, TopicName>())
    if (map.size >= SESSION_TOPIC_NAMES_MAX) map.clear()
    const full = fullTopicName(this.namespace, local)
    map.set(local, full)
    return full
  }

  get persistent (): boolean { return this.expirySec > 0 }
  get logger (): FrontEndCore['logger'] { return this.core.logger }

  /** Whether the session has state in the ledger: persistent, or holding durable subscriptions from when it was. */
  get recorded (): boolean { return this.persistent || this.subs.anyDurable() }

  /** Run `fn` after every earlier serialised operation of this session. */
  serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn)
    this.chain = run.then(() => undefined, () => undefined)
    return run
  }

  stored (): StoredSubscription[] { return this.subs.stored() }

  // ---------------------------------------------------------------------------
  // Inbound QoS 2 ids: durable with the message (issue 7 item 5)

  /**
   * The ledger write that goes in an inbound QoS 2 message's own record: its
   * packet id, so that after a restart a resend of it gets PUBREC again
   * instead of being stored twice. Only for a persistent session (any other
   * ends with a restart) and a durable namespace (a memory one loses the
   * message too, so a resend stores it once).
   */
  qos2Record (packetId: number, topic: TopicName): readonly MetaPut[] | undefined {
    if (!this.persistent || this.core.deps.policies.forTopic(topic).durability === 'memory') return undefined
    return [{ space: META_SPACE_QOS2_IN, key: qos2KeyOf(this.clientId, packetId), value: 1 }]
  }

  /**
   * PUBREL: free an inbound QoS 2 id, then delete its durable record (before
   * PUBCOMP: afterwards the client may reuse the id for a new message).
   * Resolves false when the id was not in use.
   */
  async releaseQos2 (packetId: number): Promise<boolean> {
    const known = this.inboundQos2.release(packetId)
    await this.deleteQos2Record(packetId)
    return known
  }

  private async deleteQos2Record (packetId: number): Promise<void> {
    const ledger = this.core.deps.ledger
    const key = qos2KeyOf(this.clientId, packetId)
    if (ledger.getMeta(META_SPACE_QOS2_IN, key) !== undefined) await ledger.putMeta(META_SPACE_QOS2_IN, key, undefined)
  }

  isRetainedEntry (topic: string, entryId: number): boolean { return this.core.retained.isRetainedEntry(topic, entryId) }

  // ---------------------------------------------------------------------------
  // Subscriptions

  /** Add or replace a subscription; durable when the session is persistent. Returns true if it is new. */
  async subscribe (parsed: ParsedFilter, opts: SubscriptionOptions): Promise<boolean> {
    return await this.subs.subscribe(parsed, opts, this.persistent, this.link?.outboundWindow)
  }

  restore (parsed: ParsedFilter, s: StoredSubscription): void { this.subs.restore(parsed, s) }

  async unsubscribe (raw: string): Promise<boolean> { return await this.subs.unsubscribe(raw) }

  // ---------------------------------------------------------------------------
  // Connection attach / detach

  /** A connection took this session: resend PUBREL for messages awaiting PUBCOMP, attach consumers. */
  async attach (link: SessionLink): Promise<void> {
    this.link = link
    this.outbound.attached(link)
    await Promise.all([...this.subs.values()].map(async (sub) => {
      try { await this.subs.attach(sub, link.outboundWindow) } catch (err) {
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
    this.outbound.detached()
    this.noLocal.reset()
    await Promise.all([...this.subs.values()].map(async (sub) => { await this.subs.detach(sub) }))
  }

  /** End of the session: delete its own subscriptions everywhere. */
  async destroy (): Promise<void> {
    await this.detach()
    for (const s of [...this.subs.values()]) {
      const raw = s.parsed.raw
      try { await this.subs.unsubscribe(raw) } catch (err) {
        this.core.logger.warn({ err, clientId: this.clientId, filter: raw }, 'deleting a subscription of an ended session failed')
      }
    }
    const ids = this.inboundQos2.receivedIds()
    this.outbound.ids.clear()
    this.inboundQos2.clear()
    for (const id of ids) {
      try { await this.deleteQos2Record(id) } catch (err) {
        this.core.logger.warn({ err, clientId: this.clientId, packetId: id }, 'deleting an inbound QoS 2 id of an ended session failed')
      }
    }
  }

  // ---------------------------------------------------------------------------
  // Delegates used by the packet handlers

  /** Returns whether the publish is tracked per topic: pass it back to ownPublishSettled. */
  ownPublishStarted (topic: TopicName): boolean { return this.noLocal.started(topic) }
  ownPublishSettled (topic: TopicName, entryId: EntryId | undefined, tracked: boolean): void { this.noLocal.settled(topic, entryId, tracked) }
  sendRetained (sub: SubscriptionState, d: Delivery): void { this.outbound.sendRetained(sub, d) }
  drained (): void { this.outbound.drained() }
  onPuback (packetId: number, reasonCode: number): boolean { return onPuback(this.outbound, packetId, reasonCode) }
  onPubrec (packetId: number, reasonCode: number): PubrecOutcome { return onPubrec(this.outbound, packetId, reasonCode) }
  onPubcomp (packetId: number): boolean { return onPubcomp(this.outbound, packetId) }
}
