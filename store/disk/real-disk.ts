/**
 * The real disk: node:fs/promises, and the callback API for the hot writes and syncs. Only this file imports
 * node:fs.
 */
import { open, unlink, rename, readdir, mkdir, stat } from 'node:fs/promises'
import { constants, write as writeCb, fdatasync as fdatasyncCb } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import type { Disk, DiskFile } from './disk.js'

// The callback API on the handle's descriptor: a FileHandle request allocates its own stats typed array (one
// young ArrayBuffer per disk op, swept at every scavenge); a callback request does not.
// The handle does not see these requests, so RealFile counts them and close() waits for them: a descriptor
// closed under a write in flight could be reused by another open and take the write.
function writeOnce (fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    writeCb(fd, buf, offset, length, position, (err, n) => { if (err !== null) reject(err); else resolve(n) })
  })
}

function datasyncOnce (fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    fdatasyncCb(fd, (err) => { if (err !== null) reject(err); else resolve() })
  })
}

async function writeAll (fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0
  while (done < buf.length) {
    done += await writeOnce(fh.fd, buf, done, buf.length - done, position + done)
  }
}

class RealFile implements DiskFile {
  /** A second descriptor opened O_DSYNC: one syscall writes and syncs. */
  private dsync: Promise<FileHandle> | null = null

  constructor (private readonly fh: FileHandle, private readonly path: string) {}

  /** Callback-API requests in flight on either descriptor (close waits for them). */
  private opsInFlight = 0
  private opsDrained: (() => void) | null = null

  private async counted<T> (op: () => Promise<T>): Promise<T> {
    this.opsInFlight++
    try {
      return await op()
    } finally {
      if (--this.opsInFlight === 0 && this.opsDrained !== null) this.opsDrained()
    }
  }

  async write (buf: Buffer, position: number): Promise<void> {
    if (this.closed) throw Object.assign(new Error(`EBADF: ${this.path} is closed`), { code: 'EBADF' })
    await this.counted(async () => { await writeAll(this.fh, buf, position) })
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
    const dsync = this.dsync
    await this.counted(async () => { await writeAll(await dsync, buf, position) })
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

  async datasync (): Promise<void> {
    if (this.closed) throw Object.assign(new Error(`EBADF: ${this.path} is closed`), { code: 'EBADF' })
    await this.counted(async () => { await datasyncOnce(this.fh.fd) })
  }
  async truncate (length: number): Promise<void> { await this.fh.truncate(length) }
  async size (): Promise<number> { return (await this.fh.stat()).size }
  /** Closes both descriptors, whatever fails: the O_DSYNC twin (if opened, or being opened) and the main one. */
  async close (): Promise<void> {
    this.closed = true
    if (this.opsInFlight > 0) await new Promise<void>((resolve) => { this.opsDrained = resolve })
    this.opsDrained = null
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
