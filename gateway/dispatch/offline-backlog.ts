/**
 * The backlog of a subscription's topics that have no stream (offline topics: only a cursor), for stats.
 *
 * Small subscriptions sum it on the spot, exactly. One spanning more than
 * STATS_BACKLOG_SYNC_TOPICS_MAX topics sums it in a background pass of
 * STATS_BACKLOG_SLICE_TOPICS topics per loop turn, at most every
 * STATS_BACKLOG_PASS_INTERVAL_MS, and stats show the last completed pass
 * (0 until the first one ends): a stats call never walks a million topics on
 * the event loop. The figure is an observation, not a bound anything enforces
 * (backlog quotas count the ledger's bytes, not this).
 */
import type { Ledger, TopicName } from '../../store/index.js'
import type { SpannedView } from './spanned-topics.js'
import { STATS_BACKLOG_PASS_INTERVAL_MS, STATS_BACKLOG_SLICE_TOPICS, STATS_BACKLOG_SYNC_TOPICS_MAX } from './constants.js'

export class OfflineBacklog {
  private last = 0
  private lastEndedMs = -Infinity
  private running = false
  private stopped = false

  constructor (
    private readonly ledger: Ledger,
    private readonly cursorName: string,
    private readonly spanned: Pick<SpannedView, 'size' | 'values'>,
    private readonly hasStream: (topic: TopicName) => boolean
  ) {}

  /** Entries not yet acknowledged on spanned topics without a stream (exact for small subscriptions). */
  entries (nowMs: number): number {
    if (this.spanned.size <= STATS_BACKLOG_SYNC_TOPICS_MAX) return this.sumAll()
    if (!this.running && !this.stopped && nowMs - this.lastEndedMs >= STATS_BACKLOG_PASS_INTERVAL_MS) this.startPass()
    return this.last
  }

  stop (): void {
    this.stopped = true
  }

  private sumAll (): number {
    let n = 0
    for (const topic of this.spanned.values()) if (!this.hasStream(topic)) n += this.ledger.cursorBacklog(topic, this.cursorName) ?? 0
    return n
  }

  private startPass (): void {
    this.running = true
    // A Set or Map iterator stays valid while topics are added or removed: each topic present throughout is seen once.
    const it = this.spanned.values()
    let sum = 0
    const step = (): void => {
      if (this.stopped) { this.running = false; return }
      for (let i = 0; i < STATS_BACKLOG_SLICE_TOPICS; i++) {
        const r = it.next()
        if (r.done === true) {
          this.last = sum
          this.lastEndedMs = Date.now()
          this.running = false
          return
        }
        if (!this.hasStream(r.value)) sum += this.ledger.cursorBacklog(r.value, this.cursorName) ?? 0
      }
      setImmediate(step)
    }
    setImmediate(step)
  }
}
