/**
 * The dispatch loop of one subscription, in rounds:
 *
 * 1. fill the read-ahead window (READ_AHEAD_ENTRIES_MAX / _BYTES_MAX over
 *    all the subscription's streams, reads of READ_BATCH_ENTRIES_MAX);
 * 2. start loading due redeliveries (the host, within REDELIVERY_LOADS_MAX);
 * 3. pick up to DISPATCH_ROUND_ENTRIES_MAX entries, DISPATCH_TURN_ENTRIES_MAX
 *    per stream per turn, so topics of a wildcard subscription take turns;
 * 4. persist the delivery counts of the round, one call per topic, when the
 *    namespace hardens them;
 * 5. hand the entries to the sinks once the counts are durable, checking
 *    expiry once more (never hand out an expired message).
 *
 * Up to DISPATCH_ROUNDS_IN_FLIGHT_MAX rounds wait on their count writes at
 * once (a sync ledger group-commits them), but they reach the sinks in pick
 * order. A round is started by a microtask or setImmediate, never from inside
 * a caller.
 */
import type { Logger } from '../../common/log.js'
import type { NamespacePolicy } from '../policy/index.js'
import {
  DISPATCH_ROUND_ENTRIES_MAX, DISPATCH_ROUNDS_IN_FLIGHT_MAX, DISPATCH_TURN_ENTRIES_MAX, READ_AHEAD_BYTES_MAX, READ_AHEAD_ENTRIES_MAX
} from './constants.js'
import { InflightState } from './inflight.js'
import { expiresAtOf } from './outcomes.js'
import type { Pick, TopicStream } from './stream.js'
import type { Delivery } from './types.js'

export interface LoopHost {
  readonly name: string
  readonly logger: Logger
  readonly policy: Readonly<NamespacePolicy>
  /** Closed, or nobody attached: no round runs. */
  readonly idle: boolean
  /** Start loading the redeliveries that are due. */
  loadDue: (now: number) => void
  /** Called after every round. */
  afterRound: () => void
  /** A round reached the sinks at nowMs (arms the ack timeout). */
  handedOut: (nowMs: number) => void
  delivered: (redelivery: boolean) => void
}

const yieldToLoop = async (): Promise<void> => { await new Promise<void>((resolve) => setImmediate(resolve)) }

export class DispatchLoop {
  /** Streams with entries in their window or ready list. */
  private readonly activeStreams = new Set<TopicStream>()
  /** Streams that may have something to read. */
  private readonly hungry = new Set<TopicStream>()
  windowEntries = 0
  windowBytes = 0
  private running = false
  private again = false
  private stopped = false
  /** Rounds picked whose hand-out has not finished; their chain keeps hand-outs in pick order. */
  private roundsInFlight = 0
  private handing: Promise<void> = Promise.resolve()

  constructor (private readonly host: LoopHost) {}

  markActive (s: TopicStream): void { this.activeStreams.add(s) }
  wantRead (s: TopicStream): void { this.hungry.add(s) }
  get wantsRead (): boolean { return this.hungry.size > 0 }
  /** The subscription dropped an idle stream (topics: subscription.ts dropStream). */
  forget (s: TopicStream): void { this.activeStreams.delete(s); this.hungry.delete(s) }
  windowRoom (): { entries: number, bytes: number } {
    return { entries: READ_AHEAD_ENTRIES_MAX - this.windowEntries, bytes: READ_AHEAD_BYTES_MAX - this.windowBytes }
  }

  stop (): void { this.stopped = true }

  /** Ask for a round soon (never synchronously: callers may be inside a sink or an ack). */
  kick (): void {
    if (this.stopped) return
    if (this.running) { this.again = true; return }
    this.running = true
    queueMicrotask(() => { this.run().catch((err: unknown) => { this.host.logger.error({ err, subscription: this.host.name }, 'dispatch loop failed') }) })
  }

  private async run (): Promise<void> {
    try {
      let first = true
      do {
        if (!first) await yieldToLoop()
        first = false
        this.again = false
        if (this.stopped || this.host.idle) break
        this.fillReadAhead()
        this.host.loadDue(Date.now())
        const picks: Pick[] = []
        const worked = this.pickRound(picks)
        if (picks.length > 0) {
          this.startHand(picks)
          if (this.roundsInFlight >= DISPATCH_ROUNDS_IN_FLIGHT_MAX) await this.handing
        }
        if (worked >= DISPATCH_ROUND_ENTRIES_MAX) this.again = true
        this.host.afterRound()
      } while (this.again)
    } finally {
      this.running = false
    }
  }

  private fillReadAhead (): void {
    for (const s of [...this.hungry]) {
      if (this.windowEntries >= READ_AHEAD_ENTRIES_MAX || this.windowBytes >= READ_AHEAD_BYTES_MAX) return
      if (!s.startRead()) this.hungry.delete(s)
    }
  }

