/**
 * Topic name rules shared by every front end (HTTP paths, MQTT PUBLISH topic
 * names). A full name is `tenant/namespace/local`; this module checks the
 * local part. The local part may contain `/`, may start with `/` (MQTT
 * `/TopicA`) and may start with `$`.
 */
import { FerryError } from '../common/errors.js'
import { GatewayCode } from './errors.js'

/** Kept for callers of this module; the code is declared in gateway/errors.ts. */
export const TopicNameCode = {
  TOPIC_INVALID: GatewayCode.TOPIC_INVALID
} as const

/**
 * Longest local topic part, UTF-8 bytes. MQTT allows 65535 bytes for the whole
 * name [MQTT-1.5.4-1]; 4 KiB leaves room for tenant and namespace, keeps index
 * keys and log records small, and is far beyond any real topic hierarchy.
 */
export const TOPIC_LOCAL_BYTES_MAX = 4096

function invalid (why: string): FerryError {
  return new FerryError(TopicNameCode.TOPIC_INVALID, `invalid topic name: ${why}`)
}

/**
 * Check a local topic name that a message is published to (no wildcards).
 * Returns it unchanged; throws E_TOPIC_INVALID (HTTP 400, MQTT 0x90).
 */
export function checkPublishTopicLocal (local: string): string {
  if (local.length === 0) throw invalid('empty') // [MQTT-4.7.3-1]
  if (Buffer.byteLength(local, 'utf8') > TOPIC_LOCAL_BYTES_MAX) throw invalid(`longer than ${TOPIC_LOCAL_BYTES_MAX} bytes`)
  for (let i = 0; i < local.length; i++) {
    const c = local.charCodeAt(i)
    if (c === 0) throw invalid('contains NUL') // [MQTT-4.7.3-2]
    // Wildcards are for filters only [MQTT-3.3.2-2].
    if (c === 0x2b /* + */ || c === 0x23 /* # */) throw invalid('wildcards + and # are not allowed in a topic name')
    // A lone surrogate cannot be encoded as UTF-8 [MQTT-1.5.4-1].
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = local.charCodeAt(i + 1)
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) { i++; continue }
      throw invalid('not valid UTF-8')
    }
  }
  return local
}

/** Full topic name from its parts (the caller has checked the namespace). */
export function fullTopicName (namespace: string, local: string): string {
  return `${namespace}/${local}`
}
