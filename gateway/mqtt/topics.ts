/**
 * Topic names and filters as MQTT clients see them. An MQTT topic string is a
 * local name inside the namespace the client is bound to: `TopicA` from a
 * client in `public/default` is the full topic `public/default/TopicA`, and
 * `/TopicA` is `public/default//TopicA`.
 */
import { SubscriptionMode, parseFilter, filterMatches } from '../dispatch/index.js'

/** Full topic name of a local MQTT topic name. */
export function fullTopicName (namespace: string, local: string): string {
  return `${namespace}/${local}`
}

/** Local part of a full topic name in `namespace` (undefined when it lives elsewhere). */
export function localTopicName (namespace: string, full: string): string | undefined {
  return full.length > namespace.length && full.startsWith(namespace) && full.charCodeAt(namespace.length) === 0x2f
    ? full.slice(namespace.length + 1)
    : undefined
}

/** A PUBLISH topic: at least one character [MQTT-4.7.3-1], no wildcards [MQTT-3.3.2-2]. */
export function isValidTopicName (topic: string): boolean {
  return topic.length > 0 && !topic.includes('+') && !topic.includes('#')
}

/**
 * A topic filter: at least one character [MQTT-4.7.3-1]; `#` alone in the
 * last level [MQTT-4.7.1-2]; `+` alone in its level [MQTT-4.7.1-3].
 */
/** Is this a valid MQTT topic filter? The rules live in the dispatcher's filter module. */
export function isValidTopicFilter (filter: string): boolean {
  try { parseFilter(filter); return true } catch { return false }
}

/** Does a (valid) filter match a local topic name? A leading wildcard never matches a `$` topic [MQTT-4.7.2-1]. */
export function topicMatches (filter: string, topic: string): boolean {
  return filterMatches(filter.split('/'), topic)
}

/** Prefixes selecting a dispatcher mode: `$share/{group}/{filter}` and Ferry's siblings. */
const MODE_PREFIXES: ReadonlyArray<readonly [string, SubscriptionMode]> = [
  ['$share/', SubscriptionMode.shared],
  ['$failover/', SubscriptionMode.failover],
  ['$keyshared/', SubscriptionMode.key_shared],
  ['$exclusive/', SubscriptionMode.exclusive]
]

export interface ParsedFilter {
  /** The filter as the client sent it (the key of the subscription in the session). */
  raw: string
  /** The topic filter proper, without a `$share/{group}/` prefix. */
  filter: string
  mode: SubscriptionMode
  /** Share name for group subscriptions; undefined for the session's own subscription. */
  group: string | undefined
}

/**
 * Split a SUBSCRIBE filter into mode, group and topic filter. Returns
 * undefined when it is not valid: a share name must be non-empty and free of
 * `/`, `+` and `#` [MQTT-4.8.2-1] [MQTT-4.8.2-2], and the filter after it valid.
 */
export function parseSubscriptionFilter (raw: string): ParsedFilter | undefined {
  for (const [prefix, mode] of MODE_PREFIXES) {
    if (!raw.startsWith(prefix)) continue
    const rest = raw.slice(prefix.length)
    const slash = rest.indexOf('/')
    if (slash <= 0) return undefined
    const group = rest.slice(0, slash)
    const filter = rest.slice(slash + 1)
    if (group.includes('+') || group.includes('#')) return undefined
    if (!isValidTopicFilter(filter)) return undefined
    return { raw, filter, mode, group }
  }
  if (!isValidTopicFilter(raw)) return undefined
  return { raw, filter: raw, mode: SubscriptionMode.exclusive, group: undefined }
}

/**
 * Dispatcher subscription name of a session's filter: group subscriptions use
 * the share name, so every member attaches to the same subscription; a plain
 * subscription is the session's own, `mqtt:{clientId}:{filter}`.
 */
export function subscriptionNameOf (clientId: string, f: ParsedFilter): string {
  return f.group ?? `mqtt:${clientId}:${f.filter}`
}
