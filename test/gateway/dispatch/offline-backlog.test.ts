/**
 * Stats backlog of topics without a stream: exact and on the spot for small
 * subscriptions; for one spanning more than STATS_BACKLOG_SYNC_TOPICS_MAX
 * topics, summed by a background pass in slices (a stats call never walks a
 * million topics on the loop), shown once the pass ends, repeated at most every
 * STATS_BACKLOG_PASS_INTERVAL_MS.
 */
import t from 'tap'
import { OfflineBacklog } from '../../../gateway/dispatch/offline-backlog.js'
import { STATS_BACKLOG_PASS_INTERVAL_MS, STATS_BACKLOG_SLICE_TOPICS, STATS_BACKLOG_SYNC_TOPICS_MAX } from '../../../gateway/dispatch/constants.js'
import type { Ledger } from '../../../store/index.js'
import { waitFor } from '../../helpers/wait.js'

/** A ledger that knows only cursor backlogs (unit test fake), counting its calls. */
function fakeLedger (backlogOf: (topic: string) => number | undefined): { ledger: Ledger, calls: () => number } {
  let calls = 0
  const ledger = { cursorBacklog: (topic: string) => { calls++; return backlogOf(topic) } } as unknown as Ledger
  return { ledger, calls: () => calls }
}

t.test('offline backlog - a small subscription is summed exactly, skipping topics that have a stream', async (t) => {
  const spanned = new Set(['a', 'b', 'c', 'gone'])
  const { ledger } = fakeLedger((topic) => topic === 'gone' ? undefined : 2)
  const ob = new OfflineBacklog(ledger, 'sub', spanned, (topic) => topic === 'b')
  t.equal(ob.entries(Date.now()), 4, 'a and c count, b has a stream, gone has no cursor')
  spanned.add('d')
  t.equal(ob.entries(Date.now()), 6, 'always current')
})

t.test('offline backlog - a large subscription is summed in slices in the background, then shown', async (t) => {
  const n = STATS_BACKLOG_SYNC_TOPICS_MAX + 2 * STATS_BACKLOG_SLICE_TOPICS + 5
  const spanned = new Set(Array.from({ length: n }, (_, i) => `t${i}`))
  let per = 1
  const { ledger, calls } = fakeLedger(() => per)
  const ob = new OfflineBacklog(ledger, 'sub', spanned, () => false)
  t.teardown(() => { ob.stop() })
  t.equal(ob.entries(Date.now()), 0, 'nothing known before the first pass ends')
  t.ok(calls() <= STATS_BACKLOG_SLICE_TOPICS, 'the call itself did not walk the topics')
  await waitFor(() => ob.entries(Date.now()) === n, { timeoutMs: 30_000, what: 'the pass ends with every topic summed' })
  per = 3
  const before = calls()
  t.equal(ob.entries(Date.now()), n, 'within the interval: the last pass, no new walk')
  t.equal(calls(), before, 'no topic read')
  ob.entries(Date.now() + STATS_BACKLOG_PASS_INTERVAL_MS + 1)
  await waitFor(() => ob.entries(Date.now() + 2 * STATS_BACKLOG_PASS_INTERVAL_MS) === 3 * n, { timeoutMs: 30_000, what: 'a later pass sees the new backlog' })
})

t.test('offline backlog - stop ends a pass', async (t) => {
  const n = STATS_BACKLOG_SYNC_TOPICS_MAX + 10 * STATS_BACKLOG_SLICE_TOPICS
  const spanned = new Set(Array.from({ length: n }, (_, i) => `t${i}`))
  const { ledger, calls } = fakeLedger(() => 1)
  const ob = new OfflineBacklog(ledger, 'sub', spanned, () => false)
  ob.entries(Date.now())
  ob.stop()
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
  t.ok(calls() < n, 'the pass stopped before reading every topic')
  t.equal(ob.entries(Date.now() + 10 * STATS_BACKLOG_PASS_INTERVAL_MS), 0, 'a stopped one starts no pass')
})
