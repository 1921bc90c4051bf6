/**
 * The real disk: node:fs/promises, nothing else. Only this file imports node:fs.
 */
import { open, unlink, rename, readdir, mkdir, stat } from 'node:fs/promises'
import { constants } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import type { Disk, DiskFile } from './disk.js'

async function writeAll (fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done)
    done += bytesWritten
  }
}

class RealFile implements DiskFile {
  /** A second descriptor opened O_DSYNC: one syscall writes and syncs. */
  private dsync: Promise<FileHandle> | null = null

  constructor (private readonly fh: FileHandle, private readonly path: string) {}

  async write (buf: Buffer, position: number): Promise<void> {
    await writeAll(this.fh, buf, position)
  }

  private closed = false

  async writeDurable (buf: Buffer, position: number): Promise<void> {
    // After close() a twin opened here would have no owner to close it.
    if (this.closed) throw Object.assign(new Error(`EBADF: ${this.path} is closed`), { code: 'EBADF' })
    if (this.dsync === null) {
      const opening = open(this.path, constants.O_RDWR | constants.O_DSYNC)
      this.dsync = opening
      // A failed open is not kept: the next durable write tries again.
      opening.catch(() => { if (this.dsync === opening) this.dsync = null })
    }
    await writeAll(await this.dsync, buf, position)
  }

  async read (position: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length)
    let got = 0
    while (got < length) {
      const { bytesRead } = await this.fh.read(buf, got, length - got, position + got)
      if (bytesRead === 0) break
      got += bytesRead
    }
    return got === length ? buf : buf.subarray(0, got)
  }

  async datasync (): Promise<void> { await this.fh.datasync() }
  async truncate (length: number): Promise<void> { await this.fh.truncate(length) }
  async size (): Promise<number> { return (await this.fh.stat()).size }
  /** Closes both descriptors, whatever fails: the O_DSYNC twin (if opened, or being opened) and the main one. */
  async close (): Promise<void> {
    this.closed = true
    const dsync = this.dsync
    this.dsync = null
    try {
      if (dsync !== null) await dsync.then(async (fh) => { await fh.close() }, () => {})
    } finally {
      await this.fh.close()
    }
  }
}

export const realDisk: Disk = {
  async open (path, create) {
    try {
      return new RealFile(await open(path, 'r+'), path)
    } catch (err) {
      if (!create || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      return new RealFile(await open(path, 'w+'), path)
    }
  },
  async unlink (path) { await unlink(path) },
  async rename (from, to) { await rename(from, to) },
  async list (dir) {
    try { return await readdir(dir) } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
  },
  async mkdirp (dir) { await mkdir(dir, { recursive: true }) },
  async stat (path) {
    try { return (await stat(path)).size } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  },
  async syncDir (dir) {
    const fh = await open(dir, 'r')
    try { await fh.sync() } finally { await fh.close() }
  }
}
