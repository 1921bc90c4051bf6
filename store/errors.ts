/**
 * Store error codes. Stable strings: the gateway maps each one to an MQTT
 * reason code and an HTTP status (gateway/error-map.ts). Never match on messages.
 */
import { FerryError } from '../common/errors.js'

export const StoreCode = {
  /** The disk is full (ENOSPC); nothing of the failed append survives; retry once space returns. */
  DISK_FULL: 'E_DISK_FULL',
  /** fdatasync failed; the pending appends are lost; the ledger fences and reopens from disk. */
  FSYNC_FAILED: 'E_FSYNC_FAILED',
  /** The ledger stopped accepting writes after a failed fsync or write, until it has recovered. */
  FENCED: 'E_FENCED',
  /** An encoded record exceeds maxRecordBytes. */
  RECORD_TOO_LARGE: 'E_RECORD_TOO_LARGE',
  /** maxTopics topics already exist. */
  TOO_MANY_TOPICS: 'E_TOO_MANY_TOPICS',
  /** A checksum or structure check failed where the log must be intact. */
  STORE_CORRUPT: 'E_STORE_CORRUPT',
  /** The ledger is closed (or not open yet). */
  STORE_CLOSED: 'E_STORE_CLOSED',
  /** Another process holds the data directory's lock (details.holder: pid, host, startedAt). */
  STORE_LOCKED: 'E_STORE_LOCKED',
  /** Any other I/O error from the disk. */
  IO: 'E_STORE_IO',
  /**
   * An individual ack would give the cursor more than maxCursorAckRanges
   * acknowledged ranges: refused before it is logged (nothing changes).
   * Acknowledge the oldest unacknowledged entries (or ack cumulatively) first.
   */
  CURSOR_RANGES_FULL: 'E_CURSOR_RANGES_FULL',
  /** A caller passed something invalid (bad entry id, bad priority, ...). */
  BAD_ARGUMENT: 'E_STORE_BAD_ARGUMENT'
} as const
export type StoreCode = typeof StoreCode[keyof typeof StoreCode]

export function storeError (code: StoreCode, message: string, options?: { cause?: unknown, details?: Record<string, unknown> }): FerryError {
  return new FerryError(code, message, options)
}

/** errno of a Node system error, if any. */
export function errnoCode (err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code
  }
  return undefined
}

/** Wrap a disk error: ENOSPC becomes E_DISK_FULL, anything else not already a FerryError becomes E_STORE_IO. */
export function asStoreError (err: unknown, what: string): FerryError {
  if (err instanceof FerryError) return err
  if (errnoCode(err) === 'ENOSPC') return storeError(StoreCode.DISK_FULL, `disk full: ${what}`, { cause: err })
  return storeError(StoreCode.IO, `${what} failed: ${String(err)}`, { cause: err })
}
