/**
 * Log writer faults on the simulated disk: ENOSPC reported by fdatasync takes
 * the full-disk path (E_DISK_FULL; a reopen that finds the disk still full
 * waits for space instead of fencing for good), and a failed segment roll
 * closes the file it opened.
 */
import t from 'tap'
import { SimDisk } from '../../store/disk/sim-disk.js'
import { createFileLedger, StoreCode, StoreLimits, type Disk, type DiskFile, type Ledger } from '../../store/index.js'
import { policy, waitFor } from './helpers.js'

const DIR = '/w'

function ledger (disk: Disk, events: string[] = []): Ledger {
  return createFileLedger({
    siteId: 's', dir: DIR, disk, policyOf: () => policy('sync'), segmentSizeBytes: 64 * 1024,
    checkpointIntervalMs: 0, retentionIntervalMs: 0, onEvent: (e) => events.push(e)
  })
}

/** Larger than the one-syscall O_DSYNC path: written, then fdatasync'ed. */
const BIG = Buffer.alloc(20 * 1024, 7)

t.test('store - writer - ENOSPC from fdatasync rejects with E_DISK_FULL, keeps acknowledged data, resumes', async (t) => {
  const sim = new SimDisk(11)
  const l = ledger(sim.view())
  await l.open()
  await l.append({ topic: 't', payload: Buffer.from('before') })
  sim.failFsyncs(1, 'ENOSPC')
  await t.rejects(l.append({ topic: 't', payload: BIG }), { code: StoreCode.DISK_FULL }, 'E_DISK_FULL, not E_FSYNC_FAILED')
  await waitFor(() => !l.stats().fenced, 'unfenced')
  const r = await l.append({ topic: 't', payload: Buffer.from('after') })
  t.equal(r.entryId, 1, 'the rejected append left nothing behind')
  t.same((await l.read('t', 0, { maxEntries: 10 })).map((e) => e.payload.toString()), ['before', 'after'])
  await l.close()
})

t.test('store - writer - while fdatasync keeps finding no space, the reopen waits for space instead of fencing for good', async (t) => {
  const sim = new SimDisk(12)
  const events: string[] = []
  const l = ledger(sim.view(), events)
  await l.open()
  await l.append({ topic: 't', payload: Buffer.from('before') })
  // The append's fsync, then every reopen attempt's fsync, finds the disk full: more failures than reopen attempts.
  sim.failFsyncs(StoreLimits.FENCE_REOPEN_ATTEMPTS_MAX + 2, 'ENOSPC')
  await t.rejects(l.append({ topic: 't', payload: BIG }), { code: StoreCode.DISK_FULL })
  await waitFor(() => !l.stats().fenced, 'unfenced once space is back', 20_000)
  t.notOk(events.includes('fenced-permanently'), 'never fenced for good')
  t.ok(events.filter((e) => e === 'reopen-failed').length > StoreLimits.FENCE_REOPEN_ATTEMPTS_MAX, 'more failed reopens than attempts')
  t.equal((await l.append({ topic: 't', payload: Buffer.from('after') })).entryId, 1, 'appends resume')
  await l.close()
})

t.test('store - writer - a failed segment roll closes the new file (no handle leak)', async (t) => {
  const sim = new SimDisk(13)
  const inner = sim.view()
  let rollFile: { closed: boolean } | undefined
  // No spare segment can be made (spare-segment.ts): the roll makes segment 2 itself, and its header write fails.
  const disk: Disk = {
    ...inner,
    open: async (p, create) => {
      if (/spare-\d+\.seg$/.test(p)) throw Object.assign(new Error('EIO: spare'), { code: 'EIO' })
      const f = await inner.open(p, create)
      if (!create || rollFile !== undefined || !/seg-0000000002\.log$/.test(p)) return f
      const state = { closed: false }
      rollFile = state
      const failing: DiskFile = {
        ...f,
        write: async () => { throw Object.assign(new Error('EIO: header write'), { code: 'EIO' }) },
        close: async () => { state.closed = true; await f.close() }
      }
      return failing
    }
  }
  const l = ledger(disk)
  await l.open()
  let failure: unknown
  for (let i = 0; i < 20 && failure === undefined; i++) {
    await l.append({ topic: 't', payload: BIG }).catch((err: unknown) => { failure = err })
  }
  t.match(failure, { code: StoreCode.IO }, 'the roll failed')
  t.ok(rollFile !== undefined, 'the writer opened the new segment')
  t.equal(rollFile?.closed, true, 'and closed it')
  await waitFor(() => !l.stats().fenced, 'unfenced')
  await l.close()
  t.equal(sim.openHandles, 0, 'no handle left open after close')
})
