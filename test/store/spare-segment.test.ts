/**
 * The spare segment (store/spare-segment.ts): made once the active segment is
 * half full, renamed into the log by the roll; a crash with a spare leaves
 * the log whole (recovery deletes the spare), and a spare that cannot be
 * renamed fails the roll like a failed segment creation.
 */
import t from 'tap'
import { SimDisk } from '../../store/disk/sim-disk.js'
import { createFileLedger, StoreCode, type Disk, type Ledger } from '../../store/index.js'
import { policy, waitFor } from './helpers.js'

const DIR = '/w'
const SEGMENT_BYTES = 64 * 1024
const BIG_BYTES = 12 * 1024

function ledger (disk: Disk): Ledger {
  return createFileLedger({
    siteId: 's', dir: DIR, disk, policyOf: () => policy('sync'), segmentSizeBytes: SEGMENT_BYTES,
    checkpointIntervalMs: 0, retentionIntervalMs: 0
  })
}

function big (i: number): Buffer {
  const b = Buffer.alloc(BIG_BYTES, i % 251)
  b.write(`#${i}#`)
  return b
}

interface Counts { segmentsCreated: number, sparesRenamed: number }

/** Counts segment files the writer opens to create, and spares renamed into the log. */
function counting (inner: Disk, counts: Counts, renameFails = false): Disk {
  return {
    ...inner,
    open: async (p, create) => {
      if (create && /seg-\d+\.log$/.test(p) && (await inner.stat(p)) === undefined) counts.segmentsCreated++
      return await inner.open(p, create)
    },
    rename: async (from, to) => {
      if (/spare-\d+\.seg$/.test(from)) {
        if (renameFails) throw Object.assign(new Error('EIO: rename'), { code: 'EIO' })
        counts.sparesRenamed++
      }
      await inner.rename(from, to)
    }
  }
}

async function payloads (l: Ledger): Promise<string[]> {
  return (await l.read('t', 0, { maxEntries: 10_000 })).map((e) => e.payload.subarray(0, 8).toString().split('#')[1] ?? '')
}

t.test('store - spare segment - the roll renames the prepared spare into place; a power loss loses nothing', async (t) => {
  const sim = new SimDisk(31)
  const counts: Counts = { segmentsCreated: 0, sparesRenamed: 0 }
  const l = ledger(counting(sim.view(), counts))
  await l.open()
  const created = counts.segmentsCreated
  const n = 30
  for (let i = 0; i < n; i++) await l.append({ topic: 't', payload: big(i) })
  const segments = l.stats().segments
  t.ok(segments >= 5, `${segments} segments`)
  t.equal(counts.segmentsCreated - created, 0, 'no roll made its segment on the append path')
  t.equal(counts.sparesRenamed, segments - 1, 'every roll took a spare')
  sim.powerLoss()
  const again = ledger(sim.view())
  await again.open()
  t.same(await payloads(again), Array.from({ length: n }, (_, i) => String(i)), 'every acknowledged append after the power loss')
  await again.close()
})

t.test('store - spare segment - a crash with a spare prepared: recovery deletes it, the log is whole and rolls on', async (t) => {
  const sim = new SimDisk(32)
  const l = ledger(sim.view())
  await l.open()
  let i = 0
  while (!(await sim.view().list(DIR)).some((n) => /^spare-\d+\.seg$/.test(n))) {
    await l.append({ topic: 't', payload: big(i++) })
  }
  // The spare may be half made: a power loss keeps a seeded part of it.
  sim.powerLoss()
  const again = ledger(sim.view())
  await again.open()
  t.same((await sim.view().list(DIR)).filter((n) => /^spare-\d+\.seg$/.test(n)), [], 'the spare is gone')
  t.equal(again.stats().segments, 1, 'still one segment')
  const before = i
  for (let k = 0; k < 10; k++) await again.append({ topic: 't', payload: big(i++) })
  t.ok(again.stats().segments > 1, 'rolled on after the crash')
  t.same(await payloads(again), Array.from({ length: i }, (_, k) => String(k)), `the ${before} appends before the crash and the ${i - before} after`)
  await again.close()
  t.same((await sim.view().list(DIR)).filter((n) => /^spare-\d+\.seg$/.test(n)), [], 'close removes the spare')
})

t.test('store - spare segment - a spare that cannot be renamed fails the roll; the ledger reopens and goes on', async (t) => {
  const sim = new SimDisk(33)
  const counts: Counts = { segmentsCreated: 0, sparesRenamed: 0 }
  const l = ledger(counting(sim.view(), counts, true))
  await l.open()
  const acked: string[] = []
  let failure: unknown
  for (let i = 0; i < 20 && failure === undefined; i++) {
    await l.append({ topic: 't', payload: big(i) }).then(() => { acked.push(String(i)) }, (err: unknown) => { failure = err })
  }
  t.match(failure, { code: StoreCode.IO }, 'the roll failed')
  await waitFor(() => !l.stats().fenced, 'unfenced')
  t.same(await payloads(l), acked, 'every acknowledged append, nothing else')
  await l.close()
  t.equal(sim.openHandles, 0, 'no handle left open (the spare included)')
})
