/**
 * Topic names and MQTT-style topic filters, local to a namespace.
 *
 * A full topic name is `tenant/namespace/local`; filters are written against
 * the local part. `+` matches one level, `#` (last level only) matches the
 * parent level and everything below it [MQTT-4.7.1-2]. A filter starting with
 * a wildcard does not match local names starting with `$` [MQTT-4.7.2-1].
 */
import { splitTopicName } from '../policy/index.js'
import { TOPIC_FILTER_CHARS_MAX } from './constants.js'
import { DispatchCode, dispatchError } from './errors.js'

/** Check a filter; returns its levels. Throws E_FILTER_INVALID. */
export function parseFilter (filter: string): string[] {
  if (typeof filter !== 'string' || filter.length === 0) throw dispatchError(DispatchCode.FILTER_INVALID, 'topic filter must be a non-empty string')
  if (filter.length > TOPIC_FILTER_CHARS_MAX) throw dispatchError(DispatchCode.FILTER_INVALID, `topic filter longer than ${TOPIC_FILTER_CHARS_MAX} characters`)
  if (filter.includes('\u0000')) throw dispatchError(DispatchCode.FILTER_INVALID, 'topic filter contains NUL') // [MQTT-4.7.3-2]
  const levels = filter.split('/')
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i] as string
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1)) {
      throw dispatchError(DispatchCode.FILTER_INVALID, `'#' must be alone in the last level of '${filter}'`) // [MQTT-4.7.1-2]
    }
    if (l.includes('+') && l !== '+') {
      throw dispatchError(DispatchCode.FILTER_INVALID, `'+' must be alone in its level of '${filter}'`) // [MQTT-4.7.1-3]
    }
  }
  return levels
}

export function isWildcardFilter (filter: string): boolean {
  return filter.includes('+') || filter.includes('#')
}

/** Does a (checked) filter match a local topic name? */
export function filterMatches (levels: readonly string[], local: string): boolean {
  if (local.startsWith('$') && (levels[0] === '+' || levels[0] === '#')) return false // [MQTT-4.7.2-1]
  const parts = local.split('/')
  for (let i = 0; i < levels.length; i++) {
    const f = levels[i] as string
    if (f === '#') return true // matches the parent level too: `a/#` matches `a`
    if (i >= parts.length) return false
    if (f !== '+' && f !== parts[i]) return false
  }
  return parts.length === levels.length
}

/** Check a full topic name for publishing; returns its namespace and local part. Throws E_TOPIC_INVALID. */
export function parseTopicName (topic: string): { namespace: string, local: string } {
  if (typeof topic !== 'string' || topic.length === 0) throw dispatchError(DispatchCode.TOPIC_INVALID, 'topic must be a non-empty string')
  let parts: { namespace: string, local: string }
  try {
    parts = splitTopicName(topic)
  } catch {
    throw dispatchError(DispatchCode.TOPIC_INVALID, `not a full topic name (tenant/namespace/local): '${topic}'`)
  }
  if (parts.local.length === 0) throw dispatchError(DispatchCode.TOPIC_INVALID, `topic '${topic}' has an empty local name`)
  if (/[+#\u0000]/.test(parts.local)) throw dispatchError(DispatchCode.TOPIC_INVALID, `topic name '${topic}' contains a wildcard or NUL`) // [MQTT-3.3.2-2]
  return parts
}

/**
 * parseTopicName for the publish path (fanin, issue 11): the same checks and
 * errors, without the parts object, the slices and the regular expression per
 * message. `hint` is the namespace the caller built the topic from (mqtt/: the
 * session's); when it is the topic's namespace part it is returned as is, so
 * no new string is made; a wrong hint is ignored, never trusted.
 */
export function publishNamespaceOf (topic: string, hint: string | undefined): string {
  if (typeof topic !== 'string' || topic.length === 0) throw dispatchError(DispatchCode.TOPIC_INVALID, 'topic must be a non-empty string')
  const a = topic.indexOf('/')
  const end = a <= 0 ? -1 : topic.indexOf('/', a + 1)
  if (end <= a + 1) throw dispatchError(DispatchCode.TOPIC_INVALID, `not a full topic name (tenant/namespace/local): '${topic}'`)
  if (end === topic.length - 1) throw dispatchError(DispatchCode.TOPIC_INVALID, `topic '${topic}' has an empty local name`)
  for (let i = end + 1; i < topic.length; i++) {
    const c = topic.charCodeAt(i)
    if (c === 0x2b || c === 0x23 || c === 0) throw dispatchError(DispatchCode.TOPIC_INVALID, `topic name '${topic}' contains a wildcard or NUL`) // [MQTT-3.3.2-2]
  }
  return hint !== undefined && hint.length === end && topic.startsWith(hint) ? hint : topic.slice(0, end)
}

/** namespaceOfTopic (gateway/policy) with publishNamespaceOf's hint: `tenant/namespace` of a full topic name, or undefined. */
export function hintedNamespaceOf (topic: string, hint: string | undefined): string | undefined {
  const a = topic.indexOf('/')
  const end = a <= 0 ? -1 : topic.indexOf('/', a + 1)
  if (end <= a + 1) return undefined
  return hint !== undefined && hint.length === end && topic.startsWith(hint) ? hint : topic.slice(0, end)
}
