/**
 * Simulated-disk fault tests over many seeds: power loss with torn writes,
 * failed fsyncs, full disk. Every acknowledged sync append, ack and meta put
 * must survive; nothing that was never written may appear.
 */
import t from 'tap'
import { SimDisk, seededRandom } from '../../store/disk/sim-disk.js'
import { isFerryError } from '../../common/errors.js'
import { StoreCode, type Ledger } from '../../store/index.js'
import { Model, openSim, SIM_DIR } from './sim-model.js'
import { waitFor } from './helpers.js'

const SEEDS = Number(process.env.FERRY_SIM_SEEDS ?? 200)

async function wave (l: Ledger, m: Model, rnd: () => number, opBase: number): Promise<number> {
  const n = 1 + Math.floor(rnd() * 8)
  await Promise.all(Array.from({ length: n }, async (_, i) => { await m.randomOp(l, rnd, opBase + i) }))
  return n
}

async function unfencedOk (l: Ledger): Promise<boolean> {
  try { await unfenced(l); return true } catch { return false }
}

async function unfenced (l: Ledger): Promise<void> {
  await waitFor(() => !l.stats().fenced, 'ledger unfenced')
}

t.test('store - sim disk - power loss, torn writes, fsync failures and ENOSPC over many seeds', async (t) => {
  const failures: string[] = []
  let fsyncFaults = 0
  let enospcFaults = 0
  for (let seed = Number(process.env.FERRY_SIM_FIRST ?? 1); seed <= SEEDS; seed++) {
    if (process.env.FERRY_SIM_DEBUG !== undefined) console.error('SEED', seed)
    const disk = new SimDisk(seed)
    const rnd = seededRandom(seed * 7919)
    const m = new Model()
    let l = openSim(disk)
    await l.open()
    let op = 0
    const waves = 5 + Math.floor(rnd() * 15)
    for (let w = 0; w < waves; w++) {
      const fault = rnd()
      if (fault < 0.1) {
        disk.failFsyncs(1)
        fsyncFaults++
        op += await wave(l, m, rnd, op)
        disk.failFsyncs(0)
        if (!await unfencedOk(l)) { failures.push(`seed ${seed}: still fenced after an fsync failure`); break }
      } else if (fault < 0.18) {
        disk.setFreeBytes(disk.fileSize(`${SIM_DIR}/seg-0000000001.log`) === undefined ? 0 : usage(disk) + Math.floor(rnd() * 600))
        enospcFaults++
        op += await wave(l, m, rnd, op)
        disk.setFreeBytes(Number.POSITIVE_INFINITY)
        if (!await unfencedOk(l)) { failures.push(`seed ${seed}: still fenced after ENOSPC`); break }
      } else {
        op += await wave(l, m, rnd, op)
      }
    }
    // Power loss with operations in flight (whatever error they get is fine).
    const unexpectedBefore = m.unexpected.length
    const inFlight = Promise.all(Array.from({ length: 1 + Math.floor(rnd() * 6) }, async (_, i) => { await m.randomOp(l, rnd, op + i) }))
    const ticks = Math.floor(rnd() * 6)
    for (let i = 0; i < ticks; i++) await new Promise((resolve) => setImmediate(resolve))
    disk.powerLoss()
    await inFlight
    m.unexpected = m.unexpected.slice(0, unexpectedBefore)
    l = openSim(disk)
    try {
      await l.open()
      const problems: string[] = []
      await m.check(l, problems, true)
      if (problems.length > 0) failures.push(`seed ${seed}: ${problems.slice(0, 5).join(' | ')}`)
      // The recovered ledger keeps working.
      const r = await l.append({ topic: 's/0', payload: Buffer.from('after') })
      if ((await l.readOne('s/0', r.entryId))?.payload.toString() !== 'after') failures.push(`seed ${seed}: append after recovery unreadable`)
      await l.close()
    } catch (err) {
      failures.push(`seed ${seed}: open failed: ${String(err)}`)
    }
  }
  t.same(failures, [], `no invariant broken over ${SEEDS} seeds`)
  t.ok(fsyncFaults > 0 && enospcFaults > 0, `faults injected (fsync ${fsyncFaults}, ENOSPC ${enospcFaults})`)
})

function usage (disk: SimDisk): number {
  let n = 0
  for (let id = 1; id < 10_000; id++) {
    const s = disk.fileSize(`${SIM_DIR}/seg-${String(id).padStart(10, '0')}.log`)
    if (s !== undefined) n += s
    else if (id > 1) break
  }
  return n
}

t.test('store - sim disk - ENOSPC rejects with E_DISK_FULL, leaves nothing half-written, recovers when space returns', async (t) => {
  const disk = new SimDisk(42)
  const l = openSim(disk)
  await l.open()
  await l.append({ topic: 's/0', payload: Buffer.from('before') })
  disk.setFreeBytes(0)
  const err = await l.append({ topic: 's/0', payload: Buffer.alloc(500, 1) }).then(() => undefined, (e: unknown) => e)
  t.ok(isFerryError(err, StoreCode.DISK_FULL), 'E_DISK_FULL')
  await unfenced(l)
  const again = await l.append({ topic: 's/0', payload: Buffer.alloc(500, 1) }).then(() => undefined, (e: unknown) => e)
  t.ok(isFerryError(again, StoreCode.DISK_FULL), 'still full')
  await unfenced(l)
  disk.setFreeBytes(Number.POSITIVE_INFINITY)
  const ok = await l.append({ topic: 's/0', payload: Buffer.from('after') })
  t.equal(ok.entryId, 1, 'the failed appends left no entry behind')
  t.same((await l.read('s/0', 0, { maxEntries: 10 })).map((e) => e.payload.toString()), ['before', 'after'])
  await l.close()
})

