/**
 * SubscriptionRegistry: the dispatcher's indexes of its subscriptions, kept
 * together so they never disagree: by identity (namespace, filter, name), by
 * namespace (which subscriptions a new topic may match), by (namespace, name)
 * (several filters may share a name; subscription-level acks name only the
 * subscription) and by (namespace, cursor name) (backlog eviction reports a
 * cursor). Apart from dispatcher.ts, which decides when a subscription is
 * created, restored or dropped; this only files and finds them.
 */
import { CommonCode, FerryError } from '../../common/errors.js'
import type { TopicName } from '../../store/index.js'
import { parseTopicName } from './filter.js'
import type { Subscription } from './subscription.js'

/** Identity of a subscription: (namespace, filter, name); also its key in ledger meta space `subscription`. NUL cannot occur in any of them. */
export function subscriptionKey (namespace: string, filter: string, name: string): string { return `${namespace}\u0000${filter}\u0000${name}` }
function nameKey (namespace: string, name: string): string { return `${namespace}\u0000${name}` }

export class SubscriptionRegistry {
  private readonly subs = new Map<string, Subscription>()
  private readonly byNamespace = new Map<string, Set<Subscription>>()
  /** Subscriptions by (namespace, name): several filters may share a name. */
  private readonly byName = new Map<string, Subscription[]>()
  /** Subscriptions by (namespace, cursor name). */
  private readonly byCursor = new Map<string, Subscription>()

  get size (): number { return this.subs.size }
  values (): IterableIterator<Subscription> { return this.subs.values() }
  get (namespace: string, filter: string, name: string): Subscription | undefined { return this.subs.get(subscriptionKey(namespace, filter, name)) }
  inNamespace (namespace: string): ReadonlySet<Subscription> | undefined { return this.byNamespace.get(namespace) }
  byCursorName (namespace: string, cursorName: string): Subscription | undefined { return this.byCursor.get(nameKey(namespace, cursorName)) }

  add (sub: Subscription): void {
    this.subs.set(subscriptionKey(sub.namespace, sub.filter, sub.name), sub)
    this.byCursor.set(nameKey(sub.namespace, sub.cursorName), sub)
    const named = this.byName.get(nameKey(sub.namespace, sub.name))
    if (named === undefined) this.byName.set(nameKey(sub.namespace, sub.name), [sub])
    else named.push(sub)
    let set = this.byNamespace.get(sub.namespace)
    if (set === undefined) { set = new Set(); this.byNamespace.set(sub.namespace, set) }
    set.add(sub)
  }

  /** Take sub out of every index. */
  remove (sub: Subscription): void {
    this.subs.delete(subscriptionKey(sub.namespace, sub.filter, sub.name))
    this.byCursor.delete(nameKey(sub.namespace, sub.cursorName))
    const named = this.byName.get(nameKey(sub.namespace, sub.name))
    if (named !== undefined) {
      const i = named.indexOf(sub)
      if (i >= 0) named.splice(i, 1)
      if (named.length === 0) this.byName.delete(nameKey(sub.namespace, sub.name))
    }
    this.byNamespace.get(sub.namespace)?.delete(sub)
  }

  /**
   * The subscription a subscription-level ack means: the one of that name
   * whose filter names exactly this topic, else the oldest of that name whose
   * filter matches it.
   */
  forAck (topic: TopicName, subscription: string): Subscription {
    const { namespace, local } = parseTopicName(topic)
    const named = this.byName.get(nameKey(namespace, subscription)) ?? []
    const sub = named.find((s) => s.filter === local) ?? named.find((s) => s.matches(local))
    if (sub === undefined) throw new FerryError(CommonCode.NOT_FOUND, `no subscription '${subscription}' on '${topic}'`)
    return sub
  }
}
