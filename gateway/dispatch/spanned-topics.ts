/**
 * Which subscriptions have a cursor on which topics, held once.
 *
 * TopicSubscriptions is the dispatcher's index from a topic to the
 * subscriptions spanning it (appends are routed through it): one inline
 * (most topics have one), an array from the second on. SpannedTopics is one
 * subscription's view of the same facts: its own Set while it spans at most
 * SPANNED_OWN_SET_TOPICS_MAX topics, then none, answering from the shared
 * index instead. A wildcard subscription spanning a million topics used to
 * hold a second Set of all of them (~26 B a topic, bench:topics); now it
 * costs the index entry alone. Walking a large subscription's topics walks
 * the whole index (dropping it, its first consumer arriving, stats passes:
 * rare, and in slices where they are long).
 */
import type { TopicName } from '../../store/index.js'
import { SPANNED_OWN_SET_TOPICS_MAX } from './constants.js'

/** What a subscription's spanned topics offer (a Set satisfies it). */
export interface SpannedView {
  readonly size: number
  has: (topic: TopicName) => boolean
  values: () => IterableIterator<TopicName>
}

export class TopicSubscriptions<S> {
  private readonly byTopic = new Map<TopicName, S | S[]>()

  /** The subscriptions spanning topic, undefined for none (an array only when there are several). */
  get (topic: TopicName): S | S[] | undefined { return this.byTopic.get(topic) }

  spans (topic: TopicName, sub: S): boolean {
    const have = this.byTopic.get(topic)
    return have === sub || (Array.isArray(have) && have.includes(sub))
  }

  add (topic: TopicName, sub: S): void {
    const have = this.byTopic.get(topic)
    if (have === undefined) this.byTopic.set(topic, sub)
    else if (have === sub) return
    else if (!Array.isArray(have)) this.byTopic.set(topic, [have, sub])
    else if (!have.includes(sub)) have.push(sub)
  }

  delete (topic: TopicName, sub: S): void {
    const have = this.byTopic.get(topic)
    if (have === sub) { this.byTopic.delete(topic); return }
    if (!Array.isArray(have)) return
    const i = have.indexOf(sub)
    if (i >= 0) have.splice(i, 1)
    if (have.length === 1) this.byTopic.set(topic, have[0] as S)
    else if (have.length === 0) this.byTopic.delete(topic)
  }

  /** The topics sub spans, in the index's order (a Map iterator: topics added or removed meanwhile are fine). */
  * topicsOf (sub: S): IterableIterator<TopicName> {
    for (const [topic, have] of this.byTopic) if (have === sub || (Array.isArray(have) && have.includes(sub))) yield topic
  }
}

export class SpannedTopics<S> implements SpannedView {
  /** Its own Set while small (walks cost its own size), null past SPANNED_OWN_SET_TOPICS_MAX. */
  private own: Set<TopicName> | null = new Set()
  private count = 0

  constructor (private readonly index: TopicSubscriptions<S>, private readonly sub: S) {}

  get size (): number { return this.count }

  /** Topics held in its own Set (0 once past SPANNED_OWN_SET_TOPICS_MAX): what the view itself costs. */
  get ownTopics (): number { return this.own?.size ?? 0 }

  has (topic: TopicName): boolean {
    return this.own !== null ? this.own.has(topic) : this.index.spans(topic, this.sub)
  }

  /** sub has a cursor on topic now (the index routes its appends to sub). */
  add (topic: TopicName): void {
    if (this.has(topic)) return
    this.count++
    this.index.add(topic, this.sub)
    if (this.own === null) return
    this.own.add(topic)
    if (this.own.size > SPANNED_OWN_SET_TOPICS_MAX) this.own = null
  }

  /** Take sub out of the index for every topic (it is being forgotten): the topics it spanned; the view is empty after. */
  clear (): TopicName[] {
    const topics = [...this.values()]
    for (const topic of topics) this.index.delete(topic, this.sub)
    this.own = new Set()
    this.count = 0
    return topics
  }

  values (): IterableIterator<TopicName> {
    return this.own !== null ? this.own.values() : this.index.topicsOf(this.sub)
  }

  [Symbol.iterator] (): IterableIterator<TopicName> { return this.values() }
}
