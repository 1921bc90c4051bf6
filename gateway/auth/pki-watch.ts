/**
 * Watches files of the PKI directory by polling their size and mtime every
 * PKI_POLL_INTERVAL_MS (fs.watch misses renames on some filesystems; a stat
 * per file per half second is nothing). The revocation list is rewritten
 * atomically by `ferry pki revoke`, so a read sees a whole list.
 */
import { stat } from 'node:fs/promises'
import type { Logger } from '../../common/log.js'

export interface WatchedFile { file: string, onChange: () => Promise<void> }

function signature (s: { size: number, mtimeMs: number, ino: number } | undefined): string {
  return s === undefined ? 'missing' : `${s.size}:${s.mtimeMs}:${s.ino}`
}

export class FileWatcher {
  private readonly last = new Map<string, string>()
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined

  constructor (private readonly files: WatchedFile[], private readonly intervalMs: number, private readonly logger: Logger) {}

  /** Take the current state as seen (callers loaded the files already), then poll. */
  async start (): Promise<void> {
    for (const f of this.files) this.last.set(f.file, signature(await statOf(f.file)))
    this.timer = setInterval(() => { this.running ??= this.poll().finally(() => { this.running = undefined }) }, this.intervalMs)
    this.timer.unref()
  }

  /** Check now (tests, SIGHUP). */
  async poll (): Promise<void> {
    for (const f of this.files) {
      const sig = signature(await statOf(f.file))
      if (sig === this.last.get(f.file)) continue
      this.last.set(f.file, sig)
      try { await f.onChange() } catch (err) { this.logger.error({ err, file: f.file }, 'reloading a PKI file failed; keeping the previous state') }
    }
  }

  async close (): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    await this.running
  }
}

async function statOf (file: string): Promise<{ size: number, mtimeMs: number, ino: number } | undefined> {
  try { return await stat(file) } catch { return undefined }
}