t.test('store - sim disk - failed fsync fences, rejects pending appends, then recovers', async (t) => {
  const disk = new SimDisk(7)
  const events: string[] = []
  const l = openSim(disk)
  await l.open()
  await l.append({ topic: 's/0', payload: Buffer.from('durable') })
  disk.failFsyncs(1)
  const rs = await Promise.allSettled([1, 2, 3].map(async (i) => await l.append({ topic: 's/0', payload: Buffer.from(`lost${i}`) })))
  t.ok(rs.every((r) => r.status === 'rejected' && isFerryError(r.reason, StoreCode.FSYNC_FAILED)), 'pending appends rejected with E_FSYNC_FAILED')
  t.equal(l.stats().fenced, true, 'fenced')
  await t.rejects(l.append({ topic: 's/0', payload: Buffer.from('x') }), { code: StoreCode.FENCED })
  await unfenced(l)
  events.push('unfenced')
  const r = await l.append({ topic: 's/0', payload: Buffer.from('later') })
  t.equal(r.entryId, 1)
  t.same((await l.read('s/0', 0, { maxEntries: 10 })).map((e) => e.payload.toString()), ['durable', 'later'])
  await l.close()
})

t.test('store - sim disk - a flipped bit loses at most its record: kept in the last segment, E_STORE_CORRUPT (repair: quarantined) in a sealed one', async (t) => {
  let sealedSeen = 0
  let lastSeen = 0
  /** Every acknowledged entry reads back with its id, except at most one lost (empty, tombstoned, or cut off the very end). */
  const promise = async (l: Ledger, acked: string[], what: string): Promise<void> => {
    const topic = l.topicInfo('s/1') !== undefined ? 's/1' : '$lost/topic-1' // the flip may have hit the record naming the topic
    const got = await l.read(topic, 0, { maxEntries: 100 })
    const lost = got.filter((e) => e.payload.length === 0)
    t.ok(got.length === acked.length || got.length === acked.length - 1, `${what}: ${got.length} of ${acked.length} entry ids`)
    t.ok(lost.length + acked.length - got.length <= 1, `${what}: at most one record lost`)
    t.same(got.filter((e) => e.payload.length > 0).map((e) => e.payload.toString()), got.filter((e) => e.payload.length > 0).map((e) => acked[e.entryId]), `${what}: every other acknowledged entry intact`)
    for (const e of lost) t.ok(l.isCancelled(topic, e.entryId), `${what}: lost #${e.entryId} tombstoned`)
    t.ok((await l.append({ topic, payload: Buffer.from('after') })).entryId >= got.length, `${what}: no id given twice`)
  }
  for (let seed = 1; seed <= 40; seed++) {
    const disk = new SimDisk(seed)
    const rnd = seededRandom(seed)
    let l = openSim(disk)
    await l.open()
    const acked: string[] = []
    for (let i = 0; i < 40; i++) {
      const p = `m${i}-${'y'.repeat(Math.floor(rnd() * 200))}`
      await l.append({ topic: 's/1', payload: Buffer.from(p) })
      acked.push(p)
    }
    disk.powerLoss() // no close: no checkpoint, the whole log is replayed
    const segs = (await disk.list(SIM_DIR)).filter((n) => n.startsWith('seg-'))
    const victim = segs[Math.floor(rnd() * segs.length)] as string
    const size = disk.fileSize(`${SIM_DIR}/${victim}`) as number
    if (size <= 40) continue
    const at = 32 + Math.floor(rnd() * (size - 32))
    disk.flipBit(`${SIM_DIR}/${victim}`, at, Math.floor(rnd() * 8))
    const isLast = victim === segs[segs.length - 1]
    l = openSim(disk)
    const err = await l.open().then(() => undefined, (e: unknown) => e)
    if (isLast) {
      lastSeen++
      t.equal(err, undefined, `seed ${seed}: flip in the last segment opens`)
      await promise(l, acked, `seed ${seed} last segment`)
      await l.close()
    } else {
      sealedSeen++
      t.ok(isFerryError(err, StoreCode.STORE_CORRUPT), `seed ${seed}: flip in sealed ${victim} is E_STORE_CORRUPT`)
      const repaired = openSim(disk, true)
      const report = await repaired.open()
      t.ok(report.corruptRecords >= 1, 'repair reports the corrupt record')
      await promise(repaired, acked, `seed ${seed} sealed, repaired`)
      await repaired.close()
    }
  }
  t.ok(sealedSeen > 0 && lastSeen > 0, `both cases seen (sealed ${sealedSeen}, last ${lastSeen})`)
})
