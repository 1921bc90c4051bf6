/**
 * Bounded cursor memory (issue 7, "Bounded memory"): with delivery counts
 * hardened, one stuck message in a shared subscription followed by a million
 * deliveries and acks must not grow the cursor's state, nor its checkpoint.
 * Drives the Cursor API directly, in batches, on a real file ledger.
 */
import t from 'tap'
import { mkdtemp, rm, readdir, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createFileLedger, type Ledger } from '../../store/index.js'
import { policyByPrefix } from './helpers.js'

const DELIVERIES = 1_000_000
const BATCH_ENTRIES = 10_000
/** The stuck message is handed out again every this many batches (its redelivery backoff). */
const STUCK_EVERY_BATCHES = 5
const dirs: string[] = []
t.teardown(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }) })

function openAt (dir: string): Ledger {
  return createFileLedger({ siteId: 'm', dir, policyOf: policyByPrefix(), checkpointIntervalMs: 0, retentionIntervalMs: 0 })
}

async function checkpointBytes (dir: string): Promise<number> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.ckpt')).sort()
  return (await stat(join(dir, names[names.length - 1] as string))).size
}

t.test('store - bounded memory - one stuck message and a million deliveries and acks behind it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-bounded-'))
  dirs.push(dir)
  let l = openAt(dir)
  await l.open()
  const topic = 'async/stuck' // async: the test measures memory, not fsyncs
  const empty = Buffer.alloc(0)
  await l.append({ topic, payload: Buffer.from('poison') })
  let c = await l.cursor(topic, 'shared', { durable: true, start: { kind: 'earliest' } })
  let stuckDeliveries = 0
  let worst = { ackRanges: 0, countedEntries: 0, holeRanges: 0 }
  let ckptAtTenth = 0
  for (let batch = 0; batch * BATCH_ENTRIES < DELIVERIES; batch++) {
    const first = 1 + batch * BATCH_ENTRIES
    await l.appendMany(Array.from({ length: BATCH_ENTRIES }, () => ({ topic, payload: empty })))
    const ids = Array.from({ length: BATCH_ENTRIES }, (_, k) => first + k)
    const handOut = batch % STUCK_EVERY_BATCHES === 0 ? [0, ...ids] : ids
    if (handOut[0] === 0) stuckDeliveries++
    await c.recordDeliveries(handOut)
    await c.ack(ids) // everything but the stuck message is acknowledged
    const m = c.memory()
    worst = { ackRanges: Math.max(worst.ackRanges, m.ackRanges), countedEntries: Math.max(worst.countedEntries, m.countedEntries), holeRanges: Math.max(worst.holeRanges, m.holeRanges) }
    if (batch === DELIVERIES / BATCH_ENTRIES / 10) { await l.checkpoint(); ckptAtTenth = await checkpointBytes(dir) }
  }
  t.same(worst, { ackRanges: 1, countedEntries: 1, holeRanges: 0 }, 'the cursor keeps one range and one count, whatever went through')
  t.equal(c.deliveryCount(0), stuckDeliveries, `the stuck message counts its ${stuckDeliveries} deliveries`)
  t.equal(c.markDelete(), -1, 'mark-delete stays behind the stuck message')
  t.equal(c.backlogEntries(), 1)
  await l.checkpoint()
  const ckptAtEnd = await checkpointBytes(dir)
  // The entry index grows 16 bytes per entry (the backlog must stay readable); cursor state must not add to it.
  const perEntryBytes = (ckptAtEnd - ckptAtTenth) / (DELIVERIES * 0.9)
  t.ok(perEntryBytes < 20, `checkpoint grows ${perEntryBytes.toFixed(1)} bytes per entry (index only)`)
  await l.close()
  l = openAt(dir)
  await l.open()
  c = l.cursors(topic)[0] as typeof c
  t.equal(c.deliveryCount(0), stuckDeliveries, 'the count survives a restart')
  t.same(c.memory(), { ackRanges: 1, countedEntries: 1, holeRanges: 0 })
  await c.ack([0])
  t.equal(c.markDelete(), DELIVERIES, 'acking the stuck message folds everything')
  t.same(c.memory(), { ackRanges: 0, countedEntries: 0, holeRanges: 0 })
  await l.close()
})
