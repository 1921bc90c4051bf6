/**
 * Every descriptor the file ledger opens is closed by close(), or by the
 * failed path that opened it (docs/STORE.md, "Descriptors"): segments and
 * their O_DSYNC twins (store/disk/real-disk.ts), the spare segment
 * (store/spare-segment.ts), read handles of sealed segments, checkpoint
 * files. Counted from /proc/self/fd (Linux): entries pointing into the
 * ledger's directory, on a real directory. A leaked FileHandle is otherwise
 * closed by the garbage collector with a DEP0137 warning, much later.
 */
import t from 'tap'
import { mkdtemp, readdir, readlink, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createFileLedger, realDisk, type Disk, type DiskFile, type Ledger } from '../../store/index.js'
import { SpareSegment } from '../../store/spare-segment.js'
import { policy, waitFor } from './helpers.js'
import type { TapTest } from '../helpers/tap-test.js'

/** Small segments: a few hundred KiB of appends roll several times and prepare spares. */
const SEGMENT_BYTES = 64 * 1024
const PAYLOAD_BYTES = 1024
/** Appends of the first phase: about four segments' worth. */
const APPENDS = 256
/** Retention by size: keeps only the last segments. */
const RETENTION_BYTES = 8 * PAYLOAD_BYTES
/** A tail cache of a few records: reads of the first segment go to its file. */
const TAIL_CACHE_BYTES = 4 * PAYLOAD_BYTES
/** Tiny segments (a few records each) for the eviction case: more sealed segments than read handles. */
const TINY_SEGMENT_BYTES = 4 * 1024
/** ledger-file-reads.ts READ_HANDLES_MAX (not exported): read handles kept open; one more read evicts the oldest. */
const READ_HANDLES_MAX = 32
/** Bound on the appends that fill the active segment past half (where its spare is made). */
const SPARE_APPENDS_MAX = 64

/** Descriptors of this process whose target is inside `dir`. */
async function fdsInto (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '')
    if (target.startsWith(dir + '/')) out.push(target.slice(dir.length + 1))
  }
  return out.sort()
}

async function tmpDir (t: TapTest): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-fd-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

interface LedgerOver { disk?: Disk, retentionBytes?: number, segmentSizeBytes?: number, onEvent?: (event: string) => void }

function ledgerAt (dir: string, over: LedgerOver = {}): Ledger {
  return createFileLedger({
    onEvent: over.onEvent,
    siteId: 'fd', dir, segmentSizeBytes: over.segmentSizeBytes ?? SEGMENT_BYTES, disk: over.disk, lockDir: true,
    policyOf: () => policy('sync', { retentionBytes: over.retentionBytes ?? -1 }),
    tailCacheBytes: TAIL_CACHE_BYTES, checkpointIntervalMs: 0, retentionIntervalMs: 0
  })
}

/** A log of APPENDS sync appends (several segments) written and closed: the next ledger's tail cache is cold. */
async function writeLog (dir: string, fill: number): Promise<void> {
  const l = ledgerAt(dir)
  await l.open()
  const body = Buffer.alloc(PAYLOAD_BYTES, fill)
  for (let i = 0; i < APPENDS; i++) await l.append({ topic: 'a/b', payload: body })
  await l.close()
}

/** The real disk; a read of `held` (a file name) waits until release() (then runs on the handle, closed or not). */
function gatedDisk (gate: { held: string | null, release: Promise<void> }): Disk {
  return {
    ...realDisk,
    async open (path, create) {
      const f = await realDisk.open(path, create)
      const name = path.slice(path.lastIndexOf('/') + 1)
      return {
        write: async (buf, pos) => { await f.write(buf, pos) },
        writeDurable: f.writeDurable === undefined ? undefined : async (buf, pos) => { await (f.writeDurable as NonNullable<DiskFile['writeDurable']>).call(f, buf, pos) },
        read: async (pos, len) => {
          if (gate.held === name) { gate.held = null; await gate.release }
          return await f.read(pos, len)
        },
        datasync: async () => { await f.datasync() },
        truncate: async (len) => { await f.truncate(len) },
        size: async () => await f.size(),
        close: async () => { await f.close() }
      }
    }
  }
}

