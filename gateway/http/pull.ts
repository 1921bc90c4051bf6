/**
 * HTTP pull consumers. HTTP requests come and go, but a dispatcher consumer
 * has to stay attached for flow control, ordering and failover to mean
 * anything; so one dispatcher Consumer per (topic, subscription, mode,
 * consumer name) stays alive across requests on a lease:
 *
 * - A request asks for up to `max` messages. Buffered ones are returned at
 *   once; otherwise the consumer gets permits for what the request wants and
 *   the request waits up to `waitMs` for deliveries.
 * - Permits granted never exceed `pullBufferMessagesMax` minus what is already
 *   buffered, so a consumer never holds more than that many messages that no
 *   client has seen.
 * - With no request for `pullConsumerIdleMs` the consumer is closed; messages
 *   it buffered (or handed out and nobody acked) go back to the subscription.
 *
 * Acks and nacks do not need the consumer: they go to the subscription.
 */
import { FerryError, CommonCode } from '../../common/errors.js'
import type { Logger } from '../../common/log.js'
import type { Consumer, Delivery, Dispatcher, SubscriptionMode } from '../dispatch/types.js'
import { DispatchCode } from '../dispatch/index.js'
import { PULL_WAITERS_PER_CONSUMER_MAX, type HttpLimits } from './constants.js'

export interface PullRequest {
  namespace: string
  local: string
  topic: string
  subscription: string
  mode: SubscriptionMode
  consumerName: string
  initialPosition: 'latest' | 'earliest'
  max: number
  waitMs: number
  signal: AbortSignal
}

interface Waiter {
  max: number
  resolve: (deliveries: Delivery[]) => void
  reject: (err: FerryError) => void
  timer: NodeJS.Timeout | undefined
  onAbort: () => void
  signal: AbortSignal
}

class PullSession {
  consumer: Consumer | undefined
  readonly buffer: Delivery[] = []
  /** Permits granted to the dispatcher and not yet used by a delivery. */
  outstandingPermits = 0
  readonly waiters: Waiter[] = []
  idleTimer: NodeJS.Timeout | undefined
  flushScheduled = false
  closedBy: FerryError | undefined

  constructor (
    readonly key: string,
    readonly topic: string,
    readonly subscription: string,
    private readonly owner: PullConsumers
  ) {}

  deliver (d: Delivery): void {
    this.outstandingPermits = Math.max(0, this.outstandingPermits - 1)
    this.buffer.push(d)
    // Answer on the next turn of the event loop, not at once: deliveries the
    // dispatcher hands out together then leave in one response.
    if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(() => { this.flushScheduled = false; this.flush() })
    }
  }

  flush (): void {
    while (this.waiters.length > 0 && this.buffer.length > 0) {
      const w = this.waiters.shift() as Waiter
      this.settle(w)
      w.resolve(this.buffer.splice(0, w.max))
    }
    this.owner.armIdle(this)
  }

  settle (w: Waiter): void {
    if (w.timer !== undefined) clearTimeout(w.timer)
    w.signal.removeEventListener('abort', w.onAbort)
  }

  removeWaiter (w: Waiter): void {
    const i = this.waiters.indexOf(w)
    if (i >= 0) this.waiters.splice(i, 1)
    this.settle(w)
    this.owner.armIdle(this)
  }

  /** The dispatcher or the lease ended this consumer: fail whoever waits. */
  end (reason: FerryError): void {
    if (this.closedBy !== undefined) return
    this.closedBy = reason
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer)
    for (const w of this.waiters.splice(0)) { this.settle(w); w.reject(reason) }
    this.buffer.length = 0
  }
}

export class PullConsumers {
  private readonly sessions = new Map<string, PullSession>()
  private readonly opening = new Map<string, Promise<PullSession>>()
  private closing = false

  constructor (
    private readonly dispatcher: Dispatcher,
    private readonly limits: HttpLimits,
    private readonly logger: Logger
  ) {}

  get size (): number { return this.sessions.size }

  bufferedMessages (): number {
    let n = 0
    for (const s of this.sessions.values()) n += s.buffer.length
    return n
  }

  /** Messages for one pull request: buffered ones at once, else wait up to waitMs. */
  async pull (req: PullRequest): Promise<Delivery[]> {
    const session = await this.session(req)
    if (session.closedBy !== undefined) throw session.closedBy
    if (session.buffer.length > 0 && session.waiters.length === 0) {
      const out = session.buffer.splice(0, req.max)
      this.grant(session, req.max)
      this.armIdle(session)
      return out
    }
    this.grant(session, req.max)
    if (req.waitMs === 0 || req.signal.aborted) { this.armIdle(session); return [] }
    if (session.waiters.length >= PULL_WAITERS_PER_CONSUMER_MAX) {
      throw new FerryError(CommonCode.LIMIT, `more than ${PULL_WAITERS_PER_CONSUMER_MAX} requests waiting on consumer ${req.consumerName}`)
    }
    if (session.idleTimer !== undefined) { clearTimeout(session.idleTimer); session.idleTimer = undefined }
    return await new Promise<Delivery[]>((resolve, reject) => {
      const w: Waiter = {
        max: req.max,
        resolve,
        reject,
        timer: undefined,
        signal: req.signal,
        onAbort: () => { session.removeWaiter(w); resolve([]) }
      }
      w.timer = setTimeout(() => { session.removeWaiter(w); resolve([]) }, req.waitMs)
      req.signal.addEventListener('abort', w.onAbort, { once: true })
      session.waiters.push(w)
    })
  }

