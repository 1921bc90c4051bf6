/**
 * The dispatcher's publish path, as named steps: admit (payload, size, props,
 * rate), hold for the backlog quota when the namespace has one, append to the
 * ledger, evict past the quota, answer (with pacing for memory topics). The
 * publish observer (gateway/ops) sees every publish start and settle.
 *
 * The steps are `publishTo`'s: it sends the outcome to the caller's
 * PublishSink, so the front ends' hot path (HTTP single publish, MQTT QoS 0/1)
 * has no promise and no closures per message; `publish` is the promise over
 * it. The common case (restored, no backlog quota: fanin, issue 11) has no
 * async frame and no promise at all: one SinkAppend is the ledger's input and
 * its AppendSink (Ledger.appendTo).
 */
import { CommonCode, FerryError } from '../../common/errors.js'
import type { AppendInput, AppendResult, AppendSink, EntryId, Ledger, Lsn, MessageProps, MetaPut } from '../../store/index.js'
import type { NamespacePolicy, PolicyRegistry } from '../policy/index.js'
import type { BacklogGuard } from './backlog.js'
import { publishNamespaceOf } from './filter.js'
import type { PublishPacer } from './publish-pacer.js'
import { PublishRateLimiter } from './rate-limit.js'
import { checkProps } from './subscription-defs.js'
import type { PublishObserver, PublishRequest, PublishResult, PublishSink } from './types.js'

export interface PublishPathDeps {
  ledger: Ledger
  policies: PolicyRegistry
  backlog: BacklogGuard
  pacer: PublishPacer
  /** Settles when the dispatcher's restore did; publishes before that wait for it. */
  ready: Promise<void>
  /** Throws E_CLOSED once the dispatcher is closed. */
  checkOpen: () => void
}

export class PublishPath {
  /** Publishes accepted (appended, duplicates included). */
  published = 0
  /** gateway/ops' publish metrics (Dispatcher.observePublishes), called inside publish. */
  observer: PublishObserver | undefined = undefined
  /** `ready` has settled (fanin, issue 11: no await of it per publish after that). */
  private restored = false
  private readonly rate = new PublishRateLimiter()

  constructor (private readonly deps: PublishPathDeps) {
    void deps.ready.then(() => { this.restored = true })
  }

  /** publishTo with a promise: the same steps, one outcome (the promise's two functions are the sink). */
  publish (req: PublishRequest): Promise<PublishResult> {
    return new Promise((resolve, reject) => { this.publishTo(req, { published: resolve, failed: reject }) })
  }

  publishTo (req: PublishRequest, sink: PublishSink): void {
    if (!this.restored) { this.publishQueued(req).then((r) => { sink.published(r) }, (err: unknown) => { sink.failed(err) }); return }
    const o = this.observer
    const startedAt = o !== undefined ? o.started(req) : 0
    let namespace: string | undefined
    let policy: Readonly<NamespacePolicy>
    try {
      this.deps.checkOpen()
      namespace = publishNamespaceOf(req.topic, req.namespace)
      policy = this.admit(req, namespace)
    } catch (err) {
      o?.settled(req, namespace, undefined, startedAt)
      sink.failed(err)
      return
    }
    if (policy.backlogQuotaBytes >= 0) {
      this.publishQueued(req, startedAt, namespace, policy).then((r) => { sink.published(r) }, (err: unknown) => { sink.failed(err) })
      return
    }
    const op = new SinkAppend(this, req, sink, policy, namespace, o, startedAt)
    this.deps.ledger.appendTo(op, op)
  }

