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
 * seen within PRODUCER_ACTIVE_MS.
 *
 * Memory does not depend on the topic count: the topics live in a ring of
 * PRODUCER_TOPICS_MAX records made once, found through an open-addressing
 * index (an Int32Array of record numbers, linear probing, deletion by
 * backward shift so no tombstones build up). A new topic takes the oldest
 * record and resets it; nothing is allocated per publish or per topic for a
 * topic's first producer (held inline in the record), maps only from the
 * second producer of a topic. With a million topics each seen once, a
 * record per topic (and a Map entry) used to live for PRODUCER_TOPICS_MAX
 * new topics, long enough to be promoted to V8's old space, and then die
 * there: old space well above its live size (bench:topics promotedBytesPerTopic).
 */
import assert from 'node:assert/strict'
import type { ProducerRef } from '../dispatch/index.js'
import { PRODUCER_ACTIVE_MS, PRODUCER_RATE_WINDOW_MS, PRODUCER_TOPICS_MAX, PRODUCERS_PER_TOPIC_MAX } from './constants.js'

/** Index slots per tracked topic (a power of two at least this many times PRODUCER_TOPICS_MAX): probe chains stay short at a load factor of at most 1/2. */
const INDEX_SLOTS_PER_TOPIC_MIN = 2
/** An empty index slot. */
const EMPTY = -1

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

function resetEntry (e: ProducerEntry, p: ProducerRef, nowMs: number): ProducerEntry {
  e.name = p.name
  e.protocol = p.protocol
  e.messages = 0
  e.firstSeenMs = nowMs
  e.lastSeenMs = nowMs
  e.windowStartMs = nowMs
  e.windowMessages = 0
  e.lastRate = undefined
  return e
}

/**
 * One tracked topic's record, reused for the next topic when its turn in the
 * ring comes: the first producer inline (`one`, its object kept across
 * reuse; `oneUsed` says whether it holds a producer), maps from the second.
 */
class TopicRecord {
  topic: string | null = null
  dropped = 0
  oneUsed = false
  readonly one: ProducerEntry = { name: '', protocol: 'mqtt', messages: 0, firstSeenMs: 0, lastSeenMs: 0, windowStartMs: 0, windowMessages: 0, lastRate: undefined }
  more: ProducerMaps | null = null

  reset (topic: string): void {
    this.topic = topic
    this.dropped = 0
    this.oneUsed = false
    this.one.name = ''
    if (this.more !== null) { this.more.mqtt.clear(); this.more.http.clear() }
  }

  get (protocol: Protocol, name: string): ProducerEntry | undefined {
    const one = this.one
    if (this.oneUsed && one.name === name && one.protocol === protocol) return one
    return this.more?.[protocol].get(name)
  }

  get size (): number {
    return (this.oneUsed ? 1 : 0) + (this.more === null ? 0 : this.more.mqtt.size + this.more.http.size)
  }

  add (p: ProducerRef, nowMs: number): ProducerEntry {
    if (!this.oneUsed) { this.oneUsed = true; return resetEntry(this.one, p, nowMs) }
    const more = (this.more ??= { mqtt: new Map(), http: new Map() })
    const e = resetEntry({ name: '', protocol: 'mqtt', messages: 0, firstSeenMs: 0, lastSeenMs: 0, windowStartMs: 0, windowMessages: 0, lastRate: undefined }, p, nowMs)
    more[e.protocol].set(e.name, e)
    return e
  }

  delete (e: ProducerEntry): void {
    if (e === this.one) { this.oneUsed = false; this.one.name = ''; return }
    this.more?.[e.protocol].delete(e.name)
  }

  * entries (): Iterable<ProducerEntry> {
    if (this.oneUsed) yield this.one
    if (this.more !== null) { yield * this.more.mqtt.values(); yield * this.more.http.values() }
  }
}

/** FNV-1a over the UTF-16 code units, 32 bits. */
function hashOf (s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}

