/**
 * SubscriptionStreams: the life of one subscription's TopicStreams, apart
 * from what the subscription does with them (consumers, acks, stats: in
 * subscription.ts). It owns the map of live streams and decides when a
 * topic's stream is made and when it is dropped; its cursors on the spanned
 * topics are made here too (attach).
 *
 * Streams are made lazily and dropped when idle (a million topics behind one
 * offline wildcard subscription must not cost a million streams,
 * docs/BENCHMARKS.md): an offline subscription keeps only its cursors, plus
 * at most OFFLINE_STREAMS_MAX streams that subscription-level acks touched;
 * the first consumer to arrive gets a stream for every spanned topic with a
 * backlog, and every later append makes the stream of its topic. A stream is
 * dropped only when it holds nothing its cursor does not (stream.ts
 * `droppable`): no records, no window, no read or ack under way, no delivery
 * count known only in memory. A stream rebuilt from the cursor is exactly a
 * rewound one: it reads again from mark-delete, and redelivery counts come
 * from the cursor's persisted hand-outs.
 */
import { CommonCode, FerryError } from '../../common/errors.js'
import type { Cursor, CursorStart, Ledger, TopicName } from '../../store/index.js'
import { MATERIALISE_TOPICS_PER_TURN, OFFLINE_STREAMS_MAX, ONLINE_STREAMS_SWEEP_MIN } from './constants.js'
import type { DispatchLoop } from './dispatch-loop.js'
import { TopicStream } from './stream.js'
import type { StreamHost } from './stream-host.js'
import type { SubscriptionClock } from './subscription-clock.js'
import type { Subscription } from './subscription.js'

/** What the streams need of their subscription: the StreamHost every stream reports to, and who it is. */
export type StreamsOwner = StreamHost & Pick<Subscription,
'namespace' | 'cursorName' | 'durable' | 'createdLsn' | 'closed' | 'deleted' | 'hasConsumers' | 'spanned' | 'matches'>

export class SubscriptionStreams {
  /** Live streams (insertion order is least recently used first while offline). */
  readonly byTopic = new Map<TopicName, TopicStream>()
  private readonly attaching = new Map<TopicName, Promise<void>>()
  /** Bumped when the first consumer arrives: a materialisation of an earlier arrival stops. */
  private materialiseGen = 0
  /** With consumers: the stream count at which idle, drained streams are swept out next. */
  private sweepAtStreams = ONLINE_STREAMS_SWEEP_MIN

  constructor (
    private readonly owner: StreamsOwner,
    private readonly ledger: Pick<Ledger, 'cursor' | 'deleteCursor' | 'cursors' | 'topicInfo'>,
    private readonly loop: Pick<DispatchLoop, 'forget'>,
    private readonly clock: Pick<SubscriptionClock, 'forget'>
  ) {}

  /** Give the subscription its cursor on a topic (created at `start` if it has none). */
  async attach (topic: TopicName, start: () => CursorStart | Promise<CursorStart>): Promise<void> {
    const owner = this.owner
    if (owner.spanned.has(topic)) return
    let p = this.attaching.get(topic)
    if (p === undefined) {
      p = (async () => {
        const cursor: Cursor = await this.ledger.cursor(topic, owner.cursorName, { durable: owner.durable, start: await start() })
        if (owner.closed) {
          // Deleted while the cursor was being created: do not leave it behind.
          if (owner.deleted) await this.ledger.deleteCursor(topic, owner.cursorName)
          return
        }
        owner.spanned.add(topic) // and the dispatcher's topic index: appends of topic reach this subscription
        // Offline, the cursor is all the topic needs; a consumer gets the stream when there is something to take.
        if (owner.hasConsumers) this.open(topic, cursor)
      })()
      this.attaching.set(topic, p)
      p.finally(() => { this.attaching.delete(topic) }).catch(() => {})
    }
    await p
  }

  /** The subscription's cursor on a spanned topic (undefined if it is gone). */
  private cursorOf (topic: TopicName): Cursor | undefined {
    for (const c of this.ledger.cursors(topic)) if (c.subscription === this.owner.cursorName) return c
    return undefined
  }

