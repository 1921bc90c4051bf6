/** gateway/dispatch: Ferry's delivery semantics behind the Dispatcher interface. */
export * from './types.js'
export { createDispatcher, type DispatcherDeps } from './dispatcher.js'
export { DispatchCode } from './errors.js'
export { deadLetterTopicOf, sanitiseSubscriptionName, resultTopicOf, ResultOutcome, type ResultEvent } from './dead-letter.js'
export { parseFilter, filterMatches, parseTopicName, publishNamespaceOf, hintedNamespaceOf, isWildcardFilter } from './filter.js'
export { type ReplicatedSubscriptions, type ReplicatedSubscriptionInfo } from './replicated.js'
