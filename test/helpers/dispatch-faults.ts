/**
 * Fault injection for dispatcher tests: a ledger whose cursors fail or slow
 * down chosen calls (the rest is the real ledger underneath). Pass
 * `wrapLedger: (l) => faultyLedger(l, faults)` to startHarness.
 */
import type { Cursor, Ledger } from '../../store/index.js'

export interface CursorFaults {
  /** Reject this many upcoming cursor.ack calls (on any cursor). */
  failAcks: number
  /** Reject every cursor.ack while true. */
  failAllAcks: boolean
  /** Delay every cursor.recordDeliveries by this many ms. */
  recordDelayMs: number
  /** Reject this many upcoming cursor.recordDeliveries calls (the delivery counts not persisted). */
  failRecords: number
  /** recordDeliveries calls rejected so far. */
  recordFailures: number
  /** ack calls rejected so far. */
  ackFailures: number
  /** Entries returned by ledger.read to the dispatcher so far (read amplification). */
  entriesRead: number
}

export function newFaults (): CursorFaults {
  return { failAcks: 0, failAllAcks: false, recordDelayMs: 0, failRecords: 0, recordFailures: 0, ackFailures: 0, entriesRead: 0 }
}

function bound<T extends object> (target: T, prop: string | symbol): unknown {
  const v: unknown = Reflect.get(target, prop)
  return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
}

function faultyCursor (c: Cursor, faults: CursorFaults): Cursor {
  return new Proxy(c, {
    get (target, prop) {
      if (prop === 'ack') {
        return async (ids: readonly number[]): Promise<void> => {
          if (faults.failAllAcks || faults.failAcks > 0) {
            if (faults.failAcks > 0) faults.failAcks--
            faults.ackFailures++
            throw new Error('injected ack failure')
          }
          await target.ack(ids)
        }
      }
      if (prop === 'recordDeliveries') {
        return async (ids: readonly number[]): Promise<void> => {
          if (faults.recordDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, faults.recordDelayMs))
          if (faults.failRecords > 0) {
            faults.failRecords--
            faults.recordFailures++
            throw new Error('injected delivery-count failure')
          }
          await target.recordDeliveries(ids)
        }
      }
      return bound(target, prop)
    }
  })
}

/** The ledger, with cursors handed to the dispatcher wrapped by the faults. */
export function faultyLedger (ledger: Ledger, faults: CursorFaults): Ledger {
  return new Proxy(ledger, {
    get (target, prop) {
      if (prop === 'cursor') {
        return async (...args: Parameters<Ledger['cursor']>): Promise<Cursor> => faultyCursor(await target.cursor(...args), faults)
      }
      if (prop === 'cursors') {
        // The cursors a wildcard subscription materialised up front are found again through cursors(), not cursor().
        return (...args: Parameters<Ledger['cursors']>): ReturnType<Ledger['cursors']> => target.cursors(...args).map((c) => faultyCursor(c, faults))
      }
      if (prop === 'read') {
        return async (...args: Parameters<Ledger['read']>): ReturnType<Ledger['read']> => {
          const entries = await target.read(...args)
          faults.entriesRead += entries.length
          return entries
        }
      }
      return bound(target, prop)
    }
  })
}
