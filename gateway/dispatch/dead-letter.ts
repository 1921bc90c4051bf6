/**
 * Dead-letter and result-event topic names.
 *
 * Dead-letter topic: `{topic}-{subscription}-DLQ`, in the topic's namespace.
 * Characters of the subscription name outside `[A-Za-z0-9._-]` become `_`
 * (so `/`, `+`, `#`, `$` and spaces never reach a topic name; two names
 * differing only there share a DLQ). The DLQ is a normal topic.
 *
 * Result topics: `props.resultTopic` starting with the message's
 * `tenant/namespace/` is used as is; anything else is taken as local to the
 * message's namespace (`orders/results` on `acme/shop/orders` means
 * `acme/shop/orders/results`). Results never leave the namespace.
 */
import type { MessageProps, TopicName } from '../../store/index.js'
import { splitTopicName } from '../policy/index.js'

export function sanitiseSubscriptionName (subscription: string): string {
  return subscription.replace(/[^A-Za-z0-9._-]/g, '_')
}

export function deadLetterTopicOf (topic: TopicName, subscription: string): TopicName {
  return `${topic}-${sanitiseSubscriptionName(subscription)}-DLQ`
}

/** The suffix of every DLQ topic of a subscription (a wildcard subscription never spans its own DLQs). */
export function deadLetterSuffixOf (subscription: string): string {
  return `-${sanitiseSubscriptionName(subscription)}-DLQ`
}

/**
 * Producer id of the dead-letter copy of one entry: the source topic, the
 * subscription and the entry id. With producerSeq 0 the DLQ topic's producer
 * dedup stores the copy once, however often it is appended (a crash between
 * the append and the ack, a retry after a late failure).
 */
export function deadLetterProducerOf (topic: TopicName, subscription: string, entryId: number): string {
  return `ferry-dlq\u0000${topic}\u0000${subscription}\u0000${entryId}`
}

/** The props of the dead-lettered copy: the original ones, in order, plus the reason. */
export function deadLetterProps (props: MessageProps, reason: string): MessageProps {
  const out: MessageProps = { ...props, deadLetterReason: reason }
  // Producer dedup ids of different source topics could collide in one DLQ and drop a dead letter.
  delete out.producerId
  delete out.producerSeq
  // A past schedule must not make the copy look delayed again (it already waited).
  delete out.deliverAt
  return out
}

/** Full result topic for a message of `topic`, or undefined when the name is unusable. */
export function resultTopicOf (topic: TopicName, resultTopic: string): TopicName | undefined {
  const { namespace } = splitTopicName(topic)
  const prefix = `${namespace}/`
  const full = resultTopic.startsWith(prefix) ? resultTopic : prefix + resultTopic
  const local = full.slice(prefix.length)
  if (local.length === 0 || /[+#\u0000]/.test(local)) return undefined
  return full
}

export const ResultOutcome = {
  delivered: 'delivered',
  expired: 'expired',
  deadLettered: 'dead-lettered'
} as const
export type ResultOutcome = typeof ResultOutcome[keyof typeof ResultOutcome]

/** The JSON body of a result event. */
export interface ResultEvent {
  messageId: number
  topic: TopicName
  subscription: string
  outcome: ResultOutcome
  /** Epoch ms of the outcome. */
  at: number
}
