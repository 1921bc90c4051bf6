/**
 * State shared by every MQTT connection of a gateway: dependencies, limits,
 * sessions, retained messages, pending wills, and counters.
 */
import type { Logger } from '../../common/log.js'
import type { MessageProps, MetaPut, TopicName } from '../../store/index.js'
import type { ProducerRef, PublishResult, PublishSink } from '../dispatch/index.js'
import { DEFAULT_MQTT_LIMITS, checkLimits, type MqttLimits } from './constants.js'
import { RetainedStore } from './retained.js'
import { SessionRegistry } from './sessions.js'
import { WillScheduler } from './will.js'
import type { Authenticate, AuthorizeSubscribe, MqttDeps, MqttStats } from './types.js'
import type { CloseReason } from './errors.js'

export interface ConnectionHandle {
  /** Close with a reason (sends DISCONNECT when the protocol allows). */
  close (reason: CloseReason): void
}

export class FrontEndCore {
  readonly limits: Readonly<MqttLimits>
  readonly logger: Logger
  readonly retained: RetainedStore
  readonly sessions: SessionRegistry
  readonly wills: WillScheduler
  readonly connections = new Set<ConnectionHandle>()
  readonly closes: Record<string, number> = {}
  /** Retained-message updates that failed after their publish was stored (the publish still succeeded). */
  retainedUpdateFailures = 0
  /** Times a publisher's reads were paused by memory-durability pacing (gateway/dispatch/publish-pacer.ts). */
  pacedReads = 0
  readonly authenticate: Authenticate
  readonly authorizeSubscribe: AuthorizeSubscribe
  closing = false

  constructor (readonly deps: MqttDeps) {
    this.limits = Object.freeze({ ...DEFAULT_MQTT_LIMITS, ...(deps.limits ?? {}) })
    checkLimits(this.limits)
    this.logger = deps.logger
    this.retained = new RetainedStore(deps.ledger, deps.metaSealer, deps.logger)
    this.sessions = new SessionRegistry(this)
    this.wills = new WillScheduler(this)
    this.authenticate = deps.authenticate ?? (async () => deps.dev ? { namespace: deps.defaultNamespace } : undefined)
    this.authorizeSubscribe = deps.authorizeSubscribe ?? (() => true)
  }

  /**
   * The publish path, shared by PUBLISH and wills:
   *  1. the dispatcher stores the message (durable per namespace policy) and
   *     fans it out; `meta` is written in the same record (inbound QoS 2 ids);
   *  2. a retained publish then replaces (or, empty, clears) the topic's
   *     retained message. The message is durable by then: a failed update is
   *     logged and counted, never reported as a failed publish, whose retry
   *     would store the message twice;
   *  3. the caller acknowledges.
   */
  publish (topic: TopicName, payload: Buffer, props: MessageProps, retain: boolean, meta?: readonly MetaPut[], producer?: ProducerRef, namespace?: string): Promise<PublishResult> {
    // `producer` names the publisher in the admin API's topic stats (never stored); `namespace` is the one
    // `topic` was built from (the session's), so the layers below need not slice it out again.
    let stored: Promise<PublishResult>
    try {
      stored = this.deps.dispatcher.publish(meta !== undefined ? { topic, payload, props, meta, producer, namespace } : { topic, payload, props, producer, namespace })
    } catch (err) {
      return Promise.reject(err) // a dispatcher that throws at once still fails the publish, not the caller
    }
    // Not retained (the hot path): the dispatcher's own promise, no extra async step per publish.
    return retain ? this.retainAfter(stored, topic, payload, props) : stored
  }

  /**
   * publish with the outcome sent to `sink` (the dispatcher's publishTo): an inbound QoS 0/1 PUBLISH is its own
   * sink, so the hot path (not retained) makes no promise or closure of its own per message. The same steps: a
   * retained publish goes through publish (the retained update after the store), rare enough to keep its promise.
   * `sink` hears exactly one outcome, possibly before this returns (a refusal).
   */
  publishTo (topic: TopicName, payload: Buffer, props: MessageProps, retain: boolean, producer: ProducerRef | undefined, namespace: string | undefined, sink: PublishSink): void {
    if (retain) {
      this.publish(topic, payload, props, retain, undefined, producer, namespace).then((r) => { sink.published(r) }, (err: unknown) => { sink.failed(err) })
      return
    }
    try {
      this.deps.dispatcher.publishTo({ topic, payload, props, producer, namespace }, sink)
    } catch (err) {
      sink.failed(err) // a dispatcher that throws at once still fails the publish, not the caller (as publish does)
    }
  }

  private async retainAfter (stored: Promise<PublishResult>, topic: TopicName, payload: Buffer, props: MessageProps): Promise<PublishResult> {
    const res = await stored
    try {
      await this.retained.put(topic, payload, props, res.entryId, Date.now())
    } catch (err) {
      this.retainedUpdateFailures++
      this.logger.warn({ err, topic, entryId: res.entryId }, 'retained message update failed after the publish was stored')
    }
    return res
  }

  countClose (reason: CloseReason): void {
    this.closes[reason] = (this.closes[reason] ?? 0) + 1
  }

  stats (): MqttStats {
    return { connections: this.connections.size, sessions: this.sessions.size(), closes: { ...this.closes }, retainedUpdateFailures: this.retainedUpdateFailures, pacedReads: this.pacedReads }
  }
}
