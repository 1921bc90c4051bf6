/**
 * Cursor bounds are for admission, never for replay (issue 7 item 4): an ack
 * that would give a cursor more than maxCursorAckRanges ranges is refused
 * before it reaches the log, and a log holding more ranges than the bound
 * (written under a larger one, or by older code) still opens.
 */
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createFileLedger, StoreCode, StoreLimits, type FileLedgerOptions, type Ledger } from '../../store/index.js'
import { policyByPrefix } from './helpers.js'

const dirs: string[] = []
t.teardown(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }) })

async function tempDir (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ferry-bounds-'))
  dirs.push(d)
  return d
}

async function openAt (dir: string, over: Partial<FileLedgerOptions> = {}): Promise<Ledger> {
  const l = createFileLedger({ siteId: 'b', dir, policyOf: policyByPrefix(), checkpointIntervalMs: 0, retentionIntervalMs: 0, ...over })
  await l.open()
  return l
}

/** Even ids 2, 4, ..., 2n: n isolated ranges (entry 0 stays unacknowledged). */
function isolated (n: number, from = 1): number[] {
  return Array.from({ length: n }, (_, i) => 2 * (from + i))
}

t.test('store - cursor bounds - the default bound refuses the ack past it before logging; the ledger reopens', async (t) => {
  const dir = await tempDir()
  let l = await openAt(dir)
  const max = StoreLimits.CURSOR_ACK_RANGES_MAX
  const entries = 2 * max + 4
  for (let i = 0; i < entries; i += 10_000) {
    await l.appendMany(Array.from({ length: Math.min(10_000, entries - i) }, () => ({ topic: 'b/t', payload: Buffer.alloc(0) })))
  }
  let c = await l.cursor('b/t', 's', { durable: true, start: { kind: 'earliest' } })
  // One more than the bound in one ack: the old code logged it and then asserted, at replay too.
  await t.rejects(c.ack(isolated(max + 1)), { code: StoreCode.CURSOR_RANGES_FULL }, 'refused with a clear error')
  t.equal(c.ackedRanges().length, 0, 'a refused ack changes nothing')
  await c.ack(isolated(max))
  t.equal(c.ackedRanges().length, max, 'up to the bound is accepted')
  await t.rejects(c.ack([2 * max + 2]), { code: StoreCode.CURSOR_RANGES_FULL }, 'one more isolated ack is refused')
  await c.ack([3, 2 * max + 1]) // joining or extending ranges stays allowed at the bound
  t.equal(c.ackedRanges().length, max - 1)
  await l.close()
  l = await openAt(dir)
  c = l.cursors('b/t')[0] as typeof c
  t.equal(c.ackedRanges().length, max - 1, 'every range back after a restart')
  await c.ack([0, 1])
  t.equal(c.markDelete(), 4, 'the front folds into mark-delete')
  await l.close()
})

t.test('store - cursor bounds - a log holding more ranges than the bound opens and replays (bounds are never for replay)', async (t) => {
  const dir = await tempDir()
  let l = await openAt(dir, { maxCursorAckRanges: 1000 })
  await l.appendMany(Array.from({ length: 2000 }, () => ({ topic: 'b/r', payload: Buffer.alloc(1) })))
  let c = await l.cursor('b/r', 's', { durable: true, start: { kind: 'earliest' } })
  await c.ack(isolated(400))
  await l.checkpoint() // half the ranges in the checkpoint, half replayed from the log
  await c.ack(isolated(400, 401))
  await l.close()
  // Reopen under a smaller bound: replay must not enforce it.
  l = await openAt(dir, { maxCursorAckRanges: 100 })
  c = l.cursors('b/r')[0] as typeof c
  t.equal(c.ackedRanges().length, 800, 'all 800 ranges replayed under a bound of 100')
  await t.rejects(c.ack([1700]), { code: StoreCode.CURSOR_RANGES_FULL }, 'new isolated ranges are refused')
  await c.ack([1, 3, 5])
  t.equal(c.markDelete(), -1)
  t.equal(c.ackedRanges().length, 798, 'acks that join ranges are accepted')
  await c.ackCumulative(1000)
  t.equal(c.ackedRanges().length, 300, 'cumulative acks always pass')
  await l.close()
})
