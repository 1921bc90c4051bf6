/**
 * The recovery decision table of store/ledger-file.ts, one row per case, on
 * the simulated disk. Each row damages a closed log in one way and states
 * what open() must do.
 */
import t, { type Test } from 'tap'
import { SimDisk } from '../../store/disk/sim-disk.js'
import { isFerryError } from '../../common/errors.js'
import { createFileLedger, StoreCode, type Ledger, type RecoveryReport } from '../../store/index.js'
import { policy } from './helpers.js'

const DIR = '/d'
const seg = (id: number): string => `${DIR}/seg-${String(id).padStart(10, '0')}.log`

function ledger (disk: SimDisk, repair = false, verifyAllOnOpen = false, events: string[] = []): Ledger {
  return createFileLedger({
    siteId: 's', dir: DIR, disk: disk.view(), policyOf: () => policy('sync'), segmentSizeBytes: 2048,
    checkpointIntervalMs: 0, retentionIntervalMs: 0, repair, verifyAllOnOpen, onEvent: (e) => events.push(e)
  })
}

/** A log of 3+ segments, 60 entries of topic t; closed cleanly unless `crash`. */
async function build (crash: boolean, checkpointAt?: number): Promise<SimDisk> {
  const disk = new SimDisk(99)
  const l = ledger(disk)
  await l.open()
  for (let i = 0; i < 60; i++) {
    await l.append({ topic: 't', payload: Buffer.from(`entry-${i}-${'q'.repeat(40)}`) })
    if (i === checkpointAt) await l.checkpoint()
  }
  if (crash) disk.powerLoss()
  else await l.close()
  return disk
}

async function segments (disk: SimDisk): Promise<string[]> {
  return (await disk.list(DIR)).filter((n) => n.startsWith('seg-') && n.endsWith('.log'))
}

interface Row {
  name: string
  crash: boolean
  checkpointAt?: number
  damage: (disk: SimDisk) => Promise<void>
  repair?: boolean
  verifyAll?: boolean
  /** undefined: open succeeds; else the error code. */
  error?: string
  check?: (t: Test, r: RecoveryReport, entries: number) => void
}

const last = async (disk: SimDisk): Promise<string> => `${DIR}/${(await segments(disk)).sort().pop() as string}`
const sealed = async (disk: SimDisk): Promise<string> => `${DIR}/${(await segments(disk)).sort()[0] as string}`

