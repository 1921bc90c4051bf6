/**
 * Retention and crashes (store/ledger-file-retention.ts, recovery.ts): the
 * floor rests on durable acknowledgements only, the checkpoint that forgets
 * deleted entries is written before any segment is unlinked, segments go
 * oldest first with a directory sync each, and recovery copes with logs that
 * an interrupted pass of an older version left behind (an index into deleted
 * segments, a gap below the checkpoint).
 */
import t, { type Test } from 'tap'
import { SimDisk } from '../../store/disk/sim-disk.js'
import { createFileLedger, StoreCode, type Cursor, type Disk, type Ledger } from '../../store/index.js'
import { policy, waitFor } from './helpers.js'

const DIR = '/r'
const segName = (id: number): string => `seg-${String(id).padStart(10, '0')}.log`

function ledger (disk: Disk, events: Array<[string, Record<string, unknown>]> = []): Ledger {
  return createFileLedger({
    siteId: 's', dir: DIR, disk, policyOf: () => policy('sync', { retentionMs: 0 }), segmentSizeBytes: 2048,
    checkpointIntervalMs: 0, retentionIntervalMs: 0, onEvent: (e, d) => events.push([e, d])
  })
}

/** 80 entries of topic t over 5+ segments, a durable cursor acknowledged through `ackedUpTo`. */
async function build (disk: Disk, ackedUpTo: number): Promise<{ l: Ledger, c: Cursor }> {
  const l = ledger(disk)
  await l.open()
  const c = await l.cursor('t', 'sub', { durable: true, start: { kind: 'earliest' } })
  for (let i = 0; i < 80; i++) await l.append({ topic: 't', payload: Buffer.from(`entry-${i}-${'r'.repeat(40)}`) })
  await c.ackCumulative(ackedUpTo)
  return { l, c }
}

async function segments (sim: SimDisk): Promise<number[]> {
  return (await sim.list(DIR)).map((n) => /^seg-(\d+)\.log$/.exec(n)?.[1]).filter((x): x is string => x !== undefined).map(Number)
}

/** What a reader sees from the first entry on: entries, not nothing. */
async function readableFromFirst (t: Test, l: Ledger, what: string): Promise<void> {
  const info = l.topicInfo('t')
  t.ok(info !== undefined, `${what}: topic known`)
  const got = await l.read('t', info?.firstEntryId ?? 0, { maxEntries: 200 })
  t.equal(got[0]?.entryId, info?.firstEntryId, `${what}: the first entry (#${info?.firstEntryId ?? -1}) reads`)
  t.same(got.map((e) => e.payload.toString()), got.map((e) => `entry-${e.entryId}-${'r'.repeat(40)}`), `${what}: entries intact`)
  t.equal(got.length, (info?.nextEntryId ?? 0) - (info?.firstEntryId ?? 0), `${what}: every entry from the first on reads`)
  const fresh = await l.cursor('t', `fresh-${what}`, { durable: true, start: { kind: 'earliest' } })
  t.equal(fresh.markDelete() + 1, info?.firstEntryId, `${what}: a new cursor at earliest starts at a readable entry`)
}

t.test('store - retention - a crash right after a pass: no index entry points into a deleted segment', async (t) => {
  const sim = new SimDisk(3)
  const { l } = await build(sim.view(), 60)
  const deleted = await l.runRetention()
  t.ok(deleted >= 2, `${deleted} segments deleted`)
  sim.powerLoss() // before any later checkpoint
  const l2 = ledger(sim.view())
  await l2.open()
  t.ok((l2.topicInfo('t')?.firstEntryId ?? 0) > 0, 'the deleted entries are gone from the index')
  await readableFromFirst(t, l2, 'after the crash')
  t.ok(l2.cursors('t').find((c) => c.subscription === 'sub')?.isAcked(60), 'the acknowledgement survived')
  await l2.close()
})

t.test('store - retention - recovery trims an index that points below the first segment (a log left by the old order)', async (t) => {
  const sim = new SimDisk(4)
  const { l } = await build(sim.view(), 60)
  await l.checkpoint() // indexes from entry 0
  await sim.unlink(`${DIR}/${segName(1)}`) // what the old order did after its checkpoint
  await sim.syncDir(DIR)
  sim.powerLoss()
  const events: Array<[string, Record<string, unknown>]> = []
  const l2 = ledger(sim.view(), events)
  await l2.open()
  t.ok(events.some(([e]) => e === 'index-trimmed'), 'reported')
  await readableFromFirst(t, l2, 'after trimming')
  await l2.close()
})

