/**
 * One table from FerryError codes to what each protocol says. Front ends use
 * `httpStatusOf` / `mqttReasonOf`; a code missing here is a bug (maps to 500 / 0x80),
 * and test/gateway/error-codes.test.ts fails for any code raised in the sources but absent here.
 */
import { CommonCode, isFerryError } from '../common/errors.js'

interface Mapping { http: number, mqtt: number }

/** MQTT 5 reason codes used by Ferry (MQTT 5.0 section 2.4). */
export const MqttReason = {
  success: 0x00,
  unspecifiedError: 0x80,
  malformedPacket: 0x81,
  protocolError: 0x82,
  implementationSpecificError: 0x83,
  notAuthorized: 0x87,
  serverUnavailable: 0x88,
  serverBusy: 0x89,
  badAuthenticationMethod: 0x8c,
  keepAliveTimeout: 0x8d,
  sessionTakenOver: 0x8e,
  topicFilterInvalid: 0x8f,
  topicNameInvalid: 0x90,
  packetIdentifierInUse: 0x91,
  packetIdentifierNotFound: 0x92,
  receiveMaximumExceeded: 0x93,
  topicAliasInvalid: 0x94,
  packetTooLarge: 0x95,
  messageRateTooHigh: 0x96,
  quotaExceeded: 0x97,
  administrativeAction: 0x98,
  payloadFormatInvalid: 0x99,
  useAnotherServer: 0x9c,
  serverMoved: 0x9d,
  sharedSubscriptionsNotSupported: 0x9e,
  subscriptionIdentifiersNotSupported: 0xa1,
  wildcardSubscriptionsNotSupported: 0xa2
} as const

