/**
 * Runs of consecutive entry ids that are all delayed and not yet due, taken
 * from the ledger's persisted delayed index. After a restart (or a rewind) a
 * shared / key_shared reader jumps over these runs instead of reading every
 * pending delayed message back from the log only to pass it over again. The
 * entries come back through the delayed index when due, like any passed-over
 * delayed entry.
 */
import type { EntryId, Ledger, TopicName } from '../../store/index.js'

type DelayedIndex = Pick<Ledger, 'nextDelayedAfter' | 'delayedBetween'>
import { DELAYED_RUN_ENTRIES_MIN, DELAYED_RUNS_SCAN_ENTRIES_MAX, DELAYED_SCAN_ENTRIES_MAX } from './constants.js'

export type IdRun = readonly [first: EntryId, last: EntryId]

export function delayedRuns (ledger: DelayedIndex, topic: TopicName, fromId: EntryId, nowMs: number): IdRun[] {
  if (ledger.nextDelayedAfter(topic, nowMs) === undefined) return []
  let ids = new Float64Array(1024)
  let n = 0
  const push = (id: number): void => {
    if (id < fromId) return
    if (n === ids.length) { const bigger = new Float64Array(n * 2); bigger.set(ids); ids = bigger }
    ids[n++] = id
  }
  let after = nowMs
  while (n < DELAYED_RUNS_SCAN_ENTRIES_MAX) {
    const refs = ledger.delayedBetween(topic, after, Number.MAX_SAFE_INTEGER, DELAYED_SCAN_ENTRIES_MAX)
    for (const r of refs) push(r.entryId)
    if (refs.length < DELAYED_SCAN_ENTRIES_MAX) break
    const last = (refs[refs.length - 1] as { deliverAt: number }).deliverAt
    // Take the last millisecond whole (it may continue past the batch); duplicates are removed below.
    for (const r of ledger.delayedBetween(topic, last - 1, last, Number.MAX_SAFE_INTEGER)) push(r.entryId)
    after = last
  }
  const sorted = ids.subarray(0, n).sort()
  const runs: Array<[EntryId, EntryId]> = []
  let i = 0
  while (i < n) {
    const first = sorted[i] as number
    let last = first
    i++
    while (i < n && (sorted[i] as number) <= last + 1) { last = Math.max(last, sorted[i] as number); i++ }
    // Short runs are cheaper to read than to track.
    if (last - first + 1 >= DELAYED_RUN_ENTRIES_MIN) runs.push([first, last])
  }
  return runs
}