  private open (topic: TopicName, cursor: Cursor): TopicStream {
    const have = this.byTopic.get(topic)
    if (have !== undefined) return have
    if (this.owner.hasConsumers && this.byTopic.size >= this.sweepAtStreams) this.sweepDrained()
    const s = new TopicStream(this.owner, topic, cursor)
    this.byTopic.set(topic, s)
    this.owner.wantRead(s)
    this.owner.kick()
    return s
  }

  /** Online: drop the idle streams whose topics have nothing left to deliver; the next sweep when the count doubles. */
  private sweepDrained (): void {
    for (const s of [...this.byTopic.values()]) if (s.droppable && s.backlogEntries === 0) this.drop(s)
    this.sweepAtStreams = Math.max(ONLINE_STREAMS_SWEEP_MIN, this.byTopic.size * 2)
  }

  /** The stream of a spanned topic, made from its cursor if there is none. */
  live (topic: TopicName): TopicStream | undefined {
    const have = this.byTopic.get(topic)
    if (have !== undefined || !this.owner.spanned.has(topic) || this.owner.closed) return have
    const cursor = this.cursorOf(topic)
    return cursor === undefined ? undefined : this.open(topic, cursor)
  }

  /** Forget a stream; its cursor keeps everything (the caller checked `droppable`). */
  private drop (s: TopicStream): void {
    this.byTopic.delete(s.topic)
    this.loop.forget(s)
    this.clock.forget(s)
  }

  /** Drop idle streams, least recently used first, until at most `keep` are left (or none is idle). */
  dropIdle (keep: number): void {
    if (this.byTopic.size <= keep) return
    for (const s of [...this.byTopic.values()]) {
      if (this.byTopic.size <= keep) return
      if (s.droppable) this.drop(s)
    }
  }

  /**
   * The first consumer arrived: a stream for every spanned topic with a
   * backlog, MATERIALISE_TOPICS_PER_TURN per loop turn, starting on a later
   * turn (a sink never sees a delivery before it has its Consumer). Topics
   * appended to meanwhile get theirs from the subscription's appended().
   */
  materialise (): void {
    const gen = ++this.materialiseGen
    const owner = this.owner
    const topics = [...owner.spanned]
    let i = 0
    const step = (): void => {
      if (gen !== this.materialiseGen || owner.closed || !owner.hasConsumers) return
      const end = Math.min(topics.length, i + MATERIALISE_TOPICS_PER_TURN)
      for (; i < end; i++) {
        const topic = topics[i] as TopicName
        const have = this.byTopic.get(topic)
        if (have !== undefined) { owner.wantRead(have); continue }
        if (!owner.spanned.has(topic)) continue
        const cursor = this.cursorOf(topic)
        if (cursor !== undefined && cursor.backlogEntries() > 0) this.open(topic, cursor)
      }
      if (i < topics.length) setImmediate(step)
    }
    setImmediate(step)
  }

  /** The stream a subscription-level ack works on (made if need be; offline, at most OFFLINE_STREAMS_MAX are kept). */
  async forAck (topic: TopicName): Promise<TopicStream> {
    const owner = this.owner
    let s = this.live(topic)
    if (s === undefined) {
      const local = topic.startsWith(owner.namespace + '/') ? topic.slice(owner.namespace.length + 1) : undefined
      if (local === undefined || !owner.matches(local) || this.ledger.topicInfo(topic) === undefined) {
        throw new FerryError(CommonCode.NOT_FOUND, `subscription '${owner.name}' does not span topic '${topic}'`)
      }
      await this.attach(topic, () => ({ kind: 'afterLsn', lsn: owner.createdLsn }))
      s = this.live(topic)
      if (s === undefined) throw new FerryError(CommonCode.NOT_FOUND, `subscription '${owner.name}' has no cursor on topic '${topic}'`)
    }
    if (!owner.hasConsumers) {
      // Most recently used last; the idle ones used longest ago go.
      this.byTopic.delete(topic)
      this.byTopic.set(topic, s)
      this.dropIdle(OFFLINE_STREAMS_MAX)
    }
    return s
  }
}
