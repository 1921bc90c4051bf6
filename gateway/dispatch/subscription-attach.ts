/**
 * Giving subscriptions their cursors on the topics that already exist: every
 * restored durable subscription at start-up, and a subscription when it is
 * created. Topics appearing later get theirs from the dispatcher's
 * onTopicCreated. Apart from dispatcher.ts because these are walks over every
 * topic of the ledger (yielding every MATERIALISE_TOPICS_PER_TURN topics so a
 * million topics do not stall the event loop) with their own rule for where
 * a cursor starts (restartStart), not dispatcher state.
 */
import type { CursorStart, Ledger, TopicName } from '../../store/index.js'
import { namespaceOfTopic } from '../policy/index.js'
import { MATERIALISE_TOPICS_PER_TURN } from './constants.js'
import type { Subscription } from './subscription.js'
import type { SubscriptionRegistry } from './subscription-registry.js'

/** The ledger calls the walks make. */
export type AttachLedger = Pick<Ledger, 'topics' | 'topicInfo' | 'readOne'>

/** Start-up: every topic gets a cursor of each restored subscription it matches. */
export async function attachRestored (ledger: AttachLedger, subs: SubscriptionRegistry): Promise<void> {
  if (subs.size === 0) return
  let n = 0
  const work: Array<Promise<unknown>> = []
  for (const topic of [...ledger.topics()]) {
    const ns = namespaceOfTopic(topic)
    const inNs = ns === undefined ? undefined : subs.inNamespace(ns)
    if (ns !== undefined && inNs !== undefined) {
      const local = topic.slice(ns.length + 1)
      for (const sub of inNs) if (sub.matches(local)) work.push(sub.attach(topic, () => restartStart(ledger, sub, topic)))
    }
    if (++n % MATERIALISE_TOPICS_PER_TURN === 0) {
      await Promise.all(work.splice(0))
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
  }
  await Promise.all(work)
}

/**
 * Where a cursor created after a restart starts: right after the
 * subscription's creation lsn — unless the topic already had entries then and
 * the subscription asked for earliest (its cursor creation was cut short).
 */
async function restartStart (ledger: AttachLedger, sub: Subscription, topic: TopicName): Promise<CursorStart> {
  if (sub.initialPosition === 'earliest') {
    const info = ledger.topicInfo(topic)
    const first = info === undefined ? undefined : await ledger.readOne(topic, info.firstEntryId)
    if (first !== undefined && first.lsn <= sub.createdLsn) return { kind: 'earliest' }
  }
  return { kind: 'afterLsn', lsn: sub.createdLsn }
}

/** A new subscription: a cursor on every existing topic it matches, at its initial position. */
export async function attachExisting (ledger: AttachLedger, sub: Subscription): Promise<void> {
  // Topics that exist now start at initialPosition; `latest` is "after createdLsn", exact under concurrent publishes.
  const start: CursorStart = sub.initialPosition === 'earliest' ? { kind: 'earliest' } : { kind: 'afterLsn', lsn: sub.createdLsn }
  const work: Array<Promise<unknown>> = []
  if (sub.wildcard) {
    const prefix = `${sub.namespace}/`
    let n = 0
    for (const topic of [...ledger.topics()]) {
      if (topic.startsWith(prefix) && sub.matches(topic.slice(prefix.length))) work.push(sub.attach(topic, () => start))
      if (++n % MATERIALISE_TOPICS_PER_TURN === 0) {
        await Promise.all(work.splice(0))
        await new Promise<void>((resolve) => setImmediate(resolve))
      }
    }
  } else {
    const topic = `${sub.namespace}/${sub.filter}`
    if (ledger.topicInfo(topic) !== undefined) work.push(sub.attach(topic, () => start))
  }
  await Promise.all(work)
}
