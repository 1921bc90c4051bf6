/**
 * The sync path of the log writer (store/log-writer.ts): a sync batch up to
 * dsyncWriteBytesMax (default DSYNC_WRITE_BYTES_MAX, 64 KiB) with nothing
 * un-synced before it is one O_DSYNC write; a larger one, or one behind
 * un-synced (async) bytes, is write + fdatasync (an O_DSYNC write makes only
 * its own bytes durable); 0 turns the O_DSYNC write off. Pinned here: which
 * path each batch takes, and that every acknowledged append of either path
 * is there after a power loss and reopen.
 */
import t from 'tap'
import { SimDisk } from '../../store/disk/sim-disk.js'
import { createFileLedger, type Disk, type DiskFile, type Ledger } from '../../store/index.js'
import { policyByPrefix } from './helpers.js'

const DIR = '/w'
const KiB = 1024

interface Counts { dsyncWrites: number, datasyncs: number }

/** Counts the O_DSYNC writes of records (zero-ahead chunks, all zeros, left out) and the fdatasyncs of segment files. */
function countingDisk (inner: Disk, counts: Counts): Disk {
  return {
    ...inner,
    open: async (p, create) => {
      const f = await inner.open(p, create)
      if (!/seg-\d+\.log$/.test(p)) return f
      const durable = f.writeDurable
      const counted: DiskFile = {
        ...f,
        datasync: async () => { counts.datasyncs++; await f.datasync() },
        writeDurable: durable === undefined
          ? undefined
          : async (buf, pos) => {
            if (!buf.every((b) => b === 0)) counts.dsyncWrites++
            await durable(buf, pos)
          }
      }
      return counted
    }
  }
}

function ledger (disk: Disk, dsyncWriteBytesMax?: number): Ledger {
  return createFileLedger({
    siteId: 's', dir: DIR, disk, policyOf: policyByPrefix(),
    checkpointIntervalMs: 0, retentionIntervalMs: 0,
    ...(dsyncWriteBytesMax !== undefined ? { dsyncWriteBytesMax } : {})
  })
}

/** `n` appends of `bytes` each to `topic`, queued in one turn (one batch); resolves when all are acknowledged. */
async function batch (l: Ledger, topic: string, n: number, bytes: number, tag: string): Promise<void> {
  await Promise.all(Array.from({ length: n }, async (_, i) => await l.append({ topic, payload: Buffer.alloc(bytes, `${tag}${i % 10}`) })))
}

/** What one batch did: O_DSYNC writes and fdatasyncs it caused. */
async function pathOf (counts: Counts, run: () => Promise<void>): Promise<Counts> {
  const before = { ...counts }
  await run()
  return { dsyncWrites: counts.dsyncWrites - before.dsyncWrites, datasyncs: counts.datasyncs - before.datasyncs }
}

async function afterPowerLoss (sim: SimDisk, topics: string[]): Promise<Map<string, string[]>> {
  sim.powerLoss()
  const again = ledger(sim.view())
  await again.open()
  const got = new Map<string, string[]>()
  for (const topic of topics) got.set(topic, (await again.read(topic, 0, { maxEntries: 10_000 })).map((e) => e.payload.subarray(0, 2).toString()))
  await again.close()
  return got
}

function expected (tag: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${tag}${i % 10}`.slice(0, 2))
}

t.test('store - writer dsync - batches below the bound are one O_DSYNC write, above it write + fdatasync; both survive a power loss', async (t) => {
  const sim = new SimDisk(31)
  const counts: Counts = { dsyncWrites: 0, datasyncs: 0 }
  const l = ledger(countingDisk(sim.view(), counts))
  await l.open()
  await batch(l, 'warm', 1, 10, 'w') // the topic records and the first segment's zero-ahead lead
  // ~4 KiB and ~41 KiB: under the 64 KiB bound.
  t.same(await pathOf(counts, async () => { await batch(l, 'small', 40, 100, 's') }), { dsyncWrites: 1, datasyncs: 0 }, 'a 4 KiB batch: one O_DSYNC write')
  t.same(await pathOf(counts, async () => { await batch(l, 'mid', 40, 1000, 'm') }), { dsyncWrites: 1, datasyncs: 0 }, 'a 41 KiB batch: one O_DSYNC write')
  // ~100 KiB: over it.
  t.same(await pathOf(counts, async () => { await batch(l, 'big', 100, 1000, 'b') }), { dsyncWrites: 0, datasyncs: 1 }, 'a 100 KiB batch: write + fdatasync')
  const got = await afterPowerLoss(sim, ['small', 'mid', 'big'])
  t.same(got.get('small'), expected('s', 40))
  t.same(got.get('mid'), expected('m', 40))
  t.same(got.get('big'), expected('b', 100))
})

t.test('store - writer dsync - a sync batch behind un-synced async bytes is write + fdatasync', async (t) => {
  const sim = new SimDisk(32)
  const counts: Counts = { dsyncWrites: 0, datasyncs: 0 }
  const l = ledger(countingDisk(sim.view(), counts))
  await l.open()
  await batch(l, 'warm', 1, 10, 'w')
  await batch(l, 'async/a', 10, 100, 'a') // written, not synced (the flush timer is 200 ms away)
  t.same(await pathOf(counts, async () => { await batch(l, 'after', 10, 100, 'f') }), { dsyncWrites: 0, datasyncs: 1 }, 'the fdatasync covers the async bytes before it')
  const got = await afterPowerLoss(sim, ['async/a', 'after'])
  t.same(got.get('async/a'), expected('a', 10), 'the async appends before it are durable with it')
  t.same(got.get('after'), expected('f', 10))
})

t.test('store - writer dsync - dsyncWriteBytesMax 0: every sync batch is write + fdatasync', async (t) => {
  const sim = new SimDisk(33)
  const counts: Counts = { dsyncWrites: 0, datasyncs: 0 }
  const l = ledger(countingDisk(sim.view(), counts), 0)
  await l.open()
  await batch(l, 'warm', 1, 10, 'w')
  t.same(await pathOf(counts, async () => { await batch(l, 'small', 40, 100, 's') }), { dsyncWrites: 0, datasyncs: 1 })
  const got = await afterPowerLoss(sim, ['small'])
  t.same(got.get('small'), expected('s', 40))
})

t.test('store - writer dsync - a custom bound: 8 KiB', async (t) => {
  const sim = new SimDisk(34)
  const counts: Counts = { dsyncWrites: 0, datasyncs: 0 }
  const l = ledger(countingDisk(sim.view(), counts), 8 * KiB)
  await l.open()
  await batch(l, 'warm', 1, 10, 'w')
  t.same(await pathOf(counts, async () => { await batch(l, 'small', 40, 100, 's') }), { dsyncWrites: 1, datasyncs: 0 })
  t.same(await pathOf(counts, async () => { await batch(l, 'mid', 40, 1000, 'm') }), { dsyncWrites: 0, datasyncs: 1 })
  const got = await afterPowerLoss(sim, ['small', 'mid'])
  t.same(got.get('small'), expected('s', 40))
  t.same(got.get('mid'), expected('m', 40))
})
