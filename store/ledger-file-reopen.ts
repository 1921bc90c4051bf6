/**
 * The retry policy of a fenced FileLedger's reopen: how often, and how long
 * between tries. One reopen step (drain the checkpoint and retention in
 * flight, abandon the writer, rebuild the state from disk) is the ledger's
 * own (ledger-file.ts); this file decides when to run it again.
 *
 * Reopen runs at most FENCE_REOPEN_ATTEMPTS_MAX times in a row; a reopen that
 * fails for a full disk waits DISK_FULL_REOPEN_BACKOFF_MS without using up an
 * attempt (at most DISK_FULL_REOPEN_WAITS_MAX times). After that the ledger
 * stays fenced ('fenced-permanently'): writes keep failing with E_FENCED.
 */
import { StoreCode, asStoreError } from './errors.js'
import * as C from './constants.js'

export interface ReopenHost {
  /** Checked before each attempt: a closed ledger is not reopened. */
  readonly isClosed: boolean
  /** One reopen from disk; resolves unfenced, throws when it failed. */
  reopenOnce: () => Promise<void>
  onEvent: (event: string, details: Record<string, unknown>) => void
}

export async function reopenWithRetry (host: ReopenHost): Promise<void> {
  let attempt = 0
  let diskFullWaits = 0
  while (attempt < C.FENCE_REOPEN_ATTEMPTS_MAX) {
    attempt++
    if (host.isClosed) return
    try {
      await host.reopenOnce()
      host.onEvent('unfenced', { attempt })
      return
    } catch (err) {
      // A full disk is not a failing one: wait for space (bounded) without using up the attempts.
      const full = asStoreError(err, 'reopen').code === StoreCode.DISK_FULL
      host.onEvent('reopen-failed', { attempt, diskFull: full, err: String(err), details: (err as { details?: unknown }).details })
      if (full && diskFullWaits < C.DISK_FULL_REOPEN_WAITS_MAX) {
        diskFullWaits++
        attempt--
        await sleepMs(C.DISK_FULL_REOPEN_BACKOFF_MS)
        continue
      }
      await sleepMs(C.FENCE_REOPEN_BACKOFF_MS)
    }
  }
  host.onEvent('fenced-permanently', { attempts: attempt, diskFullWaits })
}

async function sleepMs (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}
