/**
 * The dispatcher as the front ends see it in a secured gateway: the same
 * interface, with two steps on the way in and one on the way out.
 *
 *   publish:   1. quotas (publish msgs/s, bytes/s, storage) of tenant and namespace;
 *              2. the at-rest codec (compress, then encrypt) when the namespace asks for it,
 *                 in arrival order per namespace (large payloads go to zlib's threadpool);
 *              3. the real dispatcher stores it.
 *   subscribe: the subscriptions quota; deliveries pass through the codec
 *              (open, decompress) in order before the front end sees them.
 *
 * A delivery that does not open (missing or wrong key) is never handed on:
 * it is nacked with the reason, counted and logged (dead-lettered after
 * maxRedeliveries like any message a consumer cannot take).
 */
import type { Logger } from '../../common/log.js'
import type { NamespacePolicy, PolicyRegistry } from '../policy/index.js'
import type { Consumer, ConsumerSink, Delivery, Dispatcher, DispatcherStats, PublishRequest, PublishResult, PublishSink, SubscribeOptions } from '../dispatch/types.js'
import { hintedNamespaceOf } from '../dispatch/index.js'
import { DECODE_QUEUE_ENTRIES_MAX, isEnveloped, type PayloadCodec } from '../codec/index.js'
import type { QuotaTracker } from './quotas.js'

export class GuardedDispatcher implements Dispatcher {
  /** Tail of the encode queue per namespace while one is running (keeps publish order). */
  private readonly chains = new Map<string, Promise<void>>()

  constructor (
    private readonly inner: Dispatcher,
    private readonly policies: PolicyRegistry,
    private readonly quotas: QuotaTracker | undefined,
    private readonly codec: PayloadCodec,
    private readonly logger: Logger
  ) {}

  /** publishTo with a promise: the same steps, one outcome (the promise's two functions are the sink). */
  publish (req: PublishRequest): Promise<PublishResult> {
    return new Promise((resolve, reject) => { this.publishTo(req, { published: resolve, failed: reject }) })
  }

  /**
   * The guard's steps: without an at-rest codec (the hot path; fanin, issue 11), the inner dispatcher's publishTo
   * after the checks, with the caller's sink (nothing of the guard's per publish); a refusal reaches the sink at once.
   */
  publishTo (req: PublishRequest, sink: PublishSink): void {
    let ns: string | undefined
    let props: PublishRequest['props']
    let policy: Readonly<NamespacePolicy> | undefined
    try {
      ns = this.admit(req)
      props = this.codec.clean(req.props)
      policy = this.encodingPolicy(req, ns)
    } catch (err) {
      sink.failed(err)
      return
    }
    if (ns === undefined || policy === undefined) { this.inner.publishTo(props === req.props ? req : { ...req, props }, sink); return }
    this.publishEncoded(req, ns, policy, props).then((r) => { sink.published(r) }, (err: unknown) => { sink.failed(err) })
  }

  /** Quotas of the publish's namespace; returns it (the front end's hint when it is the topic's: no slice per publish). Throws the refusal. */
  private admit (req: PublishRequest): string | undefined {
    const ns = hintedNamespaceOf(req.topic, req.namespace)
    if (ns !== undefined) this.quotas?.publish(ns, 1, req.payload.length)
    return ns
  }

  /** The namespace's policy when its payloads are encoded at rest, else undefined. */
  private encodingPolicy (req: PublishRequest, ns: string | undefined): Readonly<NamespacePolicy> | undefined {
    if (ns === undefined) return undefined
    const policy = this.policies.has(ns) ? this.policies.get(ns) : this.policies.forTopic(req.topic)
    return this.codec.active(policy) ? policy : undefined
  }

