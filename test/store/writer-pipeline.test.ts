/**
 * Pipelined group commits (store/log-writer.ts): with two commits' syncs in
 * flight, appends still resolve in lsn order whatever order the syncs finish
 * in, a failure of either rejects everything from the failed commit on and
 * nothing before it, and a power loss afterwards keeps every acknowledged
 * append and brings back no rejected one.
 */
import t from 'tap'
import { SimDisk } from '../../store/disk/sim-disk.js'
import { createFileLedger, StoreCode, type Disk, type DiskFile, type Ledger } from '../../store/index.js'
import { policy, waitFor } from './helpers.js'

const DIR = '/w'

/** What the next log write with O_DSYNC does: complete, wait to be released, or fail with EIO (nothing written). */
type Step = 'pass' | 'hold' | 'fail'

interface Held { release: () => void, fail: () => void }

/** A disk whose segment files' O_DSYNC log writes follow `script` (zero-ahead chunks, all zeros, pass through). */
function scriptedDisk (inner: Disk, script: Step[], held: Held[]): Disk {
  return {
    ...inner,
    open: async (p, create) => {
      const f = await inner.open(p, create)
      if (!/seg-\d+\.log$/.test(p) || f.writeDurable === undefined) return f
      const durable = f.writeDurable
      const scripted: DiskFile = {
        ...f,
        writeDurable: async (buf, position) => {
          const isZeros = buf.every((b) => b === 0)
          const step = isZeros ? 'pass' : (script.shift() ?? 'pass')
          if (step === 'fail') throw Object.assign(new Error('EIO: O_DSYNC write'), { code: 'EIO' })
          if (step === 'hold') {
            await new Promise<void>((resolve, reject) => {
              held.push({ release: resolve, fail: () => { reject(Object.assign(new Error('EIO: O_DSYNC write'), { code: 'EIO' })) } })
            })
          }
          await durable(buf, position)
        }
      }
      return scripted
    }
  }
}

function ledger (disk: Disk, eagerBytes?: number): Ledger {
  return createFileLedger({
    siteId: 's', dir: DIR, disk, policyOf: () => policy('sync'), commitsInFlightMax: 2,
    ...(eagerBytes !== undefined ? { groupCommitEagerBytes: eagerBytes } : {}),
    checkpointIntervalMs: 0, retentionIntervalMs: 0
  })
}

async function turns (n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
}

/** Appends `a` (its commit's sync held by the script) and then `b` in a later turn: two commits in flight. */
async function twoInFlight (l: Ledger, held: Held[]): Promise<{ a: Promise<unknown>, b: Promise<unknown>, order: string[] }> {
  const order: string[] = []
  const a = l.append({ topic: 't', payload: Buffer.from('a') })
  a.then(() => order.push('a'), () => order.push('a rejected'))
  await waitFor(() => held.length === 1, 'the first commit is in flight')
  const b = l.append({ topic: 't', payload: Buffer.from('b') })
  b.then(() => order.push('b'), () => order.push('b rejected'))
  return { a, b, order }
}

async function payloadsAfterPowerLoss (sim: SimDisk): Promise<string[]> {
  sim.powerLoss()
  const again = ledger(sim.view())
  await again.open()
  const got = (await again.read('t', 0, { maxEntries: 100_000 })).map((e) => e.payload.toString())
  await again.close()
  return got
}

t.test('store - writer pipeline - a later commit whose sync finishes first resolves only after the earlier one', async (t) => {
  const sim = new SimDisk(21)
  const held: Held[] = []
  const script: Step[] = []
  const l = ledger(scriptedDisk(sim.view(), script, held))
  await l.open()
  await l.append({ topic: 't', payload: Buffer.from('before') })
  script.push('hold', 'pass')
  const { a, b, order } = await twoInFlight(l, held)
  await turns(20)
  t.same(script, [], "b's commit was written and synced while a's was in flight")
  t.same(order, [], 'b is durable, yet not acknowledged while a is not')
  held[0]?.release()
  await Promise.all([a, b])
  t.same(order, ['a', 'b'], 'acknowledged in lsn order')
  t.same(await payloadsAfterPowerLoss(sim), ['before', 'a', 'b'], 'both survive a power loss')
})

t.test('store - writer pipeline - the earlier commit failing rejects both in flight; nothing rejected comes back', async (t) => {
  const sim = new SimDisk(22)
  const held: Held[] = []
  const script: Step[] = []
  const l = ledger(scriptedDisk(sim.view(), script, held))
  await l.open()
  await l.append({ topic: 't', payload: Buffer.from('before') })
  script.push('hold', 'pass')
  const { a, b, order } = await twoInFlight(l, held)
  await turns(20)
  held[0]?.fail()
  await t.rejects(a, { code: StoreCode.FSYNC_FAILED })
  await t.rejects(b, { code: StoreCode.FSYNC_FAILED }, 'b was synced, but lies past the failure: rejected and cut')
  t.same(order, ['a rejected', 'b rejected'])
  await waitFor(() => !l.stats().fenced, 'unfenced')
  const r = await l.append({ topic: 't', payload: Buffer.from('after') })
  t.equal(r.entryId, 1, 'the rejected appends left no entry behind')
  await l.close()
  t.same(await payloadsAfterPowerLoss(sim), ['before', 'after'], 'acknowledged ones kept, rejected ones gone')
})

t.test('store - writer pipeline - the later commit failing keeps the earlier one acknowledged', async (t) => {
  const sim = new SimDisk(23)
  const held: Held[] = []
  const script: Step[] = []
  const l = ledger(scriptedDisk(sim.view(), script, held))
  await l.open()
  await l.append({ topic: 't', payload: Buffer.from('before') })
  script.push('hold', 'fail')
  const { a, b, order } = await twoInFlight(l, held)
  await turns(20)
  t.same(script, [], "b's commit was issued (and failed) while a's was in flight")
  t.same(order, [], 'b failed, but its failure waits for a')
  held[0]?.release()
  await a
  await t.rejects(b, { code: StoreCode.FSYNC_FAILED })
  t.same(order, ['a', 'b rejected'])
  await waitFor(() => !l.stats().fenced, 'unfenced')
  t.equal((await l.append({ topic: 't', payload: Buffer.from('after') })).entryId, 2, 'entry ids go on after a')
  await l.close()
  t.same(await payloadsAfterPowerLoss(sim), ['before', 'a', 'after'])
})

for (const eagerBytes of [undefined, 1024]) {
  t.test(`store - writer pipeline - 64 producers with commits in flight (eager start ${eagerBytes ?? 'off'}): every acknowledged append survives a power loss`, async (t) => {
    const sim = new SimDisk(24)
    const l = ledger(sim.view(), eagerBytes)
    await l.open()
    const acked = new Set<string>()
    let failAt = 300
    await Promise.all(Array.from({ length: 64 }, async (_, p) => {
      for (let i = 0; i < 20; i++) {
        const payload = `${p}-${i}`
        if (--failAt === 0) sim.failFsyncs(1)
        try {
          await l.append({ topic: 't', payload: Buffer.from(payload) })
          acked.add(payload)
        } catch {
          await (l as { whenUnfenced?: () => Promise<void> }).whenUnfenced?.()
        }
      }
    }))
    t.ok(acked.size > 0, `${acked.size} acknowledged`)
    const got = await payloadsAfterPowerLoss(sim)
    const present = new Set(got)
    t.equal(present.size, got.length, 'no append twice')
    t.same([...acked].filter((x) => !present.has(x)), [], 'no acknowledged append lost')
  })
}
