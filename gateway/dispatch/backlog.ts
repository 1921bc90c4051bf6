/**
 * Backlog quota per topic (namespace `backlogQuotaBytes`, `backlogPolicy`).
 *
 * A topic's backlog is that of its slowest durable cursor, in bytes estimated
 * as unacknowledged entries × the topic's average stored entry size (exact
 * per-entry sizes would cost a lookup per entry; the average is what Pulsar's
 * quota check uses too). Non-durable cursors do not count: they hold nothing
 * back after a restart. At or above quota:
 * - producer_hold: publish waits (up to BACKLOG_HOLD_MS_MAX) until acks bring
 *   the backlog under quota, then fails with E_BACKLOG_HOLD;
 * - producer_exception: publish fails at once with E_BACKLOG_QUOTA;
 * - consumer_backlog_eviction: the publish goes through, then cursors over
 *   quota are advanced past their oldest entries down to
 *   BACKLOG_EVICT_TARGET_RATIO of the quota (counted as `evicted`).
 */
import type { Cursor, Ledger, TopicName } from '../../store/index.js'
import { CommonCode, FerryError } from '../../common/errors.js'
import type { NamespacePolicy } from '../policy/index.js'
import { BACKLOG_EVICT_TARGET_RATIO, BACKLOG_HOLD_WAITERS_MAX } from './constants.js'
import { DispatchCode, dispatchError } from './errors.js'

export interface BacklogCounters { held: number, rejected: number }

export class BacklogGuard {
  private readonly waiters = new Map<TopicName, Set<() => void>>()
  private waiting = 0
  private closed = false
  readonly counters: BacklogCounters = { held: 0, rejected: 0 }

  constructor (
    private readonly ledger: Ledger,
    /** How long producer_hold waits (BACKLOG_HOLD_MS_MAX unless a test shortens it). */
    private readonly holdMsMax: number,
    /** The live policy of a topic: a held publish re-reads it, so a raised quota releases it. */
    private readonly policyOf: (topic: TopicName) => Readonly<NamespacePolicy>,
    /** Called after a cursor was advanced by eviction, with the entries it skipped. */
    private readonly onEvicted: (topic: TopicName, cursor: Cursor, entries: number, upTo: number) => void
  ) {}

  /** Average stored bytes per entry of the topic (0 when empty). */
  private avgEntryBytes (topic: TopicName): number {
    const info = this.ledger.topicInfo(topic)
    if (info === undefined) return 0
    const n = info.nextEntryId - info.firstEntryId
    return n > 0 ? info.storedBytes / n : 0
  }

  /** Backlog of the slowest durable cursor, bytes. */
  backlogBytes (topic: TopicName): number {
    const avg = this.avgEntryBytes(topic)
    if (avg === 0) return 0
    let worst = 0
    for (const c of this.ledger.cursors(topic)) if (c.durable) worst = Math.max(worst, c.backlogEntries())
    return worst * avg
  }

  private over (topic: TopicName, policy: Readonly<NamespacePolicy>): boolean {
    return policy.backlogQuotaBytes >= 0 && this.backlogBytes(topic) >= policy.backlogQuotaBytes
  }

  /** Before an append: resolve when the publish may go ahead, or throw per the policy. */
  async admit (topic: TopicName, policy: Readonly<NamespacePolicy>): Promise<void> {
    if (!this.over(topic, policy)) return
    switch (policy.backlogPolicy) {
      case 'consumer_backlog_eviction':
        return
      case 'producer_exception':
        this.counters.rejected++
        throw dispatchError(DispatchCode.BACKLOG_QUOTA, `topic '${topic}' is at its backlog quota of ${policy.backlogQuotaBytes} bytes`, { topic })
      case 'producer_hold':
        await this.hold(topic)
    }
  }

  private async hold (topic: TopicName): Promise<void> {
    if (this.waiting >= BACKLOG_HOLD_WAITERS_MAX) {
      this.counters.rejected++
      throw dispatchError(DispatchCode.BACKLOG_HOLD, `topic '${topic}' is at its backlog quota and ${BACKLOG_HOLD_WAITERS_MAX} publishes already wait`, { topic })
    }
    this.counters.held++
    const deadline = Date.now() + this.holdMsMax
    this.waiting++
    try {
      while (this.over(topic, this.policyOf(topic))) {
        if (this.closed) throw new FerryError(CommonCode.CLOSED, 'dispatcher is closing')
        const left = deadline - Date.now()
        if (left <= 0) {
          this.counters.rejected++
          throw dispatchError(DispatchCode.BACKLOG_HOLD, `topic '${topic}' stayed at its backlog quota for ${this.holdMsMax} ms`, { topic })
        }
        await new Promise<void>((resolve) => {
          let set = this.waiters.get(topic)
          if (set === undefined) { set = new Set(); this.waiters.set(topic, set) }
          const wake = (): void => { clearTimeout(timer); set?.delete(wake); if (set?.size === 0) this.waiters.delete(topic); resolve() }
          const timer = setTimeout(wake, left)
          set.add(wake)
        })
      }
    } finally {
      this.waiting--
    }
  }

  /** Acks moved the backlog of a topic: held publishes re-check. */
  changed (topic: TopicName): void {
    const set = this.waiters.get(topic)
    if (set === undefined) return
    for (const wake of [...set]) wake()
  }

  /** Held publishes re-check (policy changed). */
  wakeAll (): void {
    for (const set of [...this.waiters.values()]) for (const wake of [...set]) wake()
  }

  /** Dispatcher closing: held publishes fail with E_CLOSED. */
  close (): void {
    this.closed = true
    this.wakeAll()
  }

  /** After an append under consumer_backlog_eviction: advance cursors over quota. */
  async evict (topic: TopicName, policy: Readonly<NamespacePolicy>): Promise<void> {
    const quota = policy.backlogQuotaBytes
    if (quota < 0) return
    const avg = this.avgEntryBytes(topic)
    if (avg === 0) return
    const target = quota * BACKLOG_EVICT_TARGET_RATIO
    for (const c of this.ledger.cursors(topic)) {
      if (!c.durable) continue
      const before = c.backlogEntries()
      if (before * avg < quota) continue
      const drop = Math.max(1, Math.ceil((before * avg - target) / avg))
      const upTo = c.markDelete() + drop
      const p = c.ackCumulative(upTo)
      const skipped = Math.max(0, before - c.backlogEntries())
      await p
      this.onEvicted(topic, c, skipped, upTo)
    }
  }
}