  /** Take entries from the streams in turn, DISPATCH_TURN_ENTRIES_MAX each, up to DISPATCH_ROUND_ENTRIES_MAX. */
  private pickRound (picks: Pick[]): number {
    let budget = DISPATCH_ROUND_ENTRIES_MAX
    let progress = true
    while (budget > 0 && progress) {
      progress = false
      for (const s of [...this.activeStreams]) {
        if (budget <= 0) break
        const worked = s.pick(picks, Math.min(DISPATCH_TURN_ENTRIES_MAX, budget))
        budget -= worked
        if (worked > 0) progress = true
        if (!s.hasWork) {
          this.activeStreams.delete(s)
        } else if (worked > 0) {
          // Rotate: a stream that was served goes to the back.
          this.activeStreams.delete(s)
          this.activeStreams.add(s)
        }
      }
      if (budget > 0 && this.hungry.size > 0) this.fillReadAhead()
    }
    return DISPATCH_ROUND_ENTRIES_MAX - budget
  }

  /** Persist the round's counts and queue its hand-out behind the rounds before it. */
  private startHand (picks: Pick[]): void {
    const persisted = this.persistCounts(picks)
    this.roundsInFlight++
    this.handing = this.handing.then(async () => {
      if (await persisted) this.deliverPicks(picks)
    }).catch((err: unknown) => {
      this.host.logger.error({ err, subscription: this.host.name }, 'handing out a round failed')
    }).finally(() => { this.roundsInFlight-- })
  }

  /** True once the counts are durable (or hardening is off); false after a failure (the picks are nacked). */
  private async persistCounts (picks: Pick[]): Promise<boolean> {
    if (!this.host.policy.hardenRedeliveryCount) return true
    const byStream = new Map<TopicStream, number[]>()
    for (const p of picks) {
      let ids = byStream.get(p.stream)
      if (ids === undefined) { ids = []; byStream.set(p.stream, ids) }
      ids.push(p.entry.entryId)
    }
    // Every stream's write is waited for before deciding (as allSettled would, without its result objects and an
    // async closure per stream: ~10% of the gateway's bytes in an allocation sample of the open-loop run), each
    // with its handler attached at once (a rejection must never be unhandled while an earlier one is awaited).
    const pending: Array<Promise<{ err: unknown } | undefined>> = []
    for (const [s, ids] of byStream) pending.push(s.recordDeliveries(ids).then(() => undefined, (err: unknown) => ({ err })))
    let failure: { err: unknown } | undefined
    for (const p of pending) {
      const r = await p
      if (failure === undefined) failure = r
    }
    return failure === undefined ? true : this.notPersisted(picks, failure.err)
  }

  /** Not persisted: do not hand out (the count would be wrong after a crash); redeliver later. */
  private notPersisted (picks: Pick[], err: unknown): false {
    this.host.logger.warn({ err, subscription: this.host.name }, 'recording deliveries failed; entries will be redelivered')
    for (const p of picks) if (p.rec.state === InflightState.delivered) p.stream.nack([p.entry.entryId], 'delivery count not persisted', Date.now())
    return false
  }

  private deliverPicks (picks: Pick[]): void {
    const now = Date.now()
    this.host.handedOut(now)
    for (const p of picks) {
      const { rec, consumer, entry } = p
      if (rec.state !== InflightState.delivered || rec.consumer !== consumer || consumer.closed) continue
      // The count write may have taken a while: never hand out what expired meanwhile.
      const expiresAt = expiresAtOf(entry, this.host.policy)
      if (expiresAt !== undefined && expiresAt <= now) { p.stream.expiredBeforeHandOut(p); continue }
      rec.deliveredAtMs = now
      this.host.delivered(p.redeliveryCount > 0)
      const d: Delivery = {
        topic: p.stream.topic,
        entryId: entry.entryId,
        subscription: this.host.name,
        publishTime: entry.publishTime,
        payload: entry.payload,
        props: entry.props,
        redeliveryCount: p.redeliveryCount
      }
      if (expiresAt !== undefined) d.expiresAt = expiresAt
      try {
        consumer.sink.deliver(d)
      } catch (err) {
        this.host.logger.warn({ err, subscription: this.host.name }, 'sink.deliver threw; message will be redelivered')
        p.stream.nack([entry.entryId], 'consumer failed', Date.now())
      }
    }
  }

  /** A stream forgot its window: it is no longer active and reads again. */
  rewound (s: TopicStream): void {
    this.activeStreams.delete(s)
    this.hungry.add(s)
  }

  windowChanged (entries: number, bytes: number): void {
    this.windowEntries += entries
    this.windowBytes += bytes
  }
}