/** The real disk, with one fault: the next call of `op` on a file whose name passes `which` fails with EIO. */
function faultyDisk (fault: { op: 'read' | 'size' | null, which: (name: string) => boolean }): Disk {
  return {
    ...realDisk,
    async open (path, create) {
      const f = await realDisk.open(path, create)
      const name = path.slice(path.lastIndexOf('/') + 1)
      const failing = (op: 'read' | 'size'): boolean => {
        if (fault.op !== op || !fault.which(name)) return false
        fault.op = null
        return true
      }
      const eio = (): Error => Object.assign(new Error(`EIO: injected on ${name}`), { code: 'EIO' })
      const wrapped: DiskFile = {
        write: async (buf, pos) => { await f.write(buf, pos) },
        writeDurable: f.writeDurable === undefined ? undefined : async (buf, pos) => { await (f.writeDurable as NonNullable<DiskFile['writeDurable']>)(buf, pos) },
        read: async (pos, len) => { if (failing('read')) throw eio(); return await f.read(pos, len) },
        datasync: async () => { await f.datasync() },
        truncate: async (len) => { await f.truncate(len) },
        size: async () => { if (failing('size')) throw eio(); return await f.size() },
        close: async () => { await f.close() }
      }
      return wrapped
    }
  }
}

t.test('close descriptors - segment rolls, spare, O_DSYNC writes, a reader, retention: none open after close()', async (t) => {
  const dir = await tmpDir(t)
  t.same(await fdsInto(dir), [], 'nothing open before')
  await writeLog(dir, 0x61)
  t.same(await fdsInto(dir), [], 'nothing open after the first ledger closed')
  let scrubbed = false
  const l = ledgerAt(dir, { retentionBytes: RETENTION_BYTES, onEvent: (e) => { if (e === 'scrub-done') scrubbed = true } })
  await l.open()
  // The background scrub of the sealed segments reads them too: let it finish first.
  await waitFor(() => scrubbed, 'the scrub')
  const body = Buffer.alloc(PAYLOAD_BYTES, 0x61)
  // Sync appends one at a time: each small batch is one O_DSYNC write (the twin descriptor).
  const segmentsBefore = l.stats().segments
  for (let i = 0; i < APPENDS; i++) await l.append({ topic: 'a/b', payload: body })
  t.ok(l.stats().segments > segmentsBefore, 'the log rolled')
  // Past half of the active segment: the spare is made (and opened, with its twin) in the background.
  for (let i = 0; i < SPARE_APPENDS_MAX && !(await readdir(dir)).some((n) => n.startsWith('spare-')); i++) await l.append({ topic: 'a/b', payload: body })
  await waitFor(async () => (await fdsInto(dir)).some((n) => n.startsWith('spare-')), 'a spare segment open')
  // A reader of a sealed segment: its own read handle.
  t.equal((await l.read('a/b', 0, { maxEntries: 4 })).length, 4)
  const open = await fdsInto(dir)
  t.ok(open.includes('seg-0000000001.log'), 'the read handle of the first segment is open')
  t.ok(open.filter((n) => n === open.find((m) => m.startsWith('seg-') && m !== 'seg-0000000001.log')).length >= 2, 'the active segment and its O_DSYNC twin are open')
  // Retention deletes sealed segments (their read handles go with them).
  t.ok(await l.runRetention() > 0, 'retention deleted segments')
  await l.close()
  t.same(await fdsInto(dir), [], 'no descriptor into the ledger dir after close()')
})

t.test('close descriptors - a failed read of a sealed segment closes its handle', async (t) => {
  const dir = await tmpDir(t)
  const fault: { op: 'read' | 'size' | null, which: (name: string) => boolean } = { op: null, which: (n) => n === 'seg-0000000001.log' }
  await writeLog(dir, 0x62)
  let scrubbed = false
  const l = ledgerAt(dir, { disk: faultyDisk(fault), onEvent: (e) => { if (e === 'scrub-done') scrubbed = true } })
  await l.open()
  await waitFor(() => scrubbed, 'the scrub')
  fault.op = 'read'
  await t.rejects(l.read('a/b', 0, { maxEntries: 4 }), 'the read fails')
  t.notOk((await fdsInto(dir)).includes('seg-0000000001.log'), 'the failed read handle is closed at once')
  t.equal((await l.read('a/b', 0, { maxEntries: 4 })).length, 4, 'the next read opens the segment again')
  await l.close()
  t.same(await fdsInto(dir), [], 'no descriptor into the ledger dir after close()')
})

