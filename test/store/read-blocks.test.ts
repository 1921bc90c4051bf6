/**
 * Blocks the log tail read from segment files are kept for the reads that
 * follow (store/read-blocks.ts): a reader that reads the log in small calls
 * reads each byte from the file about once (it read a whole block per call,
 * using a fraction of it), gets every record once and in order, and a damaged
 * frame is still reported where it lies, whether or not its block was kept.
 */
import t from 'tap'
import { cp, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createFileLedger, realDisk, StoreCode, type Disk, type Ledger } from '../../store/index.js'
import { isFerryError } from '../../common/errors.js'
import { ReadBlocks } from '../../store/read-blocks.js'
import { FRAME_HEADER_BYTES, frameChecksum, writeFrameHeader } from '../../store/framing.js'
import { tmpDir } from '../helpers/tmp.js'

const SEGMENT_BYTES = 64 * 1024
const RECORDS = 2_000
const TOPIC = 't/a/x'
const policyOf = (): { durability: 'sync', retentionMs: number, retentionBytes: number, ttlMs: number } => ({ durability: 'sync', retentionMs: -1, retentionBytes: -1, ttlMs: 0 })

/** The real disk, counting reads of segment files. */
function countingDisk (): { disk: Disk, reads: () => number } {
  let reads = 0
  const disk: Disk = {
    ...realDisk,
    open: async (path, create) => {
      const f = await realDisk.open(path, create)
      return { ...f, write: f.write.bind(f), datasync: f.datasync.bind(f), truncate: f.truncate.bind(f), size: f.size.bind(f), close: f.close.bind(f), ...(f.writeDurable !== undefined ? { writeDurable: f.writeDurable.bind(f) } : {}), read: async (position, length) => { reads++; return await f.read(position, length) } }
    }
  }
  return { disk, reads: () => reads }
}

async function openLedger (dir: string, disk?: Disk): Promise<Ledger> {
  // No tail cache: every read of the log goes to the files.
  const l = createFileLedger({ dir, siteId: 's', policyOf, segmentSizeBytes: SEGMENT_BYTES, tailCacheBytes: 0, checkpointIntervalMs: 0, retentionIntervalMs: 0, ...(disk !== undefined ? { disk } : {}) })
  await l.open()
  return l
}

async function fill (l: Ledger): Promise<void> {
  for (let i = 0; i < RECORDS; i += 50) {
    await Promise.all(Array.from({ length: 50 }, async (_, k) => await l.append({ topic: TOPIC, payload: Buffer.from(`m${i + k}`.padEnd(100, '.')) })))
  }
}

/** The log read to the end in calls of `step` items: payload labels in order, or the error that stopped it. */
async function readAll (l: Ledger, step: number): Promise<{ got: string[], err?: unknown }> {
  const got: string[] = []
  let pos = -1
  try {
    for (let i = 0; i < RECORDS * 2; i++) {
      const r = await l.readLog(pos, { maxItems: step, maxBytes: 1 << 20, topics: () => true })
      for (const it of r.items) if (it.kind === 'message') got.push(it.payload.toString().replace(/\.+$/, ''))
      if (r.throughLsn === pos) break
      pos = r.throughLsn
    }
  } catch (err) {
    return { got, err }
  }
  return { got }
}

const expected = Array.from({ length: RECORDS }, (_, i) => `m${i}`)

t.test('store - read blocks - a reader in small calls reads each block from the file about once, every record once in order', async (t) => {
  const { dir, cleanup } = await tmpDir()
  t.teardown(cleanup)
  const w = await openLedger(dir)
  await fill(w)
  await w.close()
  const c = countingDisk()
  const l = await openLedger(dir, c.disk)
  t.teardown(async () => { await l.close() })
  const before = c.reads()
  const { got, err } = await readAll(l, 10)
  t.equal(err, undefined, 'no error')
  t.same(got, expected, 'every record once, in order')
  const segments = Math.ceil(RECORDS * 120 / SEGMENT_BYTES) + 1
  // 200 calls: before, each read a block of its own.
  t.ok(c.reads() - before <= segments * 3, `file reads ${c.reads() - before} for 200 calls over ~${segments} segments`)
})

/** Frames of a segment file: [offset, payloadBytes] of each. */
function framesOf (file: Buffer): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (let at = 32; at + FRAME_HEADER_BYTES <= file.length;) {
    const n = file.readUInt32LE(at)
    if (n === 0) break
    out.push([at, n])
    at += FRAME_HEADER_BYTES + n
  }
  return out
}

