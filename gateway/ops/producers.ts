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
 *
 * A topic's record is small on purpose: with a million topics each seen once,
 * every record lives for PRODUCER_TOPICS_MAX new topics (long enough to be
 * promoted to V8's old space) and then dies there, between the ledger's
 * long-lived topic objects. Two Maps and three objects per topic (~540 B)
 * left old space ~2x its live size at a million topics (bench:topics); the
 * first producer is now held inline, maps only from the second (~140 B).
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

type Protocol = ProducerRef['protocol']

/** One map per protocol, so a lookup needs no key string built per publish. */
type ProducerMaps = Record<Protocol, Map<string, ProducerEntry>>

/** A topic's producers: the first inline (most topics have one), maps made on the second. */
class TopicProducers {
  dropped = 0
  more: ProducerMaps | null = null
  constructor (public one: ProducerEntry | null) {}

  get (protocol: Protocol, name: string): ProducerEntry | undefined {
    const one = this.one
    if (one !== null && one.name === name && one.protocol === protocol) return one
    return this.more?.[protocol].get(name)
  }

  get size (): number {
    return (this.one === null ? 0 : 1) + (this.more === null ? 0 : this.more.mqtt.size + this.more.http.size)
  }

  add (e: ProducerEntry): void {
    if (this.one === null) { this.one = e; return }
    const more = (this.more ??= { mqtt: new Map(), http: new Map() })
    more[e.protocol].set(e.name, e)
  }

  delete (e: ProducerEntry): void {
    if (this.one === e) { this.one = null; return }
    this.more?.[e.protocol].delete(e.name)
  }

  * entries (): Iterable<ProducerEntry> {
    if (this.one !== null) yield this.one
    if (this.more !== null) { yield * this.more.mqtt.values(); yield * this.more.http.values() }
  }
}

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
      t = new TopicProducers(null)
      this.topics.set(topic, t)
    }
    let e = t.get(p.protocol, p.name)
    if (e === undefined) {
      if (t.size >= PRODUCERS_PER_TOPIC_MAX) { evictOldest(t); t.dropped++ }
      e = { name: p.name, protocol: p.protocol, messages: 0, firstSeenMs: nowMs, lastSeenMs: nowMs, windowStartMs: nowMs, windowMessages: 0, lastRate: undefined }
      t.add(e)
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
    for (const e of t.entries()) {
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
    for (const e of t.entries()) if (nowMs - e.lastSeenMs <= PRODUCER_ACTIVE_MS) n++
    return n
  }
}

/** Make room: drop the producer seen longest ago (a scan of at most PRODUCERS_PER_TOPIC_MAX entries, only when a new one arrives at a full topic). */
function evictOldest (t: TopicProducers): void {
  let oldest: ProducerEntry | undefined
  for (const e of t.entries()) if (oldest === undefined || e.lastSeenMs < oldest.lastSeenMs) oldest = e
  if (oldest !== undefined) t.delete(oldest)
}
