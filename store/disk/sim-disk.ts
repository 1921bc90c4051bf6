/**
 * A seeded, deterministic simulated disk for fault tests (after TigerBeetle's
 * storage simulator).
 *
 * Fault model:
 * - Every file keeps its durable bytes (as of the last datasync) apart from
 *   what reads see (the page cache). Writes since the last datasync are pending.
 * - powerLoss(): the page cache is lost. Each file keeps its durable bytes plus
 *   a seeded-random prefix of its pending writes, the last kept write possibly
 *   torn at any byte (and the torn part possibly filled with garbage).
 *   Directory changes (create, rename, unlink) not followed by syncDir are undone.
 * - flipBit(path, offset): silent corruption of durable and cached bytes.
 * - failFsyncs(n, code): the next n datasyncs fail with EIO (or `code`, e.g.
 *   ENOSPC: thin provisioning, delayed allocation); the pending writes of a
 *   file whose fsync failed are dropped from its durable state (Linux may
 *   mark the pages clean: they can no longer be trusted).
 * - setFreeBytes(n): writes beyond the free space fail with ENOSPC after a
 *   partial write; truncate and unlink give space back.
 * - failWrites(n): the next n writes fail with EIO (nothing written).
 * Handles opened before a powerLoss() fail with EIO (the process died), and so
 * does every call through a view() taken before it: give each simulated
 * process its own view so a dead ledger cannot touch the rebooted disk.
 */
import type { Disk, DiskFile } from './disk.js'