  /** Messages a request took but could not send (client went away): first in line for the next request. */
  putBack (req: PullRequest, deliveries: Delivery[]): void {
    const s = this.sessions.get(keyOf(req))
    if (s === undefined || deliveries.length === 0) return
    s.buffer.unshift(...deliveries)
    s.flush()
  }

  /** Close every pull consumer of a subscription (it is being deleted). */
  async closeSubscription (topic: string, subscription: string): Promise<void> {
    const victims = [...this.sessions.values()].filter((s) => s.topic === topic && s.subscription === subscription)
    await Promise.all(victims.map(async (s) => { await this.closeSession(s, new FerryError(DispatchCode.SUBSCRIPTION_DELETED, 'subscription deleted')) }))
  }

  async close (): Promise<void> {
    this.closing = true
    await Promise.allSettled([...this.opening.values()])
    const all = [...this.sessions.values()]
    await Promise.all(all.map(async (s) => { await this.closeSession(s, new FerryError(CommonCode.CLOSED, 'gateway closing')) }))
  }

  /** Start the lease clock when nobody waits; a waiting request holds the lease. */
  armIdle (s: PullSession): void {
    if (s.closedBy !== undefined) return
    if (s.idleTimer !== undefined) clearTimeout(s.idleTimer)
    s.idleTimer = undefined
    if (s.waiters.length > 0) return
    s.idleTimer = setTimeout(() => {
      this.logger.debug({ topic: s.topic, subscription: s.subscription }, 'pull consumer idle, closing')
      void this.closeSession(s, new FerryError(CommonCode.CLOSED, 'pull consumer idle'))
    }, this.limits.pullConsumerIdleMs)
    s.idleTimer.unref()
  }

  private grant (s: PullSession, wanted: number): void {
    const room = this.limits.pullBufferMessagesMax - s.buffer.length - s.outstandingPermits
    const add = Math.min(wanted - s.outstandingPermits, room)
    if (add <= 0 || s.consumer === undefined) return
    s.outstandingPermits += add
    s.consumer.addPermits(add)
  }

  private async closeSession (s: PullSession, reason: FerryError): Promise<void> {
    if (this.sessions.get(s.key) === s) this.sessions.delete(s.key)
    s.end(reason)
    const c = s.consumer
    s.consumer = undefined
    if (c !== undefined) {
      try {
        await c.close()
      } catch (err) {
        this.logger.warn({ err, topic: s.topic, subscription: s.subscription }, 'closing pull consumer failed')
      }
    }
  }

  private async session (req: PullRequest): Promise<PullSession> {
    if (this.closing) throw new FerryError(CommonCode.CLOSED, 'gateway closing')
    const key = keyOf(req)
    const existing = this.sessions.get(key)
    if (existing !== undefined) return existing
    const pending = this.opening.get(key)
    if (pending !== undefined) return await pending
    if (this.sessions.size + this.opening.size >= this.limits.pullConsumersMax) {
      throw new FerryError(CommonCode.LIMIT, `more than ${this.limits.pullConsumersMax} pull consumers on this gateway`)
    }
    const p = this.open(key, req)
    this.opening.set(key, p)
    try {
      return await p
    } finally {
      this.opening.delete(key)
    }
  }

  private async open (key: string, req: PullRequest): Promise<PullSession> {
    const s = new PullSession(key, req.topic, req.subscription, this)
    s.consumer = await this.dispatcher.subscribe({
      namespace: req.namespace,
      filter: req.local,
      subscription: req.subscription,
      mode: req.mode,
      durable: true,
      initialPosition: req.initialPosition,
      consumerName: req.consumerName,
      // Permits are granted per request (see grant); none until someone asks.
      permits: 0,
      sink: {
        deliver: (d) => { s.deliver(d) },
        closed: (reason) => {
          if (this.sessions.get(key) === s) this.sessions.delete(key)
          s.consumer = undefined
          s.end(reason)
        }
      }
    })
    if (s.closedBy !== undefined) throw s.closedBy
    this.sessions.set(key, s)
    return s
  }
}

function keyOf (r: { topic: string, subscription: string, mode: string, consumerName: string }): string {
  return `${r.topic}\u0000${r.subscription}\u0000${r.mode}\u0000${r.consumerName}`
}
