/**
 * The gateway process's policy for errors nobody caught: an unhandled
 * promise rejection or an uncaught exception. One bad request or one bug in
 * a rarely used path must not take a site down, so by default such an error
 * is logged, counted and the process keeps serving. Only a failed invariant
 * of durable state ends it, with a non-zero exit, because serving on from a
 * store that broke a promise risks acknowledging what it cannot keep:
 *
 * - an AssertionError (node:assert; the store and replicator assert their
 *   invariants with it), or
 * - a FerryError the store marks `fatal`.
 *
 * A fatal fault exits at once, without the graceful close: that close would
 * checkpoint the very state that failed its check. Recovery at the next start
 * decides from what is durable. The supervisor (systemd, compose) restarts.
 */
import { AssertionError } from 'node:assert'
import type { Logger } from '../common/log.js'
import { isFerryError } from '../common/errors.js'

/** Exit status after a fatal fault: EX_SOFTWARE from sysexits.h, "internal software error". */
export const FATAL_FAULT_EXIT_CODE = 70

export interface ProcessFaultCounts {
  unhandledRejections: number
  uncaughtExceptions: number
}

const counts: ProcessFaultCounts = { unhandledRejections: 0, uncaughtExceptions: 0 }

/** Faults seen since the policy was installed (reported by `GET /v1/admin/stats` under `process`). */
export function processFaultCounts (): Readonly<ProcessFaultCounts> {
  return { ...counts }
}

/** Does this error mean a store invariant failed? */
export function isFatalFault (err: unknown): boolean {
  return err instanceof AssertionError || (isFerryError(err) && err.fatal)
}

let installed = false

/**
 * Install the policy on this process (once; later calls are ignored). `exit`
 * is process.exit unless a caller needs to observe it.
 */
export function installProcessFaultPolicy (logger: Logger, exit: (code: number) => void = (code) => process.exit(code)): void {
  if (installed) return
  installed = true
  const handle = (kind: keyof ProcessFaultCounts, err: unknown): void => {
    counts[kind]++
    if (isFatalFault(err)) {
      logger.fatal({ err, kind }, 'store invariant failed; exiting without a graceful close')
      exit(FATAL_FAULT_EXIT_CODE)
      return
    }
    logger.error({ err, kind, count: counts[kind] }, kind === 'unhandledRejections' ? 'unhandled promise rejection; still serving' : 'uncaught exception; still serving')
  }
  process.on('unhandledRejection', (reason) => { handle('unhandledRejections', reason) })
  process.on('uncaughtException', (err) => { handle('uncaughtExceptions', err) })
}
