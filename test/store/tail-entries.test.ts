/**
 * The tail cache's decoded entries (store/tail-cache.ts): a fresh entry is read
 * back as appended (no CRC check and CBOR decode of what was just encoded),
 * older ones from their bytes, and an lsn reused after a failed write and a
 * reopen never finds the entry that was cut.
 */
import t from 'tap'
import { SimDisk } from '../../store/disk/sim-disk.js'
import { TailCache } from '../../store/tail-cache.js'
import { createFileLedger, StoreCode } from '../../store/index.js'
import { TAIL_ENTRIES_MAX } from '../../store/constants.js'
import { policy, waitFor } from './helpers.js'

const T = { id: 1, name: 't' }

function add (c: TailCache, lsn: number, bytes = 10): void {
  c.addEntry(lsn, T.id, lsn, 0, Buffer.alloc(bytes), {})
}

t.test('store - tail entries - the ring keeps the newest entries within its count and payload bounds', async (t) => {
  const c = new TailCache(1024, { entriesMax: 4, pendingMax: 0, entryPayloadBytesMax: 35 })
  const at = (lsn: number): number | undefined => c.entry(lsn, T, lsn)?.lsn
  for (const lsn of [10, 20, 30]) add(c, lsn)
  t.equal(at(20), 20)
  t.equal(c.entry(25, T, 25), undefined, 'no entry at an lsn between two')
  t.equal(c.entry(20, { id: 2, name: 'u' }, 20), undefined, 'not for another topic')
  t.equal(c.entry(20, T, 21), undefined, 'not for another entry id')
  add(c, 40)
  t.equal(at(10), undefined, 'payload bound: the oldest went first (4 x 10 > 35)')
  t.same([20, 30, 40].map(at), [20, 30, 40])
  for (const lsn of [50, 60, 70]) add(c, lsn, 1)
  t.same([20, 30, 40, 50, 60, 70].map(at), [undefined, undefined, 40, 50, 60, 70], 'count bound: 4 entries across the ring wrap')
  add(c, 80, 100)
  t.equal(at(80), undefined, 'an entry larger than the whole payload bound is not kept')
  add(c, 55)
  t.same([40, 50, 55].map(at), [undefined, undefined, 55], 'an lsn at or below the newest starts the ring afresh')
  const e = c.entry(55, T, 55)
  t.same(e, { topic: 't', entryId: 55, lsn: 55, publishTime: 0, payload: Buffer.alloc(10), props: {} }, 'the entry as appended')
  c.clear()
  t.equal(at(55), undefined, 'clear drops the entries with the bytes')
  const off = new TailCache(0)
  add(off, 1)
  t.equal(off.entry(1, T, 1), undefined, 'no entries when the tail cache is off')
})

t.test('store - tail entries - fresh entries come back as appended, older ones from their frames, every one correct', async (t) => {
  const sim = new SimDisk(21)
  const l = createFileLedger({ siteId: 's', dir: '/e', disk: sim.view(), policyOf: () => policy('async'), checkpointIntervalMs: 0, retentionIntervalMs: 0 })
  await l.open()
  const n = TAIL_ENTRIES_MAX + 500
  const pending: Array<Promise<unknown>> = []
  for (let i = 0; i < n; i++) pending.push(l.append({ topic: 'a/b', payload: Buffer.from(`m${i}`), props: { key: `k${i % 7}` } }))
  await Promise.all(pending)
  let seen = 0
  for (let from = 0; from < n;) {
    const batch = await l.read('a/b', from, { maxEntries: 1000 })
    for (const e of batch) {
      if (e.entryId !== seen || e.payload.toString() !== `m${seen}` || e.props.key !== `k${seen % 7}` || e.topic !== 'a/b') {
        t.fail(`entry ${seen} read back as ${e.entryId} ${e.payload.toString()} ${String(e.props.key)}`)
        return
      }
      seen++
    }
    from += batch.length
  }
  t.equal(seen, n, 'every entry, across the ring bound, read back in order')
  await l.close()
})

t.test('store - tail entries - an lsn reused after a failed write and reopen reads the new entry, not the cut one', async (t) => {
  const sim = new SimDisk(22)
  // Small segments, as in writer-faults.test.ts: the failing fdatasync is the append's own.
  const l = createFileLedger({ siteId: 's', dir: '/f', disk: sim.view(), policyOf: () => policy('sync'), segmentSizeBytes: 64 * 1024, checkpointIntervalMs: 0, retentionIntervalMs: 0 })
  await l.open()
  await l.append({ topic: 't', payload: Buffer.from('before') })
  // Larger than the one-syscall O_DSYNC write, so its fdatasync is what fails.
  sim.failFsyncs(1, 'EIO')
  await t.rejects(l.append({ topic: 't', payload: Buffer.alloc(20 * 1024, 7) }), { code: StoreCode.FSYNC_FAILED })
  await waitFor(() => !l.stats().fenced, 'unfenced')
  const r = await l.append({ topic: 't', payload: Buffer.from('after') })
  t.equal(r.entryId, 1)
  t.same((await l.read('t', 0, { maxEntries: 10 })).map((e) => e.payload.toString()), ['before', 'after'])
  await l.close()
})
