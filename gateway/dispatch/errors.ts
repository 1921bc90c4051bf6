/**
 * Dispatcher error codes. Stable strings, mapped to MQTT reason codes and HTTP
 * statuses in gateway/error-map.ts. Never match on messages.
 */
import { FerryError } from '../../common/errors.js'

export const DispatchCode = {
  /** exclusive: a consumer is already attached; or the subscription's mode differs while consumers are attached. */
  SUBSCRIPTION_BUSY: 'E_SUBSCRIPTION_BUSY',
  /** A subscription of that name exists in the namespace with a different filter or durability. */
  SUBSCRIPTION_CONFLICT: 'E_SUBSCRIPTION_CONFLICT',
  /** The subscription was deleted while this consumer was attached. */
  SUBSCRIPTION_DELETED: 'E_SUBSCRIPTION_DELETED',
  /** producer_exception: the topic's backlog is at its quota. */
  BACKLOG_QUOTA: 'E_BACKLOG_QUOTA',
  /** producer_hold: the backlog stayed at quota for BACKLOG_HOLD_MS_MAX. */
  BACKLOG_HOLD: 'E_BACKLOG_HOLD',
  /** The namespace's publishRateMsgsPerSec is exceeded. */
  RATE_LIMIT: 'E_RATE_LIMIT',
  TOPIC_INVALID: 'E_TOPIC_INVALID',
  FILTER_INVALID: 'E_FILTER_INVALID'
} as const
export type DispatchCode = typeof DispatchCode[keyof typeof DispatchCode]

export function dispatchError (code: DispatchCode, message: string, details?: Record<string, unknown>): FerryError {
  return new FerryError(code, message, details !== undefined ? { details } : undefined)
}