function indexSlotsFor (topicsMax: number): number {
  let n = 1
  while (n < topicsMax * INDEX_SLOTS_PER_TOPIC_MIN) n *= 2
  return n
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
  private readonly records: TopicRecord[]
  /** Record number of each indexed topic, EMPTY where none: open addressing, linear probing. */
  private readonly index: Int32Array
  private readonly mask: number
  /** The record the next new topic takes (the oldest once the ring is full). */
  private nextRecord = 0

  /** topicsMax: PRODUCER_TOPICS_MAX; smaller in tests of the ring itself. */
  constructor (readonly topicsMax = PRODUCER_TOPICS_MAX) {
    assert.ok(Number.isInteger(topicsMax) && topicsMax > 0, 'a positive number of topics')
    this.records = Array.from({ length: topicsMax }, () => new TopicRecord())
    const slots = indexSlotsFor(topicsMax)
    assert.ok(slots >= topicsMax * INDEX_SLOTS_PER_TOPIC_MIN)
    this.index = new Int32Array(slots).fill(EMPTY)
    this.mask = slots - 1
  }

  /** Topics tracked now (at most topicsMax). */
  get size (): number {
    let n = 0
    for (const r of this.records) if (r.topic !== null) n++
    return n
  }

  /** The index slot holding topic, or the empty slot where it would go (negative: -slot - 1). */
  private find (topic: string): number {
    const index = this.index
    let i = hashOf(topic) & this.mask
    // At most topicsMax occupied slots in a table at least twice that: an empty slot ends every probe.
    for (;;) {
      const r = index[i] as number
      if (r === EMPTY) return -i - 1
      if ((this.records[r] as TopicRecord).topic === topic) return i
      i = (i + 1) & this.mask
    }
  }

  private record (topic: string): TopicRecord | undefined {
    const i = this.find(topic)
    return i < 0 ? undefined : this.records[this.index[i] as number]
  }

  /** Take slot i out of the index, moving later entries of its probe chain back (no tombstones). */
  private unindex (i: number): void {
    const index = this.index
    const mask = this.mask
    index[i] = EMPTY
    let j = (i + 1) & mask
    for (;;) {
      const r = index[j] as number
      if (r === EMPTY) return
      const home = hashOf((this.records[r] as TopicRecord).topic as string) & mask
      // r may move into the hole at i unless its home lies cyclically in (i, j].
      if (((j - home) & mask) >= ((j - i) & mask)) { index[i] = r; index[j] = EMPTY; i = j }
      j = (j + 1) & mask
    }
  }

  note (topic: string, p: ProducerRef, nowMs = Date.now()): void {
    let at = this.find(topic)
    let t: TopicRecord
    if (at >= 0) t = this.records[this.index[at] as number] as TopicRecord
    else {
      const n = this.nextRecord
      this.nextRecord = n + 1 === this.topicsMax ? 0 : n + 1
      t = this.records[n] as TopicRecord
      if (t.topic !== null) {
        const old = this.find(t.topic)
        assert.ok(old >= 0, 'a tracked topic is indexed')
        this.unindex(old)
        at = this.find(topic) // the hole may have moved
      }
      t.reset(topic)
      this.index[-at - 1] = n
    }
    let e = t.get(p.protocol, p.name)
    if (e === undefined) {
      if (t.size >= PRODUCERS_PER_TOPIC_MAX) { evictOldest(t); t.dropped++ }
      e = t.add(p, nowMs)
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
    const t = this.record(topic)
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
    const t = this.record(topic)
    if (t === undefined) return 0
    let n = 0
    for (const e of t.entries()) if (nowMs - e.lastSeenMs <= PRODUCER_ACTIVE_MS) n++
    return n
  }
}

/** Make room: drop the producer seen longest ago (a scan of at most PRODUCERS_PER_TOPIC_MAX entries, only when a new one arrives at a full topic). */
function evictOldest (t: TopicRecord): void {
  let oldest: ProducerEntry | undefined
  for (const e of t.entries()) if (oldest === undefined || e.lastSeenMs < oldest.lastSeenMs) oldest = e
  if (oldest !== undefined) t.delete(oldest)
}
