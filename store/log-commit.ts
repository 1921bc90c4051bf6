/**
 * What a group commit's disk operation was (store/log-writer.ts), and the
 * error its failure is reported as.
 */
import { StoreCode, errnoCode, storeError } from './errors.js'
import type { FerryError } from '../common/errors.js'

/** What a commit's op was: decides the error and the cut when it fails. */
export const CommitOp = {
  /** Nothing to wait for: async records written, or barriers behind syncs already issued. */
  none: 0,
  /** The batch's write failed (the op is its rejection). */
  write: 1,
  dsyncWrite: 2,
  fdatasync: 3
} as const
export type CommitOp = typeof CommitOp[keyof typeof CommitOp]

export function commitError (kind: CommitOp, err: unknown): FerryError {
  // ENOSPC from fdatasync (delayed allocation, thin provisioning) is a full disk, not a failing one:
  // the same cut (the pages are no more trustworthy than after EIO), but E_DISK_FULL, like a write.
  const full = errnoCode(err) === 'ENOSPC'
  if (full) return storeError(StoreCode.DISK_FULL, kind === CommitOp.fdatasync ? 'disk full: fdatasync found no space, un-synced appends are lost' : 'disk full: append not written', { cause: err })
  if (kind === CommitOp.write) return storeError(StoreCode.IO, 'write failed', { cause: err })
  if (kind === CommitOp.dsyncWrite) return storeError(StoreCode.FSYNC_FAILED, 'durable write failed: un-synced appends are lost', { cause: err })
  return storeError(StoreCode.FSYNC_FAILED, 'fdatasync failed: un-synced appends are lost', { cause: err })
}