const TABLE: Record<string, Mapping> = {
  E_BAD_REQUEST: { http: 400, mqtt: MqttReason.implementationSpecificError },
  E_NOT_FOUND: { http: 404, mqtt: MqttReason.topicNameInvalid },
  E_TOO_LARGE: { http: 413, mqtt: MqttReason.packetTooLarge },
  E_LIMIT: { http: 429, mqtt: MqttReason.quotaExceeded },
  E_CLOSED: { http: 503, mqtt: MqttReason.serverUnavailable },
  E_INTERNAL: { http: 500, mqtt: MqttReason.unspecifiedError },
  E_UNAUTHORIZED: { http: 401, mqtt: MqttReason.notAuthorized },
  E_FORBIDDEN: { http: 403, mqtt: MqttReason.notAuthorized },
  E_RATE_LIMIT: { http: 429, mqtt: MqttReason.messageRateTooHigh },
  E_QUOTA: { http: 429, mqtt: MqttReason.quotaExceeded },
  E_BACKLOG_QUOTA: { http: 507, mqtt: MqttReason.quotaExceeded },
  E_BACKLOG_HOLD: { http: 429, mqtt: MqttReason.quotaExceeded },
  E_SUBSCRIPTION_BUSY: { http: 409, mqtt: MqttReason.unspecifiedError },
  E_SUBSCRIPTION_CONFLICT: { http: 409, mqtt: MqttReason.implementationSpecificError },
  E_SUBSCRIPTION_DELETED: { http: 410, mqtt: MqttReason.administrativeAction },
  E_TOPIC_INVALID: { http: 400, mqtt: MqttReason.topicNameInvalid },
  E_FILTER_INVALID: { http: 400, mqtt: MqttReason.topicFilterInvalid },
  // gateway/http/
  E_ROUTE_NOT_FOUND: { http: 404, mqtt: MqttReason.unspecifiedError },
  E_METHOD_NOT_ALLOWED: { http: 405, mqtt: MqttReason.unspecifiedError },
  E_BODY_TOO_LARGE: { http: 413, mqtt: MqttReason.packetTooLarge },
  E_UNSUPPORTED_MEDIA_TYPE: { http: 415, mqtt: MqttReason.payloadFormatInvalid },
  E_NOT_SCHEDULED: { http: 404, mqtt: MqttReason.unspecifiedError },
  // gateway/ops/
  E_NOT_READY: { http: 503, mqtt: MqttReason.serverUnavailable },
  E_NAMESPACE_NOT_EMPTY: { http: 409, mqtt: MqttReason.implementationSpecificError },
  E_DLQ_ORIGIN_UNKNOWN: { http: 400, mqtt: MqttReason.implementationSpecificError },
  E_TOKENS_UNAVAILABLE: { http: 409, mqtt: MqttReason.implementationSpecificError },
  // store/
  E_DISK_FULL: { http: 507, mqtt: MqttReason.quotaExceeded },
  E_RECORD_TOO_LARGE: { http: 413, mqtt: MqttReason.packetTooLarge },
  E_TOO_MANY_TOPICS: { http: 507, mqtt: MqttReason.quotaExceeded },
  E_FSYNC_FAILED: { http: 503, mqtt: MqttReason.serverUnavailable },
  E_FENCED: { http: 503, mqtt: MqttReason.serverUnavailable },
  E_STORE_CLOSED: { http: 503, mqtt: MqttReason.serverUnavailable },
  E_STORE_CORRUPT: { http: 500, mqtt: MqttReason.unspecifiedError },
  E_STORE_IO: { http: 503, mqtt: MqttReason.serverUnavailable },
  E_STORE_BAD_ARGUMENT: { http: 400, mqtt: MqttReason.implementationSpecificError },
  E_CURSOR_RANGES_FULL: { http: 429, mqtt: MqttReason.quotaExceeded }, // ack refused: cursor too fragmented
  E_STORE_LOCKED: { http: 503, mqtt: MqttReason.serverUnavailable },
  // gateway/errors.ts. E_CONFIG is raised at start only; were it ever answered, it is the server's fault.
  E_CONFIG: { http: 500, mqtt: MqttReason.implementationSpecificError },
  E_LISTEN: { http: 503, mqtt: MqttReason.serverUnavailable },
  E_UWS_NATIVE_MISSING: { http: 503, mqtt: MqttReason.serverUnavailable },
  // E_TOPIC_INVALID is above with the dispatcher's codes (both folders raise it).
  // cli/errors.ts: client-side codes of the ferry command, mapped so they print and exit like any other.
  E_HTTP: { http: 502, mqtt: MqttReason.unspecifiedError },
  E_UNREACHABLE: { http: 503, mqtt: MqttReason.serverUnavailable },
  E_REFUSED: { http: 400, mqtt: MqttReason.implementationSpecificError },
  E_MQTT_CLIENT_MISSING: { http: 500, mqtt: MqttReason.implementationSpecificError },
  // replicator/errors.ts and topology/errors.ts (geo-replication; link and etcd failures).
  E_REPL_POSITION: { http: 409, mqtt: MqttReason.implementationSpecificError },
  E_REPL_BAD_BATCH: { http: 400, mqtt: MqttReason.implementationSpecificError },
  E_REPL_UNAVAILABLE: { http: 503, mqtt: MqttReason.serverUnavailable },
  E_REPL_REMOTE_AHEAD: { http: 500, mqtt: MqttReason.unspecifiedError },
  E_TOPOLOGY_UNAVAILABLE: { http: 503, mqtt: MqttReason.serverUnavailable },
  E_TOPOLOGY_BAD_VALUE: { http: 500, mqtt: MqttReason.unspecifiedError },
  E_TOPOLOGY_INVALID: { http: 400, mqtt: MqttReason.implementationSpecificError },
  E_NOT_PRIMARY: { http: 421, mqtt: MqttReason.implementationSpecificError }, // 421 Misdirected Request: publish at the primary
  E_PRIMARY_CATCHING_UP: { http: 503, mqtt: MqttReason.implementationSpecificError }, // the new primary catches up first: retry here shortly
  E_SERVICE: { http: 503, mqtt: MqttReason.serverUnavailable },
  E_DEV_TIMEOUT: { http: 503, mqtt: MqttReason.serverUnavailable },
  E_DEV_SITE_EXITED: { http: 503, mqtt: MqttReason.serverUnavailable },
}

const FALLBACK: Mapping = { http: 500, mqtt: MqttReason.unspecifiedError }

export function httpStatusOf (err: unknown): number {
  return isFerryError(err) ? (TABLE[err.code] ?? FALLBACK).http : FALLBACK.http
}

export function mqttReasonOf (err: unknown): number {
  return isFerryError(err) ? (TABLE[err.code] ?? FALLBACK).mqtt : FALLBACK.mqtt
}

/** The JSON error body every HTTP error carries. */
export function httpErrorBody (err: unknown): { error: { code: string, message: string } } {
  if (isFerryError(err)) return { error: { code: err.code, message: err.message } }
  return { error: { code: CommonCode.INTERNAL, message: 'internal error' } }
}

/** Is this code in the table? (test/gateway/error-codes.test.ts checks every code raised anywhere.) */
export function isMappedErrorCode (code: string): boolean {
  return Object.hasOwn(TABLE, code)
}

/** Every code in the table. */
export function mappedErrorCodes (): string[] {
  return Object.keys(TABLE)
}

/** Register codes from other folders (kept in one table; called at module load). */
export function registerErrorCodes (codes: Record<string, Mapping>): void {
  Object.assign(TABLE, codes)
}
