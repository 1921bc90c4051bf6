/**
 * Exclusive lock on a ledger directory: one process at a time may open it.
 * Two processes appending to the same log overwrite each other's records
 * (issue 7: acknowledged messages of one showed up under the other's topic).
 *
 * Mechanism, Linux: the holder listens on an abstract Unix socket named after
 * the directory's device and inode. Binding an abstract name is atomic, and
 * the kernel releases it when the holding process dies however it dies
 * (SIGKILL, OOM kill, power loss), so a crash never leaves a stale lock and
 * there is no pid to be reused: no liveness guesswork at all. The device and
 * inode, not the path, name the lock, so two paths to one directory (symlink,
 * bind mount) share it.
 * Elsewhere (no abstract sockets): `ferry.lock` created with O_EXCL holds the
 * lock; a lock file naming a pid of this host that no longer runs
 * (process.kill(pid, 0) fails with ESRCH) is stale and taken over. A reused
 * pid makes a stale lock look held: the opener is refused (the safe
 * direction) and the message says which file to remove.
 *
 * Either way the holder writes `ferry.lock` (JSON: pid, host, startedAt) so a
 * refused opener can name it. On Linux that file is only information: one left
 * behind by a killed holder is overwritten by the next.
 *
 * Scope: processes of one host sharing a network namespace. Containers that
 * share the volume but not the network namespace, or hosts sharing it over NFS,
 * are not excluded; do not do that.
 * Like disk/real-disk.ts this file talks to node:fs itself: a lock is a
 * property of the process, not of the disk the fault model simulates.
 */
import { createServer, type Server } from 'node:net'
import { hostname } from 'node:os'
import { mkdir, open, readFile, stat, unlink, writeFile } from 'node:fs/promises'
import { StoreCode, storeError } from './errors.js'

export const LOCK_FILE_NAME = 'ferry.lock'

export interface LockHolder {
  pid: number
  host: string
  /** ISO time the holder took the lock. */
  startedAt: string
}

export interface DirLock {
  readonly dir: string
  release (): Promise<void>
}

const abstractSockets = process.platform === 'linux'

function me (): LockHolder {
  return { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() }
}

async function readHolder (path: string): Promise<LockHolder | undefined> {
  try {
    const h = JSON.parse(await readFile(path, 'utf8')) as Partial<LockHolder>
    if (typeof h.pid !== 'number' || typeof h.host !== 'string' || typeof h.startedAt !== 'string') return undefined
    return { pid: h.pid, host: h.host, startedAt: h.startedAt }
  } catch {
    return undefined
  }
}

function lockedError (dir: string, holder: LockHolder | undefined, how: string): Error {
  const who = holder === undefined
    ? 'another process (it has not written its ferry.lock yet)'
    : `pid ${holder.pid} on ${holder.host} (started ${holder.startedAt})`
  return storeError(StoreCode.STORE_LOCKED, `data directory ${dir} is in use by ${who}; only one ferry process may open it${how}`, {
    details: { dir, ...(holder !== undefined ? { holder } : {}) }
  })
}

/** Take the lock on `dir` (created if missing) or fail with E_STORE_LOCKED naming the holder. */
export async function acquireDirLock (dir: string): Promise<DirLock> {
  await mkdir(dir, { recursive: true })
  const infoPath = `${dir}/${LOCK_FILE_NAME}`
  return abstractSockets ? await socketLock(dir, infoPath) : await fileLock(dir, infoPath)
}

async function socketLock (dir: string, infoPath: string): Promise<DirLock> {
  const st = await stat(dir)
  const name = `\0ferry-ledger-lock:${st.dev}:${st.ino}`
  const server: Server = createServer((sock) => { sock.destroy() })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(name, () => { server.off('error', reject); resolve() })
  }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE') throw lockedError(dir, await readHolder(infoPath), '')
    throw storeError(StoreCode.IO, `cannot lock data directory ${dir}: ${String(err)}`, { cause: err })
  })
  server.unref() // the lock must not keep a finished process alive
  await writeFile(infoPath, JSON.stringify(me()) + '\n')
  let released = false
  return {
    dir,
    async release () {
      if (released) return
      released = true
      // The file goes first: while the socket is held nobody else writes it.
      await unlink(infoPath).catch(() => {})
      await new Promise<void>((resolve) => { server.close(() => resolve()) })
    }
  }
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' // exists, someone else's
  }
}

async function fileLock (dir: string, infoPath: string): Promise<DirLock> {
  const self = me()
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(infoPath, 'wx')
      await fh.writeFile(JSON.stringify(self) + '\n')
      await fh.close()
      return {
        dir,
        async release () { await unlink(infoPath).catch(() => {}) }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw storeError(StoreCode.IO, `cannot lock data directory ${dir}: ${String(err)}`, { cause: err })
    }
    const holder = await readHolder(infoPath)
    if (holder !== undefined && holder.host === self.host && !alive(holder.pid)) {
      await unlink(infoPath).catch(() => {}) // stale: its holder died
      continue
    }
    throw lockedError(dir, holder, `; if no such process exists, remove ${infoPath}`)
  }
  throw lockedError(dir, await readHolder(infoPath), '')
}
