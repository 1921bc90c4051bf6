/**
 * Publish pacing for memory durability (issue 11). A sync topic's publishers
 * wait for fsync, which keeps them near the pace of delivery; a memory topic
 * acknowledges at once, so publishers can run ahead of a slower subscriber
 * without bound (published 105k/s against 97k/s delivered, p50 111 ms).
 *
 * After a memory-durability publish the dispatcher asks `paced(topic)`: when
 * the slowest subscription of the topic that has a consumer attached holds
 * more than MEMORY_PUBLISH_AHEAD_ENTRIES_MAX unacknowledged entries, the
 * answer is a promise that resolves once it is back at or below
 * MEMORY_PUBLISH_RESUME_ENTRIES, and the front end stops reading that
 * publisher until then (bounded on its side: MQTT pacedReadHoldMsMax). The
 * publish itself is stored and acknowledged as usual: pacing delays what
 * comes next, it never drops or refuses anything. Subscriptions without a
 * consumer (offline durable ones) do not pace: their backlog is what the
 * backlog quota is for.
 */
import type { TopicName } from '../../store/index.js'
import { MEMORY_PUBLISH_AHEAD_ENTRIES_MAX, MEMORY_PUBLISH_RESUME_ENTRIES } from './constants.js'

/** What the pacer needs to know of a topic's streams. */
export interface PacedStream {
  stream: { readonly backlogEntries: number }
  sub: { readonly consumers: { readonly size: number } }
}

interface Waiting { promise: Promise<void>, resolve: () => void }

export interface PacerLimits { aheadEntriesMax: number, resumeEntries: number }

export class PublishPacer {
  /** One shared wait per topic over the bound: every publisher paced on it reads on together. */
  private readonly waiting = new Map<TopicName, Waiting>()
  /** Publish results that asked their publisher to wait. */
  paces = 0

  constructor (
    private readonly streamsOf: (topic: TopicName) => readonly PacedStream[] | undefined,
    private readonly limits: PacerLimits = { aheadEntriesMax: MEMORY_PUBLISH_AHEAD_ENTRIES_MAX, resumeEntries: MEMORY_PUBLISH_RESUME_ENTRIES }
  ) {}

  /** Unacknowledged entries of the topic's slowest subscription with a consumer attached (0 if none). */
  aheadOf (topic: TopicName): number {
    const list = this.streamsOf(topic)
    if (list === undefined) return 0
    let worst = 0
    for (const { stream, sub } of list) {
      if (sub.consumers.size === 0) continue
      const n = stream.backlogEntries
      if (n > worst) worst = n
    }
    return worst
  }

  /** undefined: publish on. Otherwise: read no more from this publisher until the promise resolves. */
  paced (topic: TopicName): Promise<void> | undefined {
    const w = this.waiting.get(topic)
    if (w !== undefined) {
      // Re-checked here too: the slow consumer may have left without acknowledging (no `changed` then).
      if (this.aheadOf(topic) <= this.limits.resumeEntries) { this.release(topic); return undefined }
      this.paces++
      return w.promise
    }
    if (this.aheadOf(topic) <= this.limits.aheadEntriesMax) return undefined
    this.paces++
    let resolve!: () => void
    const promise = new Promise<void>((r) => { resolve = r })
    this.waiting.set(topic, { promise, resolve })
    return promise
  }

  /** Acks moved the topic's backlog: release its publishers once low enough. */
  changed (topic: TopicName): void {
    if (!this.waiting.has(topic)) return
    if (this.aheadOf(topic) <= this.limits.resumeEntries) this.release(topic)
  }

  private release (topic: TopicName): void {
    const w = this.waiting.get(topic)
    if (w === undefined) return
    this.waiting.delete(topic)
    w.resolve()
  }

  /** Topics with publishers waiting (tests). */
  get waitingTopics (): number { return this.waiting.size }

  /** Dispatcher closing: nobody stays paused. */
  close (): void {
    for (const topic of [...this.waiting.keys()]) this.release(topic)
  }
}
