/**
 * The recovery decision table of store/recovery.ts, one row per case, on
 * the simulated disk. Each row damages a closed log in one way and states
 * what open() must do. The promise every row that opens keeps: every
 * acknowledged record outside the damaged one is readable, a lost entry reads
 * back empty and tombstoned, and no entry id is given out twice.
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
  /** Entries expected after open (ids), and how many of them are lost (empty, tombstoned). */
  entries?: number
  lost?: number
  /** Topic the entries are read from (a quarantined topic record renames it). */
  topic?: string
  check?: (t: Test, r: RecoveryReport, entries: number) => void
}

/** Offset of the frame of record `index` (0 = first) in a segment's bytes. */
function frameOffset (bytes: Buffer, index: number): number {
  let at = 32
  for (let i = 0; i < index; i++) at += 8 + bytes.readUInt32LE(at)
  return at
}

/** Flip a byte at `delta` into frame `index` of segment file p. */
async function flipInFrame (disk: SimDisk, p: string, index: number, delta: number): Promise<void> {
  disk.flipBit(p, frameOffset(disk.fileBytes(p) as Buffer, index) + delta)
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
    name: 'checksum mismatch in the last segment below the checkpoint: that record quarantined, every other kept',
    crash: false,
    damage: async (disk) => { await flipInFrame(disk, await last(disk), 1, 8 + 2) },
    entries: 60,
    lost: 1,
    check: (t, r) => { t.equal(r.corruptRecords, 1); t.equal(r.truncatedBytes, 0); t.equal(r.quarantinedRecords, 1); t.equal(r.lostEntries, 1) }
  },
  {
    name: 'checksum mismatch in the middle of the last segment after a crash: that record quarantined, every later one kept',
    crash: true,
    damage: async (disk) => { await flipInFrame(disk, await last(disk), 2, 8 + 5) },
    entries: 60,
    lost: 1,
    check: (t, r) => { t.equal(r.corruptRecords, 1); t.equal(r.truncatedBytes, 0); t.equal(r.quarantinedRecords, 1) }
  },
  {
    name: 'length field pointing past the end of the last segment, valid frames after it: quarantined, every later one kept',
    crash: true,
    damage: async (disk) => { await flipInFrame(disk, await last(disk), 1, 2) }, // bit 0 of the third length byte: +64 KiB
    entries: 60,
    lost: 1,
    check: (t, r) => { t.equal(r.corruptRecords, 1); t.equal(r.truncatedBytes, 0) }
  },
  {
    name: 'damage in the last record of the last segment: looks like the end of the last write, cut; its entry id is retired, not reused',
    crash: true,
    damage: async (disk) => {
      const p = await last(disk)
      const b = disk.fileBytes(p) as Buffer
      let n = 0
      // The frames end at the end of the file or where preallocated zeros begin.
      for (let at = frameOffset(b, n + 1); at + 8 <= b.length && b.readUInt32LE(at) > 0; at = frameOffset(b, n + 1)) n++
      disk.flipBit(p, frameOffset(b, n) + 8 + 3)
    },
    entries: 60,
    lost: 1,
    check: (t, r) => { t.equal(r.corruptRecords, 1); t.ok(r.truncatedBytes > 0) }
  },
  {
    name: 'last segment with a damaged header before valid frames: header rewritten, nothing lost',
    crash: true,
    damage: async (disk) => { disk.flipBit(await last(disk), 3) },
    entries: 60,
    check: (t, r) => { t.equal(r.corruptRecords, 1); t.equal(r.truncatedBytes, 0) }
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
    entries: 60,
    check: (t, r) => { t.equal(r.truncatedBytes, 5) }
  },
  {
    name: 'checksum mismatch in a sealed segment: E_STORE_CORRUPT',
    crash: true,
    damage: async (disk) => { await flipInFrame(disk, await sealed(disk), 1, 8 + 2) },
    error: StoreCode.STORE_CORRUPT
  },
  {
    name: 'checksum mismatch in a sealed segment, repair: that record quarantined, every later one (and segment) kept',
    crash: true,
    repair: true,
    damage: async (disk) => { await flipInFrame(disk, await sealed(disk), 1, 8 + 2) },
    entries: 60,
    lost: 1,
    check: (t, r) => { t.equal(r.corruptRecords, 1); t.equal(r.quarantinedRecords, 1) }
  },
  {
    name: 'the record naming a topic quarantined (repair): its entries kept under $lost/topic-<id>',
    crash: true,
    repair: true,
    damage: async (disk) => { await flipInFrame(disk, await sealed(disk), 0, 8 + 3) },
    topic: '$lost/topic-1',
    entries: 60,
    check: (t, r) => { t.equal(r.corruptRecords, 1) }
  },
  {
    name: 'damage before the checkpoint, verifyAllOnOpen, repair: quarantined, the checkpoint holds the state',
    crash: true,
    checkpointAt: 55,
    repair: true,
    verifyAll: true,
    damage: async (disk) => { await flipInFrame(disk, await sealed(disk), 1, 8 + 2) },
    entries: 60,
    lost: 1
  },
  {
    name: 'damage before the checkpoint, verifyAllOnOpen, no repair: E_STORE_CORRUPT',
    crash: true,
    checkpointAt: 55,
    verifyAll: true,
    damage: async (disk) => { await flipInFrame(disk, await sealed(disk), 1, 8 + 2) },
    error: StoreCode.STORE_CORRUPT
  },
  {
    name: 'unreadable checkpoint: ignored, log replayed from the start, reported',
    crash: true,
    checkpointAt: 30,
    damage: async (disk) => { const c = (await disk.list(DIR)).find((n) => n.endsWith('.ckpt')) as string; disk.flipBit(`${DIR}/${c}`, 30) },
    entries: 60,
    check: (t, r) => { t.equal(r.corruptRecords, 1); t.ok(r.recordsReplayed >= 61) }
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
    const topic = row.topic ?? 't'
    const entries = l.topicInfo(topic)?.nextEntryId ?? 0
    if (row.entries !== undefined) t.equal(entries, row.entries, `${row.entries} entry ids`)
    const got = await l.read(topic, 0, { maxEntries: 100 })
    t.same(got.map((e) => e.entryId), Array.from({ length: entries }, (_, i) => i), 'every entry id reads back, in order')
    const lost = got.filter((e) => e.payload.length === 0)
    t.equal(lost.length, row.lost ?? 0, `${row.lost ?? 0} lost`)
    for (const e of lost) t.ok(l.isCancelled(topic, e.entryId), `lost #${e.entryId} is tombstoned`)
    t.same(got.filter((e) => e.payload.length > 0).map((e) => e.payload.toString()), got.filter((e) => e.payload.length > 0).map((e) => `entry-${e.entryId}-${'q'.repeat(40)}`), 'every other entry is intact')
    row.check?.(t, result as RecoveryReport, entries)
    t.equal((await l.append({ topic, payload: Buffer.from('after') })).entryId, entries, 'appends continue; no id is given twice')
    await l.close()
    // Known damage: the next open reports nothing new and keeps everything (the segment may be sealed by then).
    const again = ledger(disk, false, row.verifyAll)
    const r2 = await again.open()
    t.equal(r2.corruptRecords, 0, 'reopen: nothing new to report')
    t.equal(again.topicInfo(topic)?.nextEntryId, entries + 1, 'reopen: same entries')
    await again.close()
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
