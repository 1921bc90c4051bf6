/**
 * A disk whose syncs (datasync, O_DSYNC writes) wait while `hold` is on: a
 * test sees what a front end answers before and after a message's fdatasync.
 */
import type { Disk, DiskFile } from '../../store/index.js'

/** A disk whose syncs (datasync, O_DSYNC writes) wait while `hold` is on; `waiting` counts the ones held. */
export class SyncGate implements Disk {
  hold = false
  waiting = 0
  private released: Array<() => void> = []
  constructor (private readonly inner: Disk) {}

  release (): void { this.hold = false; for (const r of this.released.splice(0)) r() }

  private async gate (): Promise<void> {
    if (!this.hold) return
    this.waiting++
    await new Promise<void>((resolve) => { this.released.push(resolve) })
    this.waiting--
  }

  async open (path: string, create: boolean): Promise<DiskFile> {
    const f = await this.inner.open(path, create)
    const out: DiskFile = {
      write: async (buf, pos) => { await f.write(buf, pos) },
      read: async (pos, len) => await f.read(pos, len),
      datasync: async () => { await this.gate(); await f.datasync() },
      truncate: async (len) => { await f.truncate(len) },
      size: async () => await f.size(),
      close: async () => { await f.close() }
    }
    const wd = f.writeDurable
    if (wd !== undefined) out.writeDurable = async (buf, pos) => { await this.gate(); await wd.call(f, buf, pos) }
    return out
  }

  async unlink (path: string): Promise<void> { await this.inner.unlink(path) }
  async rename (from: string, to: string): Promise<void> { await this.inner.rename(from, to) }
  async list (dir: string): Promise<string[]> { return await this.inner.list(dir) }
  async mkdirp (dir: string): Promise<void> { await this.inner.mkdirp(dir) }
  async stat (path: string): Promise<number | undefined> { return await this.inner.stat(path) }
  async syncDir (dir: string): Promise<void> { await this.inner.syncDir(dir) }
}
