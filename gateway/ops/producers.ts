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

/** One map per protocol, so a lookup needs no key string built per publish. */
interface TopicProducers { byProtocol: Record<ProducerRef['protocol'], Map<string, ProducerEntry>>, dropped: number }

function sizeOf (t: TopicProducers): number { return t.byProtocol.mqtt.size + t.byProtocol.http.size }
function * entriesOf (t: TopicProducers): Iterable<ProducerEntry> { yield * t.byProtocol.mqtt.values(); yield * t.byProtocol.http.values() }

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
      t = { byProtocol: { mqtt: new Map(), http: new Map() }, dropped: 0 }
      this.topics.set(topic, t)
    }
    const m = t.byProtocol[p.protocol]
    let e = m.get(p.name)
    if (e === undefined) {
      if (sizeOf(t) >= PRODUCERS_PER_TOPIC_MAX) { evictOldest(t); t.dropped++ }
      e = { name: p.name, protocol: p.protocol, messages: 0, firstSeenMs: nowMs, lastSeenMs: nowMs, windowStartMs: nowMs, windowMessages: 0, lastRate: undefined }
      m.set(p.name, e)
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
    for (const e of entriesOf(t)) {
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
    for (const e of entriesOf(t)) if (nowMs - e.lastSeenMs <= PRODUCER_ACTIVE_MS) n++
    return n
  }
}

/** Make room: drop the producer seen longest ago (a scan of at most PRODUCERS_PER_TOPIC_MAX entries, only when a new one arrives at a full topic). */
function evictOldest (t: TopicProducers): void {
  let oldest: ProducerEntry | undefined
  for (const e of entriesOf(t)) if (oldest === undefined || e.lastSeenMs < oldest.lastSeenMs) oldest = e
  if (oldest !== undefined) t.byProtocol[oldest.protocol].delete(oldest.name)
}
