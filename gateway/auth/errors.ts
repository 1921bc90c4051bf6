/**
 * Codes of gateway/auth, registered in the one error table (gateway/error-map.ts)
 * at module load. E_UNAUTHORIZED (401 / 0x86-0x87) and E_FORBIDDEN (403 / 0x87)
 * are shared with the HTTP front end and already in the table.
 */
import { FerryError } from '../../common/errors.js'
import { MqttReason, registerErrorCodes } from '../error-map.js'
import { PkiCode } from '../../pki/index.js'

export const AuthCode = {
  /** No credential, or one that does not verify (401; MQTT 0x86 / 3.1.1 rc 4). */
  UNAUTHORIZED: 'E_UNAUTHORIZED',
  /** A valid credential without the right for this (403; MQTT 0x87 / 3.1.1 rc 5). */
  FORBIDDEN: 'E_FORBIDDEN',
  /** Too many failed attempts from this address (429). */
  THROTTLED: 'E_AUTH_THROTTLED',
  /** Quotas (429 or 507; MQTT 0x97). The message names the quota. */
  QUOTA_CONNECTIONS: 'E_QUOTA_CONNECTIONS',
  QUOTA_PUBLISH_RATE: 'E_QUOTA_PUBLISH_RATE',
  QUOTA_PUBLISH_BYTES: 'E_QUOTA_PUBLISH_BYTES',
  QUOTA_STORAGE: 'E_QUOTA_STORAGE',
  QUOTA_SUBSCRIPTIONS: 'E_QUOTA_SUBSCRIPTIONS',
  /** Encryption at rest: a key is missing or does not open a record. */
  AT_REST_KEY: 'E_AT_REST_KEY'
} as const
export type AuthCode = typeof AuthCode[keyof typeof AuthCode]

export function authError (code: AuthCode, message: string, details?: Record<string, unknown>): FerryError {
  return new FerryError(code, message, details !== undefined ? { details } : undefined)
}

/** MQTT 5 CONNACK reason for bad credentials (0x86 Bad User Name or Password). */
export const MQTT_BAD_CREDENTIALS = 0x86

registerErrorCodes({
  E_AUTH_THROTTLED: { http: 429, mqtt: MqttReason.serverBusy },
  E_QUOTA_CONNECTIONS: { http: 429, mqtt: MqttReason.quotaExceeded },
  E_QUOTA_PUBLISH_RATE: { http: 429, mqtt: MqttReason.quotaExceeded },
  E_QUOTA_PUBLISH_BYTES: { http: 429, mqtt: MqttReason.quotaExceeded },
  E_QUOTA_STORAGE: { http: 507, mqtt: MqttReason.quotaExceeded },
  E_QUOTA_SUBSCRIPTIONS: { http: 429, mqtt: MqttReason.quotaExceeded },
  E_AT_REST_KEY: { http: 500, mqtt: MqttReason.unspecifiedError },
  // PKI codes reach clients only if a gateway misconfiguration surfaces in a request: server-side errors.
  ...Object.fromEntries(Object.values(PkiCode).map((code) => [code, { http: 500, mqtt: MqttReason.serverUnavailable }]))
})