t.test('store - read blocks - a damaged frame is reported where it lies, also inside a block kept by earlier reads', async (t) => {
  const { dir, cleanup } = await tmpDir()
  t.teardown(cleanup)
  const w = await openLedger(dir)
  await fill(w)
  await w.close()
  const l = await openLedger(dir)
  t.teardown(async () => { await l.close() })
  // The first segment file: damage a frame in its middle, after the reader's first calls kept its block.
  const name = (await realDisk.list(dir)).filter((n) => n.startsWith('seg-') && n.endsWith('.log')).sort()[0] as string
  const path = join(dir, name)
  const first = await l.readLog(-1, { maxItems: 10, maxBytes: 1 << 20, topics: () => true })
  t.equal(first.items.length, 10, 'the first call reads its records (and keeps the block)')
  const file = await readFile(path)
  const frames = framesOf(file)
  const [bad] = frames[Math.floor(frames.length / 2)] as [number, number]
  file[bad + FRAME_HEADER_BYTES + 3] = (file[bad + FRAME_HEADER_BYTES + 3] as number) ^ 0xff
  await writeFile(path, file)
  // A fresh ledger (nothing kept) and the open one (the block kept holds the bytes as they were read) both stop
  // at the damage or read the good bytes they hold; neither returns a damaged record.
  const copy = await tmpDir()
  t.teardown(copy.cleanup)
  await cp(dir, copy.dir, { recursive: true, filter: (src) => !src.endsWith('ferry.lock') })
  const fresh = await openLedger(copy.dir)
  t.teardown(async () => { await fresh.close() })
  const r = await readAll(fresh, 10)
  t.ok(isFerryError(r.err, StoreCode.STORE_CORRUPT), 'E_STORE_CORRUPT from the fresh ledger')
  t.same(r.got, expected.slice(0, r.got.length), 'the records before the damage, in order')
  t.ok(r.got.length < RECORDS, 'stops at the damage')
  const again = await readAll(l, 10)
  t.same(again.got, expected.slice(0, again.got.length), 'the open ledger returns no damaged record')
})

t.test('store - read blocks - frames are checked once each, in order, and a position inside a frame is never taken as checked', async (t) => {
  // Three frames of 10, 20 and 30 bytes at segment 1, offset 32.
  const seg = 1
  const lsn0 = seg * 2 ** 32 + 32
  const sizes = [10, 20, 30]
  const buf = Buffer.alloc(sizes.reduce((n, s) => n + FRAME_HEADER_BYTES + s, 0))
  let at = 0
  for (const s of sizes) {
    const payload = Buffer.alloc(s, s)
    payload.copy(buf, at + FRAME_HEADER_BYTES)
    writeFrameHeader(buf, at, s, frameChecksum(seg, 32 + at, payload))
    at += FRAME_HEADER_BYTES + s
  }
  const blocks = new ReadBlocks(2)
  const b = blocks.keep(lsn0, buf)
  const f2 = lsn0 + FRAME_HEADER_BYTES + 10
  const f3 = f2 + FRAME_HEADER_BYTES + 20
  t.ok(ReadBlocks.checkThrough(b, f2, f3, 1024), 'the second frame (the first checked on the way)')
  t.equal(b.checkedTo, f3, 'checked through the second frame')
  t.ok(ReadBlocks.checkThrough(b, lsn0, f2, 1024), 'the first frame: checked already')
  t.notOk(ReadBlocks.checkThrough(b, f2 + 4, f2 + 4 + 8, 1024), 'a position inside a frame is not a checked frame')
  buf[buf.length - 1] = (buf[buf.length - 1] as number) ^ 1
  t.notOk(ReadBlocks.checkThrough(b, f3, buf.length + lsn0, 1024), 'a damaged frame does not pass')
  t.equal(b.checkedTo, f3, 'and stays unchecked')
  t.equal(blocks.holding(f2, 8), b, 'the block holds its range')
  t.equal(blocks.holding(lsn0 + buf.length - 4, 8), undefined, 'not past its end')
  blocks.keep(lsn0 + buf.length, Buffer.alloc(16))
  blocks.keep(lsn0 + buf.length + 16, Buffer.alloc(16))
  t.equal(blocks.count(), 2, 'at most blocksMax, the least recently used going first')
  t.equal(blocks.holding(f2, 8), undefined, 'the first block went')
})