const rows: Row[] = [
  {
    name: 'clean log',
    crash: false,
    damage: async () => {},
    check: (t, r, n) => { t.equal(r.truncatedBytes, 0); t.equal(r.corruptRecords, 0); t.equal(n, 60) }
  },
  {
    name: 'partial frame at the end of the last segment: cut',
    crash: false,
    damage: async (disk) => { const p = await last(disk); const f = await disk.open(p, false); await f.write(Buffer.from([100, 0, 0, 0, 1, 2, 3, 4, 5]), await f.size()) },
    check: (t, r, n) => { t.equal(r.truncatedBytes, 9); t.equal(r.corruptRecords, 0); t.equal(n, 60) }
  },
  {
    name: 'zeros to the end of the last segment (preallocated): the log ends there, nothing reported',
    crash: false,
    damage: async (disk) => { const p = await last(disk); const f = await disk.open(p, false); await f.write(Buffer.alloc(500), await f.size()) },
    check: (t, r, n) => { t.equal(r.truncatedBytes, 0); t.equal(r.corruptRecords, 0); t.equal(n, 60) }
  },
  {
    name: 'zeros then bytes in the last segment: cut, reported',
    crash: false,
    damage: async (disk) => { const p = await last(disk); const f = await disk.open(p, false); const s = await f.size(); await f.write(Buffer.alloc(64), s); await f.write(Buffer.from([7]), s + 64) },
    check: (t, r, n) => { t.equal(r.truncatedBytes, 65); t.equal(r.corruptRecords, 1); t.equal(n, 60) }
  },
  {
    name: 'checksum mismatch in the last segment below the checkpoint (fsynced data): E_STORE_CORRUPT',
    crash: false,
    damage: async (disk) => { disk.flipBit(await last(disk), 32 + 8 + 2) },
    error: StoreCode.STORE_CORRUPT
  },
  {
    name: 'checksum mismatch inside the last segment: end of log, cut, reported',
    crash: true,
    damage: async (disk) => { disk.flipBit(await last(disk), 32 + 8 + 2) },
    check: (t, r, n) => { t.equal(r.corruptRecords, 1); t.ok(r.truncatedBytes > 0); t.ok(n < 60, `${n} entries left`) }
  },
  {
    name: 'last segment with a torn header: header rewritten',
    crash: false,
    damage: async (disk) => {
      const l = ledger(disk); await l.open(); await l.close() // nothing new
      const p = await last(disk)
      const id = Number(/seg-(\d+)/.exec(p)?.[1]) + 1
      const f = await disk.open(seg(id), true); await f.write(Buffer.from('FERRY'), 0); await disk.syncDir(DIR)
    },
    check: (t, r, n) => { t.equal(r.truncatedBytes, 5); t.equal(n, 60) }
  },
  {
    name: 'checksum mismatch in a sealed segment: E_STORE_CORRUPT',
    crash: true,
    damage: async (disk) => { disk.flipBit(await sealed(disk), 32 + 8 + 2) },
    error: StoreCode.STORE_CORRUPT
  },
  {
    name: 'checksum mismatch in a sealed segment, repair: cut there, later segments quarantined',
    crash: true,
    repair: true,
    damage: async (disk) => { disk.flipBit(await sealed(disk), 32 + 8 + 2) },
    check: (t, r, n) => { t.equal(r.corruptRecords, 1); t.equal(n, 0, 'the damage was in the first record') }
  },
  {
    name: 'damage before the checkpoint, verifyAllOnOpen, even with repair: E_STORE_CORRUPT',
    crash: true,
    checkpointAt: 55,
    repair: true,
    verifyAll: true,
    damage: async (disk) => { disk.flipBit(await sealed(disk), 32 + 8 + 2) },
    error: StoreCode.STORE_CORRUPT
  },
  {
    name: 'unreadable checkpoint: ignored, log replayed from the start, reported',
    crash: true,
    checkpointAt: 30,
    damage: async (disk) => { const c = (await disk.list(DIR)).find((n) => n.endsWith('.ckpt')) as string; disk.flipBit(`${DIR}/${c}`, 30) },
    check: (t, r, n) => { t.equal(r.corruptRecords, 1); t.ok(r.recordsReplayed >= 61); t.equal(n, 60) }
  },
  {
    name: 'a missing segment between two others: E_STORE_CORRUPT',
    crash: true,
    damage: async (disk) => { const s = (await segments(disk)).sort(); await disk.unlink(`${DIR}/${s[1] as string}`) },
    error: StoreCode.STORE_CORRUPT
  },
  {
    name: 'no checkpoint and the first segment gone: E_STORE_CORRUPT',
    crash: true,
    damage: async (disk) => { await disk.unlink(seg(1)) },
    error: StoreCode.STORE_CORRUPT
  }
]

for (const row of rows) {
  t.test(`store - recovery table - ${row.name}`, async (t) => {
    const disk = await build(row.crash, row.checkpointAt)
    await row.damage(disk)
    const l = ledger(disk, row.repair, row.verifyAll)
    const result = await l.open().then((r) => r, (e: unknown) => e)
    if (row.error !== undefined) {
      t.ok(isFerryError(result, row.error), `open fails with ${row.error}: ${String(result)}`)
      return
    }
    t.notOk(result instanceof Error, `open succeeds: ${String(result)}`)
    const entries = l.topicInfo('t')?.nextEntryId ?? 0
    const got = await l.read('t', 0, { maxEntries: 100 })
    t.same(got.map((e) => e.payload.toString()), Array.from({ length: entries }, (_, i) => `entry-${i}-${'q'.repeat(40)}`), 'what is left is a prefix')
    row.check?.(t, result as RecoveryReport, entries)
    t.equal((await l.append({ topic: 't', payload: Buffer.from('after') })).entryId, entries, 'appends continue')
    await l.close()
  })
}

t.test('store - recovery table - damage in a sealed segment before the checkpoint: open succeeds, the scrub reports it, reads fail loudly', async (t) => {
  const disk = await build(true, 55)
  disk.flipBit(await sealed(disk), 1000) // inside some entry's frame
  const events: string[] = []
  const l = ledger(disk, false, false, events)
  await l.open()
  const { waitFor } = await import('./helpers.js')
  await waitFor(() => events.includes('scrub-done'), 'scrub')
  t.ok(events.includes('sealed-segment-corrupt'), 'scrub reported the damage')
  await t.rejects(l.read('t', 0, { maxEntries: 100 }), { code: StoreCode.STORE_CORRUPT })
  t.equal(l.topicInfo('t')?.nextEntryId, 60, 'the checkpoint still knows every entry')
  t.equal((await l.readOne('t', 59))?.payload.toString(), `entry-59-${'q'.repeat(40)}`, 'undamaged entries read')
  await l.close()
})