t.test('close descriptors - a failed open closes the segment it was reading', async (t) => {
  const dir = await tmpDir(t)
  const body = Buffer.alloc(PAYLOAD_BYTES, 0x63)
  const first = ledgerAt(dir)
  await first.open()
  for (let i = 0; i < 8; i++) await first.append({ topic: 'a/b', payload: body })
  await first.close()
  const fault: { op: 'read' | 'size' | null, which: (name: string) => boolean } = { op: 'size', which: (n) => n.startsWith('seg-') }
  const l = ledgerAt(dir, { disk: faultyDisk(fault) })
  await t.rejects(l.open(), 'recovery fails')
  t.same(await fdsInto(dir), [], 'no descriptor into the ledger dir after the failed open')
  await l.close()
})

t.test('close descriptors - no spare is made after the writer discarded it', async (t) => {
  const dir = await tmpDir(t)
  const spare = new SpareSegment(realDisk, dir, SEGMENT_BYTES)
  await spare.discard()
  spare.prepare(2)
  t.equal(await spare.take(2), null, 'no spare to take')
  t.same(await fdsInto(dir), [])
  t.same((await readdir(dir)).filter((n) => n.startsWith('spare-')), [], 'no spare file')
})

t.test('close descriptors - a durable write after close() opens no O_DSYNC twin', async (t) => {
  const dir = await tmpDir(t)
  const durable = (f: DiskFile): NonNullable<DiskFile['writeDurable']> => async (buf, pos) => { await (f.writeDurable as NonNullable<DiskFile['writeDurable']>).call(f, buf, pos) }
  const a = await realDisk.open(`${dir}/a`, true)
  await durable(a)(Buffer.from('a'), 0)
  t.same(await fdsInto(dir), ['a', 'a'], 'the file and its twin')
  await a.close()
  t.same(await fdsInto(dir), [], 'both closed')
  // A file closed before its first durable write: a late write must not open the twin.
  const b = await realDisk.open(`${dir}/b`, true)
  await b.close()
  await t.rejects(durable(b)(Buffer.from('b'), 0), { code: 'EBADF' })
  t.same(await fdsInto(dir), [], 'no twin opened after close()')
})

t.test('close descriptors - a read whose handle an eviction closed under it reads again, and leaves nothing open', async (t) => {
  const dir = await tmpDir(t)
  const body = Buffer.alloc(PAYLOAD_BYTES, 0x64)
  const first = ledgerAt(dir, { segmentSizeBytes: TINY_SEGMENT_BYTES })
  await first.open()
  const appends = (READ_HANDLES_MAX + 4) * Math.floor(TINY_SEGMENT_BYTES / PAYLOAD_BYTES)
  for (let i = 0; i < appends; i++) await first.append({ topic: 'a/b', payload: body })
  await first.close()
  let release = (): void => {}
  const gate = { held: null as string | null, release: new Promise<void>((resolve) => { release = resolve }) }
  let scrubbed = false
  const l = ledgerAt(dir, { disk: gatedDisk(gate), segmentSizeBytes: TINY_SEGMENT_BYTES, onEvent: (e) => { if (e === 'scrub-done') scrubbed = true } })
  await l.open()
  await waitFor(() => scrubbed, 'the scrub')
  const entries = await l.read('a/b', 0, { maxEntries: appends })
  const firstSegment = entries[0]?.lsn ?? 0
  gate.held = 'seg-0000000001.log'
  const held = l.read('a/b', 0, { maxEntries: 1 })
  await waitFor(() => gate.held === null, 'the held read')
  // One read in each of the next READ_HANDLES_MAX segments: the first segment's handle is evicted and closed.
  const bySegment = new Map<number, number>()
  for (const e of entries) if (!bySegment.has(Math.floor(e.lsn / 2 ** 32))) bySegment.set(Math.floor(e.lsn / 2 ** 32), e.entryId)
  bySegment.delete(Math.floor(firstSegment / 2 ** 32))
  const others = [...bySegment.values()].slice(0, READ_HANDLES_MAX)
  t.equal(others.length, READ_HANDLES_MAX, 'enough sealed segments')
  for (const id of others) await l.read('a/b', id, { maxEntries: 1 })
  await waitFor(async () => !(await fdsInto(dir)).includes('seg-0000000001.log'), 'the evicted handle closed')
  release()
  const got = await held
  t.equal(got.length, 1, 'the held read got its entry from a fresh handle')
  await l.close()
  t.same(await fdsInto(dir), [], 'no descriptor into the ledger dir after close()')
})
