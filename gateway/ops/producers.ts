/**
 * Who publishes to each topic (the admin API's topic stats and the
 * console's topic view): per topic, its producers (MQTT client id; HTTP
 * producer id or remote address) with messages, a rate and when they were
 * seen. Fed by the instrumented dispatcher from PublishRequest.producer.
 *
 * Bounded: at most PRODUCERS_PER_TOPIC_MAX producers per topic (the one
 * seen longest ago makes room; `dropped` counts them) and
 * PRODUCER_TOPICS_MAX topics (the one that entered first makes room; a
 * busy topic re-enters on its next publish). "Currently publishing" means
 * seen within PRODUCER_ACTIVE_MS. Hot path: two map lookups and a few
 * number updates per publish, no allocation for a known producer.
 */
import type { ProducerRef } from '../dispatch/index.js'
import { PRODUCER_ACTIVE_MS, PRODUCER_RATE_WINDOW_MS, PRODUCER_TOPICS_MAX, PRODUCERS_PER_TOPIC_MAX } from './constants.js'

interface ProducerEntry {
  name: string
  protocol: ProducerRef['protocol']
  messages: number
  firstSeenMs: number
  lastSeenMs: number
  /** Messages of the current rate window, and the rate of the previous one. */
  windowStartMs: number
  windowMessages: number
  lastRate: number | undefined
}

interface TopicProducers { byName: Map<string, ProducerEntry>, dropped: number }

export interface ProducerView {
  name: string
  protocol: ProducerRef['protocol']
  messages: number
  ratePerSec: number
  firstSeenAt: number
  lastSeenAt: number
}

export class ProducerTracker {
  private readonly topics = new Map<string, TopicProducers>()

  note (topic: string, p: ProducerRef, nowMs = Date.now()): void {
    let t = this.topics.get(topic)
    if (t === undefined) {
      if (this.topics.size >= PRODUCER_TOPICS_MAX) {
        const first = this.topics.keys().next().value
        if (first !== undefined) this.topics.delete(first)
      }
      t = { byName: new Map(), dropped: 0 }
      this.topics.set(topic, t)
    }
    const key = `${p.protocol}\u0000${p.name}`
    let e = t.byName.get(key)
    if (e === undefined) {
      if (t.byName.size >= PRODUCERS_PER_TOPIC_MAX) { evictOldest(t.byName); t.dropped++ }
      e = { name: p.name, protocol: p.protocol, messages: 0, firstSeenMs: nowMs, lastSeenMs: nowMs, windowStartMs: nowMs, windowMessages: 0, lastRate: undefined }
      t.byName.set(key, e)
    }
    e.messages++
    e.lastSeenMs = nowMs
    if (nowMs - e.windowStartMs >= PRODUCER_RATE_WINDOW_MS) {
      e.lastRate = e.windowMessages * 1000 / (nowMs - e.windowStartMs)
      e.windowStartMs = nowMs
      e.windowMessages = 0
    }
    e.windowMessages++
  }

  /** Producers seen within PRODUCER_ACTIVE_MS, most recent first, and how many were dropped for room. */
  of (topic: string, nowMs = Date.now()): { producers: ProducerView[], dropped: number } {
    const t = this.topics.get(topic)
    if (t === undefined) return { producers: [], dropped: 0 }
    const out: ProducerView[] = []
    for (const e of t.byName.values()) {
      if (nowMs - e.lastSeenMs > PRODUCER_ACTIVE_MS) continue
      const elapsedMs = Math.max(1, nowMs - e.windowStartMs)
      // The previous full window once there is one; before that, the current one so far. Idle since: 0.
      const rate = nowMs - e.lastSeenMs > PRODUCER_RATE_WINDOW_MS ? 0 : e.lastRate ?? e.windowMessages * 1000 / Math.max(elapsedMs, 1000)
      out.push({ name: e.name, protocol: e.protocol, messages: e.messages, ratePerSec: rate, firstSeenAt: e.firstSeenMs, lastSeenAt: e.lastSeenMs })
    }
    out.sort((a, b) => b.lastSeenAt - a.lastSeenAt || (a.name < b.name ? -1 : 1))
    return { producers: out, dropped: t.dropped }
  }

  /** Active producers of a topic (topic listings). */
  count (topic: string, nowMs = Date.now()): number {
    const t = this.topics.get(topic)
    if (t === undefined) return 0
    let n = 0
    for (const e of t.byName.values()) if (nowMs - e.lastSeenMs <= PRODUCER_ACTIVE_MS) n++
    return n
  }
}

function evictOldest (m: Map<string, ProducerEntry>): void {
  let oldestKey: string | undefined
  let oldestMs = Infinity
  for (const [k, e] of m) if (e.lastSeenMs < oldestMs) { oldestMs = e.lastSeenMs; oldestKey = k }
  if (oldestKey !== undefined) m.delete(oldestKey)
}
