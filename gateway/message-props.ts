/**
 * Ferry's message controls, shared by every front end. MQTT 5 carries them as
 * user properties (`ferry-key`, ...), HTTP as headers (`Ferry-Key`, ...).
 * User properties are forwarded unaltered and in order, ferry-* ones included;
 * this module only reads the controls out of them.
 */
import { FerryError, CommonCode } from '../common/errors.js'
import type { MessageProps, UserProperty } from '../store/index.js'

export const FerryProp = {
  key: 'ferry-key',
  orderingKey: 'ferry-ordering-key',
  priority: 'ferry-priority',
  deliverAt: 'ferry-deliver-at',
  delayMs: 'ferry-delay-ms',
  ttlMs: 'ferry-ttl-ms',
  producerId: 'ferry-producer-id',
  producerSeq: 'ferry-producer-seq',
  resultTopic: 'ferry-result-topic',
  /** Added by the gateway on every delivery. */
  redeliveryCount: 'ferry-redelivery-count',
  /** Added by the gateway on every delivery: the message id within its topic. */
  messageId: 'ferry-message-id'
} as const

/** Default priority when none is given (JMS and IBM MQ use the same middle value). */
export const PRIORITY_DEFAULT = 4
export const PRIORITY_MAX = 9
/** Longest key or ordering key, characters. */
export const MESSAGE_KEY_CHARS_MAX = 1024
/** Furthest a message may be scheduled into the future, ms (one year). */
export const DELIVER_AT_AHEAD_MS_MAX = 365 * 24 * 3600 * 1000

function bad (name: string, why: string): FerryError {
  return new FerryError(CommonCode.BAD_REQUEST, `${name}: ${why}`, { details: { property: name } })
}

function parseIntStrict (name: string, v: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(v.trim())) throw bad(name, 'must be an integer')
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < min || n > max) throw bad(name, `must be in [${min}, ${max}]`)
  return n
}

/** Epoch ms or an ISO-8601 time. A time in the past means now. */
export function parseDeliverAt (name: string, v: string): number {
  const s = v.trim()
  const n = /^\d+$/.test(s) ? Number(s) : Date.parse(s)
  if (!Number.isFinite(n) || n < 0) throw bad(name, 'must be epoch milliseconds or an ISO-8601 time')
  return n
}

/**
 * Read Ferry's controls from name/value pairs (user properties or headers with
 * lowercase names). Controls given twice use the first. Throws E_BAD_REQUEST.
 */
export function readFerryControls (pairs: Iterable<UserProperty>, nowMs: number): MessageProps {
  const out: MessageProps = {}
  const seen = new Set<string>()
  for (const [rawName, value] of pairs) {
    const name = rawName.toLowerCase()
    if (!name.startsWith('ferry-') || seen.has(name)) continue
    seen.add(name)
    switch (name) {
      case FerryProp.key:
        if (value.length > MESSAGE_KEY_CHARS_MAX) throw bad(name, `longer than ${MESSAGE_KEY_CHARS_MAX} characters`)
        out.key = value
        break
      case FerryProp.orderingKey:
        if (value.length > MESSAGE_KEY_CHARS_MAX) throw bad(name, `longer than ${MESSAGE_KEY_CHARS_MAX} characters`)
        out.orderingKey = value
        break
      case FerryProp.priority:
        out.priority = parseIntStrict(name, value, 0, PRIORITY_MAX)
        break
      case FerryProp.deliverAt:
        out.deliverAt = parseDeliverAt(name, value)
        break
      case FerryProp.delayMs:
        if (!seen.has(FerryProp.deliverAt)) out.deliverAt = nowMs + parseIntStrict(name, value, 0, DELIVER_AT_AHEAD_MS_MAX)
        break
      case FerryProp.ttlMs:
        out.expiresAt = nowMs + parseIntStrict(name, value, 1, DELIVER_AT_AHEAD_MS_MAX)
        break
      case FerryProp.producerId:
        out.producerId = value
        break
      case FerryProp.producerSeq:
        out.producerSeq = parseIntStrict(name, value, 0, Number.MAX_SAFE_INTEGER)
        break
      case FerryProp.resultTopic:
        out.resultTopic = value
        break
      default:
        break // other ferry-* names are plain user properties
    }
  }
  if (out.deliverAt !== undefined && out.deliverAt > nowMs + DELIVER_AT_AHEAD_MS_MAX) {
    throw bad(FerryProp.deliverAt, 'more than a year ahead')
  }
  if ((out.producerId === undefined) !== (out.producerSeq === undefined)) {
    throw bad(FerryProp.producerSeq, 'producer id and sequence go together')
  }
  return out
}

/** Ordering key used by key_shared: ordering key, else key, else the topic. */
export function orderingKeyOf (topic: string, props: MessageProps): string {
  return props.orderingKey ?? props.key ?? topic
}
