/**
 * HTTP pull consumers. HTTP requests come and go, but a dispatcher consumer
 * has to stay attached for flow control, ordering and failover to mean
 * anything; so one dispatcher Consumer per (topic or filter, subscription,
 * mode, consumer name) stays alive across requests:
 *
 * - A request asks for up to `max` messages. Buffered ones are returned at
 *   once; otherwise the consumer gets permits for what the request wants and
 *   the request waits up to `waitMs` for deliveries. `waitMs=0` still waits
 *   (at most `pullReadyWaitMs`) for messages already in the backlog to come
 *   up from the store, unless the backlog is visibly empty.
 * - Permits granted never exceed `pullBufferMessagesMax` minus what is already
 *   buffered, nor `pullLeasedMessagesMax` minus what is under lease.
 * - Every message handed to a client is leased for the request's `leaseMs`
 *   (pull-leases.ts): not acked in time, it is nacked and redelivered.
 * - A message whose expiry (`expiresAt`, namespace `messageTtlMs`) passed
 *   while it waited in the buffer is never handed out: it goes back to the
 *   dispatcher as expired (counted, result event).
 * - With no request for `pullConsumerIdleMs` the consumer is closed; messages
 *   it buffered (or handed out and nobody acked) go back to the subscription.
 *   Opening, idling and closing consumers is pull-sessions.ts's job; this
 *   file hands out what they deliver.
 *
 * Acks and nacks need no consumer: they go to the subscription (and end the
 * messages' leases here).
 */
import { FerryError, CommonCode } from '../../common/errors.js'
import type { Logger } from '../../common/log.js'
import type { Ledger } from '../../store/index.js'
import type { Consumer, Delivery, Dispatcher, SubscriptionMode } from '../dispatch/index.js'
import { DispatchCode, isWildcardFilter } from '../dispatch/index.js'
import { PULL_WAITERS_PER_CONSUMER_MAX, type HttpLimits } from './constants.js'
import type { LeasedMessage } from './pull-leases.js'
import { PullSessions, type PullSession, type Waiter } from './pull-sessions.js'

export interface PullRequest {
  namespace: string
  /** Topic or topic filter local to the namespace. */
  local: string
  /** `namespace/local`: the full topic, or the filter in full. */
  topic: string
  subscription: string
  mode: SubscriptionMode
  consumerName: string
  initialPosition: 'latest' | 'earliest'
  /** Geo-replicated subscription (query parameter `replicated=true`). */
  replicated?: boolean
  max: number
  waitMs: number
  /** How long the client has to ack what this request returns. */
  leaseMs: number
  signal: AbortSignal
}

export interface PullEnv {
  dispatcher: Dispatcher
  /** Read-only looks at topics and cursors (is a backlog visibly empty?). */
  ledger: Pick<Ledger, 'topicInfo' | 'cursors'>
}

export interface PullStats {
  pullConsumers: number
  pullBufferedMessages: number
  pullLeasedMessages: number
  /** Leases that ran out: the message went back to its subscription for redelivery. */
  pullLeasesExpired: number
  /** Messages that expired in a pull buffer and were never handed out. */
  pullExpiredBeforeHandOut: number
}

export class PullConsumers {
  private readonly sessions: PullSessions
  private leasesExpired = 0
  private expiredBeforeHandOut = 0

  constructor (
    private readonly env: PullEnv,
    private readonly limits: HttpLimits,
    private readonly logger: Logger
  ) {
    this.sessions = new PullSessions(env.dispatcher, limits, logger, {
      deliver: (s, d) => { this.deliver(s, d) },
      leaseExpired: (s, messages) => { this.onLeaseExpired(s, messages) }
    })
  }

  get size (): number { return this.sessions.size }

  bufferedMessages (): number {
    let n = 0
    for (const s of this.sessions.values()) n += s.buffer.length
    return n
  }

  stats (): PullStats {
    let leased = 0
    for (const s of this.sessions.values()) leased += s.leases.size
    return {
      pullConsumers: this.sessions.size,
      pullBufferedMessages: this.bufferedMessages(),
      pullLeasedMessages: leased,
      pullLeasesExpired: this.leasesExpired,
      pullExpiredBeforeHandOut: this.expiredBeforeHandOut
    }
  }

  /** Messages for one pull request: what is ready at once, else wait up to waitMs. */
  async pull (req: PullRequest): Promise<Delivery[]> {
    const session = await this.sessions.session(req)
    if (session.closedBy !== undefined) throw session.closedBy
    this.dropExpired(session)
    if (session.buffer.length > 0 && session.waiters.length === 0) {
      const out = this.handOut(session, req.max, req.leaseMs)
      this.grant(session, req.max)
      this.sessions.armIdle(session)
      return out
    }
    this.grant(session, req.max)
    if (req.signal.aborted) { this.sessions.armIdle(session); return [] }
    let waitMs = req.waitMs
    if (waitMs === 0) {
      if (this.backlogVisiblyEmpty(session, req)) { this.sessions.armIdle(session); return [] }
      waitMs = this.limits.pullReadyWaitMs
    }
    if (session.waiters.length >= PULL_WAITERS_PER_CONSUMER_MAX) {
      throw new FerryError(CommonCode.LIMIT, `more than ${PULL_WAITERS_PER_CONSUMER_MAX} requests waiting on consumer ${req.consumerName}`)
    }
    if (session.idleTimer !== undefined) { clearTimeout(session.idleTimer); session.idleTimer = undefined }
    return await new Promise<Delivery[]>((resolve, reject) => {
      const w: Waiter = {
        max: req.max,
        leaseMs: req.leaseMs,
        resolve,
        reject,
        timer: undefined,
        signal: req.signal,
        onAbort: () => { this.removeWaiter(session, w); resolve([]) }
      }
      w.timer = setTimeout(() => { this.removeWaiter(session, w); resolve([]) }, waitMs)
      req.signal.addEventListener('abort', w.onAbort, { once: true })
      session.waiters.push(w)
    })
  }

