/**
 * Zero-ahead (store/zero-ahead.ts): the active segment's space past the log
 * end is zero-filled and synced in the background. Pinned here: appends do
 * not wait for the zero-fill; zeros never land on records (whatever the
 * timing of zero chunks against batches and segment rolls); a crash while a
 * zero chunk is being written loses no acknowledged append; a zero chunk that
 * finds the disk full neither fails appends nor leaves its zeros behind; the
 * zeros are durable of their own (not left for the log's next fdatasync).
 */
import t from 'tap'
import { SimDisk } from '../../store/disk/sim-disk.js'
import { createFileLedger, StoreLimits, type Disk, type DiskFile, type Ledger } from '../../store/index.js'
import { policy, waitFor } from './helpers.js'

const DIR = '/w'
const MiB = 1024 * 1024

function ledger (disk: Disk, segmentSizeBytes = 4 * MiB, durability: 'sync' | 'async' = 'sync'): Ledger {
  return createFileLedger({
    siteId: 's', dir: DIR, disk, policyOf: (topic) => policy(topic.startsWith('async/') ? 'async' : durability), segmentSizeBytes,
    checkpointIntervalMs: 0, retentionIntervalMs: 0
  })
}

function isZeroChunk (buf: Buffer): boolean {
  return buf.length >= 4096 && buf.every((b) => b === 0)
}

/**
 * A disk whose zero chunks (large all-zero writes) can be held: `hold` makes
 * them wait until `release()`; `delayTicks` delays each by a seeded number of
 * event-loop turns. `zeroWrites` counts them; `writeDurable` can be taken away
 * (then zero chunks are write + datasync, and a power loss can tear them).
 */
function gatedDisk (sim: SimDisk, o: { dsync?: boolean, delayTicks?: number } = {}): { disk: Disk, hold: () => void, release: () => void, zeroWrites: () => number, files: DiskFile[] } {
  const inner = sim.view()
  let gate: { p: Promise<void>, open: () => void } | null = null
  let zeroWrites = 0
  const files: DiskFile[] = []
  const wait = async (buf: Buffer): Promise<void> => {
    if (!isZeroChunk(buf)) return
    zeroWrites++
    const ticks = Math.floor(sim.random() * (o.delayTicks ?? 0))
    for (let i = 0; i < ticks; i++) await new Promise((resolve) => setImmediate(resolve))
    if (gate !== null) await gate.p
  }
  const disk: Disk = {
    ...inner,
    open: async (p, create) => {
      const f = await inner.open(p, create)
      const wrapped: DiskFile = {
        ...f,
        write: async (buf, pos) => { await wait(buf); await f.write(buf, pos) },
        writeDurable: o.dsync === false || f.writeDurable === undefined ? undefined : async (buf, pos) => { await wait(buf); await (f.writeDurable as NonNullable<DiskFile['writeDurable']>)(buf, pos) }
      }
      files.push(wrapped)
      return wrapped
    }
  }
  return {
    disk,
    hold: () => { let open = (): void => {}; const p = new Promise<void>((resolve) => { open = resolve }); gate = { p, open } },
    release: () => { const g = gate; gate = null; g?.open() },
    zeroWrites: () => zeroWrites,
    files
  }
}

async function segmentFiles (sim: SimDisk): Promise<string[]> {
  return (await sim.list(DIR)).filter((n) => /^seg-\d{10}\.log$/.test(n)).map((n) => `${DIR}/${n}`)
}

async function readAll (l: Ledger, topic: string): Promise<string[]> {
  const out: string[] = []
  for (let from = 0; ;) {
    const got = await l.read(topic, from, { maxEntries: 1000 })
    if (got.length === 0) return out
    for (const e of got) out.push(e.payload.toString())
    from = (got[got.length - 1]?.entryId ?? from) + 1
  }
}

t.test('store - zero-ahead - sync appends complete while a zero chunk is held: the fill is off the append path', async (t) => {
  const sim = new SimDisk(21)
  const g = gatedDisk(sim)
  const l = ledger(g.disk)
  await l.open()
  g.hold()
  // The first append starts the fill; every append after it lands short of the held chunk (ZERO_AHEAD_GAP_BYTES).
  for (let i = 0; i < 20; i++) await l.append({ topic: 't', payload: Buffer.from(`m${i}`) })
  await waitFor(() => g.zeroWrites() >= 1, 'a zero chunk was started (and is held)')
  t.equal((await l.append({ topic: 't', payload: Buffer.from('while held') })).entryId, 20, 'appends go on while the chunk is held')
  g.release()
  await l.close()
  const again = ledger(sim.view())
  await again.open()
  t.equal((await readAll(again, 't')).length, 21, 'everything acknowledged is there')
  await again.close()
})

t.test('store - zero-ahead - the zeros ahead of the log end survive a power loss and end the log at recovery', async (t) => {
  const sim = new SimDisk(22)
  const l = ledger(sim.view())
  await l.open()
  for (let i = 0; i < 10; i++) await l.append({ topic: 't', payload: Buffer.alloc(1000, 1) })
  const [seg] = await segmentFiles(sim)
  // The first chunk starts a gap past the end of the first append (header + one frame > 1,000 bytes).
  const zeroedMin = 32 + 1000 + StoreLimits.ZERO_AHEAD_GAP_BYTES + StoreLimits.ZERO_AHEAD_CHUNK_BYTES
  await waitFor(() => (sim.fileSize(seg as string) ?? 0) >= zeroedMin, 'a zero chunk written')
  t.ok((sim.fileSize(seg as string) ?? 0) > 32 + 10 * 1000 + StoreLimits.ZERO_AHEAD_CHUNK_BYTES, 'the zeros reach well past the log end')
  sim.powerLoss()
  t.ok((sim.fileSize(seg as string) ?? 0) >= zeroedMin, 'the zero chunk is durable')
  const again = ledger(sim.view())
  await again.open()
  t.equal((await readAll(again, 't')).length, 10, 'every acknowledged append is there; the zeros end the log')
  t.equal((await again.append({ topic: 't', payload: Buffer.from('next') })).entryId, 10, 'appends resume after the zeros-ended log')
  await again.close()
  t.ok((sim.fileSize(seg as string) ?? 0) < 32 + 11 * 1100, 'close cut the zeros back to the log end')
})

