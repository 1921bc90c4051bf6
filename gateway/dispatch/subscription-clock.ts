/**
 * Everything time-driven in one subscription, behind one timer (Alarm),
 * never one timer per message: redelivery backoff (a min-heap of due
 * times), the ack timeout (streams with delivered entries, walked oldest
 * first), delayed delivery (streams waiting on a delayed entry) and read
 * retries.
 */
import type { NamespacePolicy } from '../policy/index.js'
import { Alarm } from './alarm.js'
import { REDELIVERY_LOADS_MAX } from './constants.js'
import type { Inflight } from './inflight.js'
import { MinHeap } from './min-heap.js'
import type { TopicStream } from './stream.js'

export interface ClockHost {
  readonly policy: Readonly<NamespacePolicy>
  readonly inOrder: boolean
  readonly closed: boolean
  readonly hasConsumers: boolean
  /** Redeliveries being loaded or loaded and not yet picked. */
  readonly redeliveryHeld: number
  /** Is the stream still one of the subscription's? */
  spans: (s: TopicStream) => boolean
  kick: () => void
}

interface Due { stream: TopicStream, rec: Inflight, gen: number }

export class SubscriptionClock {
  /** Streams with delivered, unacknowledged entries (ack timeout). */
  private readonly pendingStreams = new Set<TopicStream>()
  /** Streams waiting on a delayed entry. */
  private readonly delayedStreams = new Set<TopicStream>()
  private readonly redeliveries = new MinHeap<Due>()
  private readonly alarm: Alarm
  /** Due delayed entries wait for room under REDELIVERY_LOADS_MAX. */
  private delayedBlocked = false

  constructor (private readonly host: ClockHost) {
    this.alarm = new Alarm(() => { this.onAlarm() })
  }

  /** A stream's delivered count moved (deliveredNow: what it holds after the change). */
  pendingChanged (s: TopicStream, delta: number, deliveredNow: number): void {
    // The ack-timeout alarm is armed when the round is handed out.
    if (delta > 0) this.pendingStreams.add(s)
    else if (deliveredNow === 0) this.pendingStreams.delete(s)
  }

  delayedAt (s: TopicStream, atMs: number): void {
    this.delayedStreams.add(s)
    this.alarm.at(atMs)
  }

  scheduleRedelivery (s: TopicStream, rec: Inflight, dueMs: number): void {
    this.redeliveries.push(dueMs, { stream: s, rec, gen: rec.gen })
    this.alarm.at(dueMs)
  }

  wakeAt (atMs: number): void { this.alarm.at(atMs) }

  /** Start loading redeliveries that are due, within REDELIVERY_LOADS_MAX. */
  loadDue (now: number): void {
    for (;;) {
      const at = this.redeliveries.peekKey()
      if (at === undefined) return
      if (at > now) { this.alarm.at(at); return }
      if (this.host.redeliveryHeld >= REDELIVERY_LOADS_MAX) return
      const due = this.redeliveries.pop() as Due
      if (due.rec.gen !== due.gen || !this.host.spans(due.stream)) continue
      due.stream.due(due.rec)
    }
  }

  /** After a dispatch round: due delayed entries blocked on load room go on once half the room is free. */
  afterRound (): void {
    if (this.delayedBlocked && this.host.redeliveryHeld < REDELIVERY_LOADS_MAX / 2) {
      this.delayedBlocked = false
      this.alarm.at(Date.now())
    }
  }

  handedOut (nowMs: number): void {
    if (this.host.policy.ackTimeoutMs > 0) this.alarm.at(nowMs + this.host.policy.ackTimeoutMs)
  }

  /** The policy changed: the alarm handler works out every deadline under the new one. */
  policyChanged (): void {
    if (this.host.policy.ackTimeoutMs > 0 && this.pendingStreams.size > 0) this.alarm.at(Date.now())
  }

  /** A stream forgot its window (rewind). */
  rewound (s: TopicStream): void { this.delayedStreams.delete(s) }

  /** An idle stream was dropped (its redelivery items, if any, are skipped: spans() is false). */
  forget (s: TopicStream): void {
    this.pendingStreams.delete(s)
    this.delayedStreams.delete(s)
  }

  /** Nobody attached: forget what is held in memory (the cursors keep the state). */
  clear (): void {
    this.pendingStreams.clear()
    this.redeliveries.clear()
  }

  stop (): void {
    this.alarm.stop()
    this.redeliveries.clear()
  }

  private onAlarm (): void {
    if (this.host.closed) return
    const now = Date.now()
    const ackTimeout = this.host.policy.ackTimeoutMs
    let next = Number.POSITIVE_INFINITY
    if (ackTimeout > 0) {
      for (const s of [...this.pendingStreams]) {
        const oldest = s.expireAcks(now - ackTimeout, now)
        if (oldest !== undefined) next = Math.min(next, oldest + ackTimeout)
      }
    }
    for (const s of [...this.delayedStreams]) {
      const at = s.nextDelayedAtMs
      if (at !== undefined && at > now) { next = Math.min(next, at); continue }
      if (this.host.inOrder) {
        s.clearHold()
      } else if (!this.host.hasConsumers || this.host.redeliveryHeld >= REDELIVERY_LOADS_MAX) {
        // No room to load due entries: the dispatch loop re-arms once consumers drain the held ones.
        this.delayedBlocked = true
        continue
      } else {
        s.scanDelayed(now, REDELIVERY_LOADS_MAX - this.host.redeliveryHeld)
      }
      const again = s.nextDelayedAtMs
      if (again === undefined) this.delayedStreams.delete(s)
      else next = Math.min(next, Math.max(again, now + 1))
    }
    const due = this.redeliveries.peekKey()
    if (due !== undefined) next = Math.min(next, due)
    this.alarm.at(next)
    this.host.kick()
  }
}