/** Mulberry32: small, seeded, good enough for fault schedules. */
export function seededRandom (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function ioError (code: string, message: string): Error {
  const err = new Error(`${code}: ${message}`) as NodeJS.ErrnoException
  err.code = code
  return err
}

interface SimInode {
  /** What reads see. */
  cache: Buffer
  cacheLen: number
  /** What survives a power loss for sure. */
  durable: Buffer
  durableLen: number
  /** Writes since the last successful datasync, in order. */
  pending: Array<{ pos: number, data: Buffer } | { truncate: number }>
}

function ensureCap (b: Buffer, len: number): Buffer {
  if (b.length >= len) return b
  const n = Buffer.alloc(Math.max(len, b.length * 2, 4096))
  b.copy(n)
  return n
}

export class SimDisk implements Disk {
  private readonly rnd: () => number
  /** Visible namespace. */
  private names = new Map<string, SimInode>()
  /** Namespace as of the last syncDir of each directory. */
  private durableNames = new Map<string, SimInode>()
  private dirs = new Set<string>()
  private generation = 0
  private fsyncFailures = 0
  private fsyncFailureCode = 'EIO'
  /** Handles opened and not closed yet (tests check that nothing leaks). */
  openHandles = 0
  private writeFailures = 0
  private freeBytes = Number.POSITIVE_INFINITY
  fsyncs = 0

  constructor (seed: number) {
    this.rnd = seededRandom(seed)
  }

  // ---- fault controls ----
  failFsyncs (n: number, code = 'EIO'): void { this.fsyncFailures = n; this.fsyncFailureCode = code }
  failWrites (n: number): void { this.writeFailures = n }
  setFreeBytes (n: number): void { this.freeBytes = n }
  random (): number { return this.rnd() }

  flipBit (path: string, offset: number, bit = 0): void {
    const ino = this.names.get(path)
    if (ino === undefined) throw new Error(`no such file ${path}`)
    if (offset < ino.durableLen) ino.durable[offset] = (ino.durable[offset] as number) ^ (1 << bit)
    if (offset < ino.cacheLen) ino.cache[offset] = (ino.cache[offset] as number) ^ (1 << bit)
  }

  fileSize (path: string): number | undefined { return this.names.get(path)?.cacheLen }
  fileBytes (path: string): Buffer | undefined {
    const ino = this.names.get(path)
    return ino === undefined ? undefined : Buffer.from(ino.cache.subarray(0, ino.cacheLen))
  }

  /** The machine loses power and reboots. */
  powerLoss (): void {
    this.generation++
    const survivors = new Map<string, SimInode>()
    for (const [path, ino] of this.durableNames) {
      let buf: Buffer = Buffer.from(ino.durable.subarray(0, ino.durableLen))
      let len = ino.durableLen
      // A random prefix of pending writes reaches the platter; the last one may be torn.
      const keep = Math.floor(this.rnd() * (ino.pending.length + 1))
      for (let i = 0; i < keep; i++) {
        const w = ino.pending[i] as SimInode['pending'][number]
        if ('truncate' in w) { len = Math.min(len, w.truncate); continue }
        let data = w.data
        if (i === keep - 1 && this.rnd() < 0.5) {
          const cut = Math.floor(this.rnd() * data.length)
          data = Buffer.from(data.subarray(0, cut))
          if (this.rnd() < 0.3 && data.length > 0) data[data.length - 1] = Math.floor(this.rnd() * 256)
        }
        buf = ensureCap(buf, w.pos + data.length)
        if (w.pos > len) buf.fill(0, len, w.pos)
        data.copy(buf, w.pos)
        len = Math.max(len, w.pos + data.length)
      }
      const ninode: SimInode = { cache: Buffer.from(buf.subarray(0, len)), cacheLen: len, durable: Buffer.from(buf.subarray(0, len)), durableLen: len, pending: [] }
      survivors.set(path, ninode)
    }
    this.names = new Map(survivors)
    this.durableNames = new Map(survivors)
  }

  private usedBytes (): number {
    let n = 0
    for (const ino of this.names.values()) n += ino.cacheLen
    return n
  }

  private async tick (): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve))
  }

  /** A Disk bound to the current power cycle: every call fails with EIO after the next powerLoss(). */
  view (): Disk {
    const gen = this.generation
    const check = (): void => { if (gen !== this.generation) throw ioError('EIO', 'this process died with the power') }
    return {
      open: async (p, c) => { check(); return await this.open(p, c) },
      unlink: async (p) => { check(); await this.unlink(p) },
      rename: async (a, b) => { check(); await this.rename(a, b) },
      list: async (d) => { check(); return await this.list(d) },
      mkdirp: async (d) => { check(); await this.mkdirp(d) },
      stat: async (p) => { check(); return await this.stat(p) },
      syncDir: async (d) => { check(); await this.syncDir(d) }
    }
  }

  // ---- Disk ----
  async open (path: string, create: boolean): Promise<DiskFile> {
    await this.tick()
    let ino = this.names.get(path)
    if (ino === undefined) {
      if (!create) throw ioError('ENOENT', `no such file ${path}`)
      ino = { cache: Buffer.alloc(0), cacheLen: 0, durable: Buffer.alloc(0), durableLen: 0, pending: [] }
      this.names.set(path, ino)
    }
    return this.handle(path, ino)
  }

  private handle (path: string, ino: SimInode): DiskFile {
    const gen = this.generation
    let closed = false
    this.openHandles++
    const live = (): void => {
      if (gen !== this.generation) throw ioError('EIO', `handle of ${path} died with the power`)
    }
    const h: DiskFile = {
      write: async (buf, position) => {
        await this.tick(); live()
        if (this.writeFailures > 0) { this.writeFailures--; throw ioError('EIO', `write ${path}`) }
        const growth = Math.max(0, position + buf.length - ino.cacheLen)
        const free = this.freeBytes - this.usedBytes()
        let data = buf
        let full = false
        if (growth > free) {
          full = true
          data = buf.subarray(0, Math.max(0, buf.length - (growth - Math.max(0, free))))
        }
        ino.cache = ensureCap(ino.cache, position + data.length)
        data.copy(ino.cache, position)
        ino.cacheLen = Math.max(ino.cacheLen, position + data.length)
        ino.pending.push({ pos: position, data: Buffer.from(data) })
        if (full) throw ioError('ENOSPC', `no space left writing ${path}`)
      },
      writeDurable: async (buf, position) => {
        await this.tick(); live()
        if (this.fsyncFailures > 0) {
          this.fsyncFailures--
          ino.pending = []
          throw ioError(this.fsyncFailureCode, `O_DSYNC write ${path}`)
        }
        await h.write(buf, position)
        ino.durable = Buffer.from(ino.cache.subarray(0, ino.cacheLen))
        ino.durableLen = ino.cacheLen
        ino.pending = []
        this.fsyncs++
      },
      read: async (position, length) => {
        await this.tick(); live()
        const end = Math.min(ino.cacheLen, position + length)
        return Buffer.from(ino.cache.subarray(Math.min(position, end), end))
      },
      datasync: async () => {
        await this.tick(); live()
        this.fsyncs++
        if (this.fsyncFailures > 0) {
          this.fsyncFailures--
          // The kernel drops the dirty pages' error state: pending bytes may never reach the disk.
          ino.pending = []
          throw ioError(this.fsyncFailureCode, `fsync ${path}`)
        }
        ino.durable = Buffer.from(ino.cache.subarray(0, ino.cacheLen))
        ino.durableLen = ino.cacheLen
        ino.pending = []
      },
      truncate: async (length) => {
        await this.tick(); live()
        if (length < ino.cacheLen) ino.cache.fill(0, length, ino.cacheLen)
        else ino.cache = ensureCap(ino.cache, length)
        ino.cacheLen = length
        ino.pending.push({ truncate: length })
      },
      size: async () => { await this.tick(); live(); return ino.cacheLen },
      close: async () => {
        if (!closed) { closed = true; this.openHandles-- }
        await this.tick()
      }
    }
    return h
  }

  async unlink (path: string): Promise<void> {
    await this.tick()
    if (!this.names.delete(path)) throw ioError('ENOENT', `no such file ${path}`)
  }

  async rename (from: string, to: string): Promise<void> {
    await this.tick()
    const ino = this.names.get(from)
    if (ino === undefined) throw ioError('ENOENT', `no such file ${from}`)
    this.names.delete(from)
    this.names.set(to, ino)
  }

  async list (dir: string): Promise<string[]> {
    await this.tick()
    const prefix = dir.endsWith('/') ? dir : dir + '/'
    const out: string[] = []
    for (const p of this.names.keys()) if (p.startsWith(prefix) && !p.slice(prefix.length).includes('/')) out.push(p.slice(prefix.length))
    return out.sort()
  }

  async mkdirp (dir: string): Promise<void> { await this.tick(); this.dirs.add(dir) }

  async stat (path: string): Promise<number | undefined> {
    await this.tick()
    return this.names.get(path)?.cacheLen
  }

  async syncDir (dir: string): Promise<void> {
    await this.tick()
    const prefix = dir.endsWith('/') ? dir : dir + '/'
    for (const p of [...this.durableNames.keys()]) if (p.startsWith(prefix) && !this.names.has(p)) this.durableNames.delete(p)
    for (const [p, ino] of this.names) if (p.startsWith(prefix)) this.durableNames.set(p, ino)
  }
}