  private async publishEncoded (req: PublishRequest, ns: string, policy: Readonly<NamespacePolicy>, props: PublishRequest['props']): Promise<PublishResult> {
    const prev = this.chains.get(ns)
    if (prev === undefined && this.codec.inline(req.payload)) {
      const enc = this.codec.encodeSync(policy, req.payload, props)
      return await this.inner.publish({ topic: req.topic, payload: enc.payload, props: enc.props, producer: req.producer }) // ops2: producer kept for topic stats
    }
    let result: Promise<PublishResult> | undefined
    const turn = (prev ?? Promise.resolve()).then(async () => {
      const enc = await this.codec.encodeAsync(policy, req.payload, props)
      // Issued in queue order; awaited by the caller, not by the queue.
      result = this.inner.publish({ topic: req.topic, payload: enc.payload, props: enc.props, producer: req.producer }) // ops2: producer kept
    }).catch((err: unknown) => { result = Promise.reject(err) })
    this.chains.set(ns, turn)
    void turn.then(() => { if (this.chains.get(ns) === turn) this.chains.delete(ns) })
    await turn
    return await (result as Promise<PublishResult>)
  }

  async subscribe (opts: SubscribeOptions): Promise<Consumer> {
    this.quotas?.checkSubscription(opts.namespace, this.inner, (s) => s.namespace === opts.namespace && s.filter === opts.filter && s.subscription === opts.subscription)
    const ref: { consumer: Consumer | undefined } = { consumer: undefined }
    const consumer = await this.inner.subscribe({ ...opts, sink: this.decodingSink(opts.sink, ref) })
    ref.consumer = consumer
    return consumer
  }

  /** A sink that opens enveloped deliveries, in delivery order, before the front end's sink. */
  private decodingSink (sink: ConsumerSink, ref: { consumer: Consumer | undefined }): ConsumerSink {
    const codec = this.codec
    const logger = this.logger
    const queue: Delivery[] = []
    let draining = false
    const undecodable = (d: Delivery, err: unknown): void => {
      logger.error({ err, topic: d.topic, entryId: d.entryId, subscription: d.subscription }, 'at-rest record cannot be opened; not delivered')
      const c = ref.consumer
      if (c === undefined) return
      c.nack(d.topic, d.entryId, (err as Error).message)
      c.addPermits(1) // the front end never saw it, so it will never give this permit back
    }
    const drain = async (): Promise<void> => {
      draining = true
      while (queue.length > 0) {
        const d = queue.shift() as Delivery
        if (!isEnveloped(d.props)) { sink.deliver(d); continue }
        try {
          const dec = await codec.decodeAsync(d.payload, d.props)
          sink.deliver({ ...d, payload: dec.payload, props: dec.props })
        } catch (err) { undecodable(d, err) }
      }
      draining = false
    }
    const out: ConsumerSink = {
      deliver (d) {
        if (!draining && !isEnveloped(d.props)) { sink.deliver(d); return }
        if (!draining && codec.inline(d.payload)) {
          try {
            const dec = codec.decodeSync(d.payload, d.props)
            sink.deliver({ ...d, payload: dec.payload, props: dec.props })
          } catch (err) { undecodable(d, err) }
          return
        }
        if (queue.length >= DECODE_QUEUE_ENTRIES_MAX) { undecodable(d, new Error('decode queue full')); return }
        queue.push(d)
        if (!draining) void drain()
      }
    }
    if (sink.closed !== undefined) out.closed = (reason) => { sink.closed?.(reason) }
    if (sink.activeChanged !== undefined) out.activeChanged = (active) => { sink.activeChanged?.(active) }
    return out
  }

  // Passed through unchanged (typed from the interface, so they follow it as it grows).
  readonly unsubscribe: Dispatcher['unsubscribe'] = async (...a) => await this.inner.unsubscribe(...a)
  readonly ack: Dispatcher['ack'] = async (...a) => await this.inner.ack(...a)
  readonly ackUpTo: Dispatcher['ackUpTo'] = async (...a) => await this.inner.ackUpTo(...a)
  readonly rewindTo: Dispatcher['rewindTo'] = async (...a) => await this.inner.rewindTo(...a) // ops2 hook: admin reset backwards
  readonly nack: Dispatcher['nack'] = async (...a) => await this.inner.nack(...a)
  readonly cancelScheduled: Dispatcher['cancelScheduled'] = async (...a) => await this.inner.cancelScheduled(...a)
  stats (): DispatcherStats { return this.inner.stats() }
  async close (): Promise<void> { await this.inner.close() }
}
