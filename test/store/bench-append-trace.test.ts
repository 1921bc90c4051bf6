/**
 * bench:store's latency split (store/bench/append-trace.ts): each append is matched to the first log write issued
 * at or after it, and its time from due to resolved is cut at the write's issue, the fdatasync's issue and the
 * sync's end, so the parts add up to the whole. Synthetic times: no disk, no clock.
 */
import t from 'tap'
import { splitLatency, type AppendTimes, type TimedOp } from '../../store/bench/append-trace.js'

t.test('an append behind a commit in flight: queue wait, then its own write + fdatasync', async (t) => {
  const ops: TimedOp[] = [
    { kind: 'dsync', start: 0, end: 4, bytes: 1024, file: 'seg-0000000001.log' }, // the commit in flight when the append arrives at 1
    { kind: 'write', start: 4.5, end: 5, bytes: 1024, file: 'seg-0000000001.log' },
    { kind: 'fdatasync', start: 5, end: 7, bytes: 0, file: 'seg-0000000001.log' },
    { kind: 'zero', start: 6, end: 8, bytes: 131072, file: 'seg-0000000001.log' }
  ]
  const appends: AppendTimes[] = [{ due: 0.5, issued: 1, resolved: 7.25 }]
  const s = splitLatency(appends, ops) as { tail: Record<string, number>, logSyncs: number, logSyncsBesideZeroChunk: number, slowLogSyncs: number, slowLogSyncsBesideZeroChunk: number, zeroChunkMaxMs: number }
  t.same(s.tail, { appends: 1, pacingMs: 0.5, queueMs: 3.5, writeMs: 0.5, syncMs: 2, completionMs: 0.25 })
  const sum = s.tail.pacingMs + s.tail.queueMs + s.tail.writeMs + s.tail.syncMs + s.tail.completionMs
  t.equal(sum, 7.25 - 0.5, 'the parts add up to the append\'s latency from due')
  t.equal(s.logSyncs, 2)
  t.equal(s.logSyncsBesideZeroChunk, 1, 'the fdatasync ran beside the zero chunk')
  t.equal(s.slowLogSyncs, 1, 'the 4 ms O_DSYNC write is slow (>= 3 ms), the 2 ms fdatasync is not')
  t.equal(s.slowLogSyncsBesideZeroChunk, 0, 'and no zero chunk ran beside it')
  t.equal(s.zeroChunkMaxMs, 2)
})

t.test('an append with no log write after it is left out', async (t) => {
  const ops: TimedOp[] = [{ kind: 'dsync', start: 0, end: 1, bytes: 1024, file: 'seg-0000000001.log' }]
  const s = splitLatency([{ due: 2, issued: 2, resolved: 3 }], ops) as { all: Record<string, number> }
  t.equal(s.all.appends, 0)
})
