/**
 * No Local bookkeeping of one session [MQTT-3.8.3-3]: a No Local
 * subscription must never get the session's own publications. The session
 * remembers the entry ids it published (bounded, per topic) and holds
 * deliveries on a topic while one of its own publishes there still waits for
 * the store (its entry id is not known yet).
 */
import type { EntryId, TopicName } from '../../store/index.js'
import { SESSION_PENDING_DELIVERIES_MAX } from './constants.js'

export class NoLocalTracker {
  /** Publishes of this session waiting for the store, per topic. */
  // Made on first use: most connections (idle ones above all) never need it, and an empty Map is ~170 B.
  private lazy_pending: Map<TopicName, number> | undefined
  private get pending (): Map<TopicName, number> { return (this.lazy_pending ??= new Map<TopicName, number>()) }
  /** Entry ids this session published recently, per topic. */
  // Made on first use: most connections (idle ones above all) never need it, and an empty Map is ~170 B.
  private lazy_recent: Map<TopicName, Set<EntryId>> | undefined
  private get recent (): Map<TopicName, Set<EntryId>> { return (this.lazy_recent ??= new Map<TopicName, Set<EntryId>>()) }
  /** Deliveries held until the session's own publishes on their topic settle. */
  private held: Array<() => void> = []
  /**
   * Own publishes in flight that started while the session had no No Local subscription: counted, not kept per
   * topic (a Map update per publish was ~1% of the fan-in profile). A No Local subscription made meanwhile holds
   * its deliveries on every topic until they have settled (conservative: their topics are not known).
   */
  private untracked = 0

  /** `remember`: whether entry ids are worth keeping (some subscription has No Local). */
  constructor (private readonly remember: () => boolean) {}

  /** An own publish went to the store; returns whether it is tracked per topic (pass it to `settled`). */
  started (topic: TopicName): boolean {
    if (!this.remember()) { this.untracked++; return false }
    this.pending.set(topic, (this.pending.get(topic) ?? 0) + 1)
    return true
  }

  settled (topic: TopicName, entryId: EntryId | undefined, tracked = true): void {
    let n = 0
    if (!tracked) {
      this.untracked--
    } else {
      n = (this.pending.get(topic) ?? 1) - 1
      if (n <= 0) this.pending.delete(topic); else this.pending.set(topic, n)
    }
    if (entryId !== undefined && this.remember()) {
      let set = this.recent.get(topic)
      if (set === undefined) { set = new Set(); this.recent.set(topic, set) }
      set.add(entryId)
      // Bounded: only entries that might still be in flight to this session matter.
      if (set.size > SESSION_PENDING_DELIVERIES_MAX) set.delete(set.values().next().value as EntryId)
    }
    if (this.held.length > 0 && n <= 0 && this.untracked === 0) {
      const waiting = this.held
      this.held = []
      for (const retry of waiting) retry()
    }
  }

  /** True while an own publish on `topic` has no entry id yet: hold the delivery (`retry` later). */
  mustWait (topic: TopicName, retry: () => void): boolean {
    if (this.untracked === 0 && (this.lazy_pending?.get(topic) ?? 0) === 0) return false
    if (this.held.length >= SESSION_PENDING_DELIVERIES_MAX) return false // bounded; the entry-id check still applies
    this.held.push(retry)
    return true
  }

  isOwn (topic: TopicName, entryId: EntryId): boolean {
    return this.recent.get(topic)?.has(entryId) === true
  }

  /** The connection went away: held deliveries return to the dispatcher with their consumers. */
  reset (): void { this.held = [] }
  // `untracked` is not reset: the publishes it counts still settle (and decrement it) after the connection went.
}