t.test('store - retention - open accepts a gap below the checkpoint (unlinks cut short) and finishes the pass', async (t) => {
  const sim = new SimDisk(5)
  const { l } = await build(sim.view(), 60)
  await l.checkpoint()
  const before = await segments(sim)
  t.ok(before.length >= 3, `${before.length} segments`)
  await sim.unlink(`${DIR}/${segName(2)}`) // segment 2 gone, segment 1 not: a gap
  await sim.syncDir(DIR)
  sim.powerLoss()
  const events: Array<[string, Record<string, unknown>]> = []
  const l2 = ledger(sim.view(), events)
  const r = await l2.open().then((x) => x, (e: unknown) => e)
  t.notOk(r instanceof Error, `open succeeds: ${String(r)}`)
  t.ok(events.some(([e]) => e === 'retention-finished'), 'reported')
  t.notOk((await segments(sim)).includes(1), 'the segment below the gap is deleted')
  await readableFromFirst(t, l2, 'after the gap')
  await l2.close()
})

t.test('store - retention - a gap without a checkpoint past it is still E_STORE_CORRUPT', async (t) => {
  const sim = new SimDisk(6)
  await build(sim.view(), 60)
  await sim.unlink(`${DIR}/${segName(2)}`)
  await sim.syncDir(DIR)
  sim.powerLoss() // no checkpoint was ever written
  const err = await ledger(sim.view()).open().then(() => undefined, (e: unknown) => e) as { code?: string }
  t.equal(err?.code, StoreCode.STORE_CORRUPT)
})

/** A disk that logs the directory operations and can run a hook when a checkpoint file is renamed into place. */
function recordingDisk (inner: Disk, ops: string[], onCheckpointRename?: () => void): Disk {
  return {
    ...inner,
    open: async (p, c) => await inner.open(p, c),
    list: async (d) => await inner.list(d),
    mkdirp: async (d) => { await inner.mkdirp(d) },
    stat: async (p) => await inner.stat(p),
    unlink: async (p) => { ops.push(`unlink ${p.slice(p.lastIndexOf('/') + 1)}`); await inner.unlink(p) },
    rename: async (a, b) => {
      const name = b.slice(b.lastIndexOf('/') + 1)
      ops.push(`rename ${name}`)
      if (name.endsWith('.ckpt')) onCheckpointRename?.()
      await inner.rename(a, b)
    },
    syncDir: async (d) => { ops.push('syncDir'); await inner.syncDir(d) }
  }
}

t.test('store - retention - checkpoint before the first unlink; oldest first, a directory sync after each unlink', async (t) => {
  const sim = new SimDisk(7)
  const ops: string[] = []
  const { l } = await build(recordingDisk(sim.view(), ops), 60)
  ops.length = 0
  const deleted = await l.runRetention()
  t.ok(deleted >= 2, `${deleted} segments deleted`)
  const unlinks = ops.map((o, i) => [o, i] as const).filter(([o]) => /^unlink seg-\d+\.log$/.test(o))
  const ckpt = ops.findIndex((o) => /^rename ckpt-/.test(o))
  t.ok(ckpt >= 0 && ckpt < (unlinks[0]?.[1] ?? -1), `the checkpoint is in place before the first unlink: ${ops.join(', ')}`)
  t.same(unlinks.map(([o]) => o), unlinks.map(([o]) => o).slice().sort(), 'oldest first')
  for (const [o, i] of unlinks) t.equal(ops[i + 1], 'syncDir', `${o} is made durable before anything else`)
  await l.close()
})

t.test('store - retention - the floor counts durable acknowledgements only', async (t) => {
  const sim = new SimDisk(8)
  let cursor: Cursor | undefined
  let lateAck: Promise<void> | undefined
  // While retention writes its checkpoint, an acknowledgement arrives whose fsync will fail.
  const disk = recordingDisk(sim.view(), [], () => {
    if (lateAck !== undefined || cursor === undefined) return
    sim.failFsyncs(1)
    lateAck = cursor.ackCumulative(75)
    lateAck.catch(() => {})
  })
  const { l, c } = await build(disk, 20)
  cursor = c
  await l.runRetention().catch(() => 0)
  t.ok(lateAck !== undefined, 'the late acknowledgement was submitted during the pass')
  const err = await (lateAck as Promise<void>).then(() => undefined, (e: unknown) => e) as { code?: string }
  t.equal(err?.code, StoreCode.FSYNC_FAILED, 'and failed')
  await waitFor(() => !l.stats().fenced, 'unfenced')
  const md = l.cursors('t').find((x) => x.subscription === 'sub')?.markDelete() ?? -2
  t.equal(md, 20, 'the cursor is back at its durable acknowledgement')
  const info = l.topicInfo('t')
  t.ok((info?.firstEntryId ?? 99) <= md + 1, `nothing unacknowledged was deleted (first entry #${info?.firstEntryId ?? -1})`)
  const got = await l.read('t', md + 1, { maxEntries: 200 })
  t.equal(got.length, 80 - (md + 1), 'every unacknowledged entry still reads')
  await l.close()
})
