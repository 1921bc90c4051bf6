/**
 * The pull consumers' lifecycle (pull.ts hands out their deliveries): which
 * sessions exist, by (topic or filter, subscription, mode, consumer name) and
 * by (topic or filter, subscription) for acks; opening one (a dispatcher
 * subscribe, at most one at a time per key, at most `pullConsumersMax` on the
 * gateway); the idle timer that closes one after `pullConsumerIdleMs` with no
 * request; and closing one, when idle, when its subscription is deleted, or
 * when the gateway closes, so that what it buffered or leased goes back to the
 * subscription. Kept apart from pull.ts because when a consumer exists is a
 * separate question from what a request gets from it.
 */
import { FerryError, CommonCode } from '../../common/errors.js'
import type { Logger } from '../../common/log.js'
import type { Consumer, Delivery, Dispatcher } from '../dispatch/index.js'
import type { HttpLimits } from './constants.js'
import { LeaseBook, type LeasedMessage } from './pull-leases.js'
import type { PullRequest } from './pull.js'

export interface Waiter {
  max: number
  leaseMs: number
  resolve: (deliveries: Delivery[]) => void
  reject: (err: FerryError) => void
  timer: NodeJS.Timeout | undefined
  onAbort: () => void
  signal: AbortSignal
}

export class PullSession {
  consumer: Consumer | undefined
  readonly buffer: Delivery[] = []
  /** Permits granted to the dispatcher and not yet used by a delivery. */
  outstandingPermits = 0
  readonly waiters: Waiter[] = []
  idleTimer: NodeJS.Timeout | undefined
  flushScheduled = false
  closedBy: FerryError | undefined
  readonly leases: LeaseBook

  constructor (
    readonly key: string,
    readonly topic: string,
    readonly subscription: string,
    onLeaseExpired: (s: PullSession, messages: LeasedMessage[]) => void
  ) {
    this.leases = new LeaseBook((messages) => { onLeaseExpired(this, messages) })
  }

  settle (w: Waiter): void {
    if (w.timer !== undefined) clearTimeout(w.timer)
    w.signal.removeEventListener('abort', w.onAbort)
  }

  /** The dispatcher or the idle lease ended this consumer: fail whoever waits. */
  end (reason: FerryError): void {
    if (this.closedBy !== undefined) return
    this.closedBy = reason
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer)
    for (const w of this.waiters.splice(0)) { this.settle(w); w.reject(reason) }
    this.buffer.length = 0
    this.leases.close()
  }
}

/** What pull.ts does with a session's traffic: the dispatcher's deliveries and the leases that ran out. */
export interface PullSessionHooks {
  deliver: (s: PullSession, d: Delivery) => void
  leaseExpired: (s: PullSession, messages: LeasedMessage[]) => void
}

export class PullSessions {
  private readonly sessions = new Map<string, PullSession>()
  /** Sessions by (topic or filter, subscription): where acks end leases. */
  private readonly bySubscription = new Map<string, Set<PullSession>>()
  private readonly opening = new Map<string, Promise<PullSession>>()
  private closing = false

  constructor (
    private readonly dispatcher: Dispatcher,
    private readonly limits: HttpLimits,
    private readonly logger: Logger,
    private readonly hooks: PullSessionHooks
  ) {}

  get size (): number { return this.sessions.size }

  values (): IterableIterator<PullSession> { return this.sessions.values() }

  /** The open session for this request's key, if any (none is opened). */
  get (req: PullRequest): PullSession | undefined { return this.sessions.get(keyOf(req)) }

  /** Open sessions of (topic or filter, subscription). */
  ofSubscription (topic: string, subscription: string): Iterable<PullSession> {
    return this.bySubscription.get(subKeyOf(topic, subscription)) ?? []
  }

  /** Start the idle clock when nobody waits; a waiting request keeps the consumer. */
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

  async closeSession (s: PullSession, reason: FerryError): Promise<void> {
    this.forget(s)
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

  /** Refuse new sessions, let those being opened finish, then close every one. */
  async close (): Promise<void> {
    this.closing = true
    await Promise.allSettled([...this.opening.values()])
    const all = [...this.sessions.values()]
    await Promise.all(all.map(async (s) => { await this.closeSession(s, new FerryError(CommonCode.CLOSED, 'gateway closing')) }))
  }

  /** The session for this request: the open one, the one being opened, or a new one. */
  async session (req: PullRequest): Promise<PullSession> {
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

  private forget (s: PullSession): void {
    if (this.sessions.get(s.key) === s) this.sessions.delete(s.key)
    const k = subKeyOf(s.topic, s.subscription)
    const set = this.bySubscription.get(k)
    set?.delete(s)
    if (set?.size === 0) this.bySubscription.delete(k)
  }

  private async open (key: string, req: PullRequest): Promise<PullSession> {
    const s = new PullSession(key, req.topic, req.subscription, (session, messages) => { this.hooks.leaseExpired(session, messages) })
    s.consumer = await this.dispatcher.subscribe({
      namespace: req.namespace,
      filter: req.local,
      subscription: req.subscription,
      mode: req.mode,
      durable: true,
      initialPosition: req.initialPosition,
      ...(req.replicated === true ? { replicated: true } : {}),
      consumerName: req.consumerName,
      // Permits are granted per request (pull.ts grant); none until someone asks.
      permits: 0,
      sink: {
        deliver: (d) => { this.hooks.deliver(s, d) },
        closed: (reason) => {
          this.forget(s)
          s.consumer = undefined
          s.end(reason)
        }
      }
    })
    if (s.closedBy !== undefined) throw s.closedBy
    this.sessions.set(key, s)
    const k = subKeyOf(s.topic, s.subscription)
    let set = this.bySubscription.get(k)
    if (set === undefined) { set = new Set(); this.bySubscription.set(k, set) }
    set.add(s)
    return s
  }
}

function keyOf (r: { topic: string, subscription: string, mode: string, consumerName: string }): string {
  return `${r.topic}\u0000${r.subscription}\u0000${r.mode}\u0000${r.consumerName}`
}

function subKeyOf (topic: string, subscription: string): string {
  return `${topic}\u0000${subscription}`
}
