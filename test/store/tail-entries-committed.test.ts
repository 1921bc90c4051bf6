/**
 * The tail cache's ring counts from the commit end (store/tail-cache.ts): a reader
 * that lags the append end by more than the ring (commits not completed yet) still
 * gets every committed entry exactly once from the ring, with no frame decoded
 * again, and the ring stays within its bounds when commits lag past them too.
 */
import t from 'tap'
import { SimDisk } from '../../store/disk/sim-disk.js'
import { TailCache } from '../../store/tail-cache.js'
import type { LogWriter } from '../../store/log-writer.js'
import { createFileLedger } from '../../store/index.js'
import { TAIL_ENTRIES_MAX } from '../../store/constants.js'
import { policy } from './helpers.js'

const T = { id: 1, name: 't' }

t.test('store - tail entries committed - a reader lagging the append end past the ring reads every committed entry from it once', async (t) => {
  let committed = 0
  const c = new TailCache(1024, { entriesMax: 4, pendingMax: 12, entryPayloadBytesMax: 1 << 20, committedEndLsn: () => committed })
  const n = 12 // three times the committed bound, none committed yet
  for (let lsn = 1; lsn <= n; lsn++) c.addEntry(lsn, T.id, lsn, 0, Buffer.from(`m${lsn}`), {})
  const read: string[] = []
  for (let lsn = 1; lsn <= n; lsn++) {
    committed = lsn + 1 // the commit end passes one entry, the reader reads it
    read.push(c.entry(lsn, T, lsn)?.payload.toString() ?? 'decoded again')
  }
  t.same(read, Array.from({ length: n }, (_, i) => `m${i + 1}`), 'each committed entry once, in order, from the ring')
  t.same([c.entryHits, c.entryMisses], [n, 0], 'no read missed the ring')
  // Appends go on with the commit end where it is: the committed ones past entriesMax go, the pending bound holds.
  for (let lsn = n + 1; lsn <= n + 100; lsn++) c.addEntry(lsn, T.id, lsn, 0, Buffer.from(`m${lsn}`), {})
  t.equal(c.entriesKept, 16, 'at most entriesMax + pendingMax entries (the slots) however far commits lag')
  t.equal(c.entry(n, T, n), undefined, 'the oldest committed ones were dropped for the pending ones')
  t.equal(c.entry(n + 100, T, n + 100)?.payload.toString(), `m${n + 100}`, 'the newest is kept')
})

t.test('store - tail entries committed - a burst of appends past the ring, committed together, is read back without a decode', async (t) => {
  const sim = new SimDisk(23)
  const l = createFileLedger({ siteId: 's', dir: '/c', disk: sim.view(), policyOf: () => policy('sync'), checkpointIntervalMs: 0, retentionIntervalMs: 0 })
  await l.open()
  // The test reads the writer's stats through the ledger's private field (no public hook for them).
  const tail = (l as unknown as { writer: LogWriter }).writer.tail
  const n = TAIL_ENTRIES_MAX * 3
  // Appended in one turn: no commit completes before the last append, so the reader lags the append end by n.
  const pending: Array<Promise<unknown>> = []
  for (let i = 0; i < n; i++) pending.push(l.append({ topic: 'a/b', payload: Buffer.from(`m${i}`) }))
  await Promise.all(pending)
  const seen: number[] = []
  for (let from = 0; from < n;) {
    const batch = await l.read('a/b', from, { maxEntries: 500 })
    if (batch.length === 0) break
    for (const e of batch) if (e.payload.toString() === `m${e.entryId}`) seen.push(e.entryId)
    from += batch.length
  }
  t.same(seen, Array.from({ length: n }, (_, i) => i), 'every acknowledged entry exactly once, in order')
  t.same([tail.entryHits, tail.entryMisses], [n, 0], 'all of them from the kept ring')
  await l.close()
})