t.test('store - zero-ahead - zeros never land on records: zero chunks delayed at random against batches and rolls', async (t) => {
  for (const seed of [31, 32, 33]) {
    const sim = new SimDisk(seed)
    const g = gatedDisk(sim, { delayTicks: 40 })
    // 1 MiB segments: several rolls while chunks are in flight (the roll stops the fill and cuts the zeros).
    const l = ledger(g.disk, 1 * MiB)
    await l.open()
    const expected: string[] = []
    const appends: Array<Promise<unknown>> = []
    for (let i = 0; i < 1500; i++) {
      const body = `${seed}:${i}:`.padEnd(200 + Math.floor(sim.random() * 3000), String.fromCharCode(97 + (i % 26)))
      expected.push(body)
      // A mix of async and sync appends, issued in bursts so batches of every size meet the chunks.
      appends.push(l.append({ topic: i % 3 === 0 ? 'async/a' : 't', payload: Buffer.from(body) }))
      if (i % 50 === 49) await Promise.all(appends.splice(0))
    }
    await Promise.all(appends)
    t.ok(g.zeroWrites() > 3, `seed ${seed}: zero chunks were written (${g.zeroWrites()})`)
    const segs = await segmentFiles(sim)
    t.ok(segs.length > 2, `seed ${seed}: segments rolled`)
    await l.close()
    // Every segment ends with its last record (payload letters), not with zeros: the seal and the close cut them.
    const zeroTails = segs.filter((f) => (sim.fileBytes(f) as Buffer).subarray(-64).every((b) => b === 0))
    t.same(zeroTails, [], `seed ${seed}: no segment keeps zeros past its last record`)
    const again = ledger(sim.view(), 1 * MiB)
    const report = await again.open()
    t.equal(report.corruptRecords, 0, `seed ${seed}: no damaged record`)
    const got = [...await readAll(again, 't'), ...await readAll(again, 'async/a')]
    t.same(got.sort(), expected.slice().sort(), `seed ${seed}: every record reads back intact`)
    await again.close()
  }
})

t.test('store - zero-ahead - a power loss while zero chunks are being written (torn, unsynced) loses no acknowledged append', async (t) => {
  for (const seed of [41, 42, 43, 44, 45, 46]) {
    const sim = new SimDisk(seed)
    // No O_DSYNC: each chunk is write + datasync, so a power loss can keep a torn part of it.
    const g = gatedDisk(sim, { dsync: false, delayTicks: 10 })
    const l = ledger(g.disk, 2 * MiB)
    await l.open()
    const acked: string[] = []
    const stopAt = 200 + Math.floor(sim.random() * 600)
    let n = 0
    let crashed = false
    const producers = Array.from({ length: 8 }, async (_, p) => {
      while (!crashed) {
        const body = `${seed}:${p}:${n++}`.padEnd(500 + Math.floor(sim.random() * 2000), 'z')
        try {
          await l.append({ topic: 't', payload: Buffer.from(body) })
          if (!crashed) acked.push(body)
        } catch { return }
        if (acked.length >= stopAt && !crashed) {
          // Crash while a chunk is (probably) between its write and its datasync.
          crashed = true
          sim.powerLoss()
        }
      }
    })
    await Promise.all(producers)
    t.ok(g.zeroWrites() > 0, `seed ${seed}: zero chunks were in play`)
    const again = ledger(sim.view(), 2 * MiB)
    await again.open()
    const got = new Set(await readAll(again, 't'))
    const lost = acked.filter((b) => !got.has(b))
    t.equal(lost.length, 0, `seed ${seed}: no acknowledged append lost (${acked.length} acknowledged)`)
    const next = await again.append({ topic: 't', payload: Buffer.from('after') })
    t.ok(next.entryId >= acked.length, `seed ${seed}: entry ids go on past the acknowledged ones`)
    await again.close()
  }
})

t.test('store - zero-ahead - a zero chunk that finds the disk full is given back and does not fail appends', async (t) => {
  const sim = new SimDisk(51)
  const l = ledger(sim.view())
  await l.open()
  await l.append({ topic: 't', payload: Buffer.from('first') })
  await l.close()
  let used = 0
  for (const name of await sim.list(DIR)) used += sim.fileSize(`${DIR}/${name}`) ?? 0
  // Room for the appends below, not for a zero chunk.
  sim.setFreeBytes(used + StoreLimits.ZERO_AHEAD_GAP_BYTES + 64 * 1024)
  const l2 = ledger(sim.view())
  await l2.open()
  for (let i = 0; i < 20; i++) await l2.append({ topic: 't', payload: Buffer.alloc(1000, 2) })
  t.notOk(l2.stats().fenced, 'the failed zero chunk did not fence the ledger')
  const [seg] = await segmentFiles(sim)
  await waitFor(async () => (sim.fileSize(seg as string) ?? 0) < used + StoreLimits.ZERO_AHEAD_GAP_BYTES + 64 * 1024, 'zeros given back')
  await l2.close()
  sim.setFreeBytes(Number.POSITIVE_INFINITY)
  const again = ledger(sim.view())
  await again.open()
  t.equal((await readAll(again, 't')).length, 21, 'every append is there')
  await again.close()
})
