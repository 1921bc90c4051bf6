/**
 * The log writer's commits (store/log-writer.ts): what a commit's disk
 * operation was, the error its failure is reported as, and the chain that
 * completes commits in lsn order.
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

/**
 * The commits of the log writer in flight, completed in lsn order: a commit's
 * `settle` runs after its op (if any) settled and after the previous commit's
 * `settle` returned, whatever order the ops finish in (an O_DSYNC write makes
 * only its own bytes durable).
 */
export class CommitChain {
  /** Completions of the commits not yet complete, oldest first. */
  private readonly completions: Array<Promise<void>> = []
  /** Completion of the newest commit: the next one completes only after it. */
  private lastCompletion: Promise<void> = Promise.resolve()
  /** Disk writes and syncs of commits in flight: a failure waits for them before it cuts the file. */
  private readonly ops = new Set<Promise<void>>()

  /** Commits not yet complete. */
  get size (): number { return this.completions.length }
  /** Completion of the oldest commit not yet complete (undefined when none). */
  get oldest (): Promise<void> | undefined { return this.completions[0] }
  /** Completion of the newest commit (resolved when none). */
  get newest (): Promise<void> { return this.lastCompletion }

  /** Queue a commit: `settle(failed, err)` runs after `op` and after the commit before it. */
  add (op: Promise<void> | null, settle: (failed: boolean, err: unknown) => Promise<void> | void): void {
    if (op !== null) {
      this.ops.add(op)
      const forget = (): void => { this.ops.delete(op) }
      op.then(forget, forget)
    }
    const done = this.complete(op, this.lastCompletion, settle)
    this.lastCompletion = done
    this.completions.push(done)
  }

  private async complete (op: Promise<void> | null, before: Promise<void>, settle: (failed: boolean, err: unknown) => Promise<void> | void): Promise<void> {
    let err: unknown
    let failed = false
    if (op !== null) {
      try { await op } catch (e) { err = e; failed = true }
    }
    await before
    try {
      await settle(failed, err)
    } finally {
      this.completions.shift()
    }
  }

  /** Resolves when every disk op in flight has settled (none may land after a cut). */
  async opsSettled (): Promise<void> {
    await Promise.allSettled([...this.ops])
  }
}