  /**
   * Publish after the restore, or through the backlog quota (admit may wait; eviction after the append).
   * Coming from publishTo, the observer has seen it start and the checks are done: `started` and `admitted` say so.
   */
  private async publishQueued (req: PublishRequest, started?: number, admittedNamespace?: string, admitted?: Readonly<NamespacePolicy>): Promise<PublishResult> {
    const o = this.observer
    const startedAt = started ?? (o !== undefined ? o.started(req) : 0)
    let namespace = admittedNamespace
    try {
      let policy = admitted
      if (namespace === undefined || policy === undefined) {
        if (!this.restored) await this.deps.ready
        this.deps.checkOpen()
        namespace = publishNamespaceOf(req.topic, req.namespace)
        policy = this.admit(req, namespace)
      }
      if (policy.backlogQuotaBytes >= 0) await this.deps.backlog.admit(req.topic, policy)
      const r = await this.append(req)
      if (policy.backlogPolicy === 'consumer_backlog_eviction' && policy.backlogQuotaBytes >= 0) await this.deps.backlog.evict(req.topic, policy)
      const result = this.resultOf(policy, r.topic, r.entryId, r.duplicate)
      o?.settled(req, namespace, result, startedAt)
      return result
    } catch (err) {
      o?.settled(req, namespace, undefined, startedAt)
      throw err
    }
  }

  /** The checks before a publish is stored; returns the namespace's policy. Throws the refusal. */
  private admit (req: PublishRequest, namespace: string): Readonly<NamespacePolicy> {
    const policy = this.deps.policies.get(namespace)
    if (!Buffer.isBuffer(req.payload)) throw new FerryError(CommonCode.BAD_REQUEST, 'payload must be bytes')
    if (req.payload.length > policy.maxMessageBytes) {
      throw new FerryError(CommonCode.TOO_LARGE, `payload of ${req.payload.length} bytes exceeds the namespace limit of ${policy.maxMessageBytes}`, { details: { maxMessageBytes: policy.maxMessageBytes } })
    }
    if (req.props !== undefined) checkProps(req.props)
    this.rate.take(namespace, policy.publishRateMsgsPerSec)
    return policy
  }

  private append (req: PublishRequest): Promise<AppendResult> {
    const props = req.props ?? {}
    // req.meta (mqtt/ inbound QoS 2 ids) travels in the message's own record.
    return this.deps.ledger.append(req.meta !== undefined ? { topic: req.topic, payload: req.payload, props, meta: req.meta } : { topic: req.topic, payload: req.payload, props })
  }

  /** A publish was stored (SinkAppend, publishQueued): count it, and pace a memory topic's publisher. */
  resultOf (policy: Readonly<NamespacePolicy>, topic: string, entryId: EntryId, duplicate: boolean): PublishResult {
    this.published++
    // fanin (issue 11): no fsync paces a memory topic's publishers; past the bound the front end reads on only once `paced` resolves.
    const paced = policy.durability === 'memory' ? this.deps.pacer.paced(topic) : undefined
    return paced === undefined ? { topic, entryId, duplicate } : { topic, entryId, duplicate, paced }
  }
}

/**
 * One publishTo's append (the common path: restored, no backlog quota): the ledger's AppendInput and its
 * AppendSink in one object, so a publish makes this one object where a promise chain with its closures was
 * (fanin, issue 11). The ledger holds it only until it has called it; the outcome goes on to the caller's
 * PublishSink (and the publish observer), once.
 */
class SinkAppend implements AppendInput, AppendSink {
  readonly topic: string
  readonly payload: Buffer
  readonly props: MessageProps
  /** req.meta (mqtt/ inbound QoS 2 ids) travels in the message's own record. */
  readonly meta: readonly MetaPut[] | undefined

  constructor (
    private readonly path: PublishPath,
    private readonly req: PublishRequest,
    private readonly sink: PublishSink,
    private readonly policy: Readonly<NamespacePolicy>,
    private readonly namespace: string,
    private readonly observer: PublishObserver | undefined,
    private readonly startedAt: number
  ) {
    this.topic = req.topic
    this.payload = req.payload
    this.props = req.props ?? {}
    this.meta = req.meta
  }

  appended (entryId: EntryId, _lsn: Lsn, duplicate: boolean): void {
    const result = this.path.resultOf(this.policy, this.topic, entryId, duplicate)
    this.observer?.settled(this.req, this.namespace, result, this.startedAt)
    this.sink.published(result)
  }

  appendFailed (err: unknown): void {
    this.observer?.settled(this.req, this.namespace, undefined, this.startedAt)
    this.sink.failed(err)
  }
}