  /** Messages a request took but could not send (client went away, response full): first in line for the next request. */
  putBack (req: PullRequest, deliveries: Delivery[]): void {
    const s = this.sessions.get(req)
    if (s === undefined || deliveries.length === 0) return
    for (const d of deliveries) s.leases.release(d.topic, d.entryId)
    s.buffer.unshift(...deliveries)
    this.flush(s)
  }

  /** A live pull consumer of (topic or filter, subscription), if any: acking through it reaches exactly that subscription. */
  consumerOf (topic: string, subscription: string): Consumer | undefined {
    for (const s of this.sessions.ofSubscription(topic, subscription)) if (s.consumer !== undefined) return s.consumer
    return undefined
  }

  /** The client acked or nacked these messages of (topic or filter, subscription): their leases end. */
  settled (topic: string, subscription: string, messages: readonly LeasedMessage[]): void {
    for (const s of this.sessions.ofSubscription(topic, subscription)) {
      for (const m of messages) s.leases.release(m.topic, m.entryId)
    }
  }

  /** Close every pull consumer of a subscription (it is being deleted). */
  async closeSubscription (topic: string, subscription: string): Promise<void> {
    const victims = [...this.sessions.ofSubscription(topic, subscription)]
    await Promise.all(victims.map(async (s) => { await this.sessions.closeSession(s, new FerryError(DispatchCode.SUBSCRIPTION_DELETED, 'subscription deleted')) }))
  }

  async close (): Promise<void> {
    await this.sessions.close()
  }

  // ---- delivery and hand-out ----------------------------------------------------

  private deliver (s: PullSession, d: Delivery): void {
    s.outstandingPermits = Math.max(0, s.outstandingPermits - 1)
    s.buffer.push(d)
    // Answer on the next turn of the event loop, not at once: deliveries the
    // dispatcher hands out together then leave in one response.
    if (!s.flushScheduled) {
      s.flushScheduled = true
      setImmediate(() => { s.flushScheduled = false; this.flush(s) })
    }
  }

  private flush (s: PullSession): void {
    if (s.closedBy !== undefined) return
    this.dropExpired(s)
    while (s.waiters.length > 0 && s.buffer.length > 0) {
      const w = s.waiters.shift() as Waiter
      s.settle(w)
      w.resolve(this.handOut(s, w.max, w.leaseMs))
    }
    // Expired messages used permits: whoever still waits asks again.
    const next = s.waiters[0]
    if (next !== undefined) this.grant(s, next.max)
    this.sessions.armIdle(s)
  }

  /** Take up to max buffered messages for a client and lease them. */
  private handOut (s: PullSession, max: number, leaseMs: number): Delivery[] {
    const out = s.buffer.splice(0, max)
    s.leases.lease(out, Date.now() + leaseMs)
    return out
  }

  /**
   * Messages that expired while buffered (Delivery.expiresAt: their own
   * expiry or the namespace's messageTtlMs) go back to the dispatcher as
   * expired (Consumer.expire: acknowledged, counted, result event). Checked
   * at every hand-out, so none reaches a client.
   */
  private dropExpired (s: PullSession): void {
    if (s.buffer.length === 0) return
    const now = Date.now()
    let kept = 0
    for (const d of s.buffer) {
      if (d.expiresAt === undefined || d.expiresAt > now) { s.buffer[kept++] = d; continue }
      this.expiredBeforeHandOut++
      s.consumer?.expire(d.topic, d.entryId)
    }
    s.buffer.length = kept
  }

  private onLeaseExpired (s: PullSession, messages: LeasedMessage[]): void {
    if (s.consumer === undefined) return // closed: the dispatcher already took them back
    this.leasesExpired += messages.length
    for (const m of messages) s.consumer.nack(m.topic, m.entryId, 'pull lease expired')
    this.logger.debug({ topic: s.topic, subscription: s.subscription, messages: messages.length }, 'pull leases expired; redelivering')
  }

  /**
   * True when this request can have nothing right now: a single topic that
   * is empty, or whose subscription cursor has acknowledged everything. The
   * cursor of a single-topic subscription is named after it (dispatch/types.ts).
   * Wildcard filters are not looked into (that would visit every topic).
   */
  private backlogVisiblyEmpty (s: PullSession, req: PullRequest): boolean {
    if (s.buffer.length > 0 || isWildcardFilter(req.local)) return false
    const info = this.env.ledger.topicInfo(req.topic)
    if (info === undefined || info.nextEntryId === info.firstEntryId) return true
    const cursor = this.env.ledger.cursors(req.topic).find((c) => c.subscription === req.subscription)
    return cursor !== undefined && cursor.markDelete() + 1 >= info.nextEntryId
  }

  private removeWaiter (s: PullSession, w: Waiter): void {
    const i = s.waiters.indexOf(w)
    if (i >= 0) s.waiters.splice(i, 1)
    s.settle(w)
    this.sessions.armIdle(s)
  }

  private grant (s: PullSession, wanted: number): void {
    const held = s.buffer.length + s.outstandingPermits
    const room = Math.min(this.limits.pullBufferMessagesMax - held, this.limits.pullLeasedMessagesMax - s.leases.size - held)
    const add = Math.min(wanted - s.outstandingPermits, room)
    if (add <= 0 || s.consumer === undefined) return
    s.outstandingPermits += add
    s.consumer.addPermits(add)
  }
}
