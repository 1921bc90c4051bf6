/**
 * The three pick strategies: which entry goes to which consumer next.
 *
 * - in-order (exclusive, failover): the active consumer takes redeliveries
 *   first (oldest first), then the window by weighted round robin over
 *   priority levels, FIFO within a level. A not-yet-due delayed head holds
 *   its level (later entries of that level wait with it); other levels go on.
 * - shared: round robin over consumers; redeliveries first, then the window
 *   by weighted round robin over levels.
 * - key_shared: an entry goes out only when it is the oldest of its key in
 *   the window, no returned entry of the key is waiting, and no other live
 *   consumer holds an unacknowledged entry of the key (Pulsar's rule for
 *   recently joined consumers).
 *
 * Each returns how many entries it took off the window or the ready list
 * (handed out or disposed of).
 */
import type { LedgerEntry } from '../../store/index.js'
import { PRIORITY_LEVELS } from '../policy/index.js'
import type { ConsumerImpl } from './consumer.js'
import { KEY_SHARED_SCAN_ENTRIES_MAX } from './constants.js'
import type { Inflight } from './inflight.js'
import type { InflightTable } from './inflight-table.js'
import { Verdict, type EntryOutcomes } from './outcomes.js'
import type { StreamHost } from './stream-host.js'
import type { WindowEntry, WindowReader } from './window-reader.js'

/** What a pick strategy works on: one stream's window, records and outcomes. */
export interface PickSource {
  readonly host: StreamHost
  readonly reader: WindowReader
  readonly table: InflightTable
  readonly outcomes: EntryOutcomes
  redeliveryCountOf: (id: number) => number
  /** Hand entry to c (rec: the record of a redelivery, undefined for a fresh entry); appends to the round. */
  assign: (c: ConsumerImpl, entry: LedgerEntry, rec: Inflight | undefined, rc: number) => void
}

/** Dispose of entry if its verdict says so; true when it was disposed of. */
function disposed (s: PickSource, entry: LedgerEntry, rec: Inflight | undefined, rc: number, now: number): boolean {
  const v = s.outcomes.verdict(entry, rc, now)
  if (v === Verdict.ok) return false
  s.outcomes.dispose(v, entry, rec, rc)
  return true
}

/** in-order: is the head of this level a delayed entry that is not yet due (and so holds the level)? */
function headHeld (s: PickSource, level: number, now: number): boolean {
  const we = s.reader.window.levels[level]?.peek()
  if (we === undefined) return false
  const entry = we.entry
  const deliverAt = entry.props.deliverAt
  if (!s.host.policy.delayedDeliveryEnabled || deliverAt === undefined || deliverAt <= now) return false
  // A cancelled or acknowledged head never holds the stream: its verdict disposes of it.
  const v = s.outcomes.verdict(entry, 0, now)
  if (v === Verdict.acked || v === Verdict.cancelled) return false
  s.reader.noteDelayed(deliverAt)
  return true
}

export function pickInOrder (s: PickSource, max: number): number {
  const now = Date.now()
  const weights = s.host.policy.priorityWeights
  const window = s.reader.window
  let held = 0
  for (let l = 0; l < PRIORITY_LEVELS; l++) if (headHeld(s, l, now)) held |= 1 << l
  let worked = 0
  while (worked < max) {
    const c = s.host.consumers.active
    const rec = s.table.readyAt(0)
    if (c === undefined || !s.host.consumers.canTake(c, rec === undefined)) break
    if (rec !== undefined) {
      const entry = rec.entry as LedgerEntry
      const rc = s.redeliveryCountOf(rec.entryId)
      s.table.takeReady(0)
      worked++
      if (!disposed(s, entry, rec, rc, now)) s.assign(c, entry, rec, rc)
      continue
    }
    const level = window.chooseLevel(weights, held)
    if (level < 0) break
    const entry = s.reader.take(level, 0).entry
    worked++
    if (headHeld(s, level, now)) held |= 1 << level
    const rc = s.redeliveryCountOf(entry.entryId)
    if (!disposed(s, entry, undefined, rc, now)) s.assign(c, entry, undefined, rc)
  }
  return worked
}

export function pickShared (s: PickSource, max: number): number {
  const now = Date.now()
  const weights = s.host.policy.priorityWeights
  let worked = 0
  while (worked < max) {
    const rec = s.table.readyAt(0)
    const c = s.host.consumers.nextShared(rec === undefined)
    if (c === undefined) break
    let entry: LedgerEntry
    if (rec !== undefined) {
      entry = rec.entry as LedgerEntry
      s.table.takeReady(0)
    } else {
      const level = s.reader.window.chooseLevel(weights, 0)
      if (level < 0) break
      entry = s.reader.take(level, 0).entry
    }
    worked++
    const rc = s.redeliveryCountOf(entry.entryId)
    if (disposed(s, entry, rec, rc, now)) continue
    s.assign(c, entry, rec, rc)
    s.host.consumers.sharedUsed(c)
  }
  return worked
}

export function pickKeyShared (s: PickSource, max: number): number {
  const now = Date.now()
  const blocked = new Set<string>()
  const keys = s.reader.keys
  let worked = 0
  // Redeliveries first, oldest first.
  for (let i = 0; worked < max;) {
    const rec = s.table.readyAt(i)
    if (rec === undefined) break
    const entry = rec.entry as LedgerEntry
    const rc = s.redeliveryCountOf(rec.entryId)
    const v = s.outcomes.verdict(entry, rc, now)
    if (v !== Verdict.ok) {
      s.table.takeReady(i); worked++
      s.outcomes.dispose(v, entry, rec, rc)
      continue
    }
    const target = keyTarget(s, rec.key, blocked, false)
    if (target === undefined) { i++; continue }
    s.table.takeReady(i); worked++
    s.assign(target, entry, rec, rc)
  }
  const weights = s.host.policy.priorityWeights
  const window = s.reader.window
  let skip = 0
  while (worked < max) {
    const level = window.chooseLevel(weights, skip)
    if (level < 0) break
    const fifo = window.levels[level]
    const scan = Math.min(fifo?.length ?? 0, KEY_SHARED_SCAN_ENTRIES_MAX)
    let took = false
    for (let i = 0; i < scan; i++) {
      const we = fifo?.at(i) as WindowEntry
      if (blocked.has(we.key)) continue
      const entry = we.entry
      const rc = s.redeliveryCountOf(entry.entryId)
      const v = s.outcomes.verdict(entry, rc, now)
      if (v !== Verdict.ok) {
        s.reader.take(level, i); worked++; took = true
        s.outcomes.dispose(v, entry, undefined, rc)
        break
      }
      // Not the oldest of its key: skip it (the oldest may sit in another level and go first).
      if (!keys.isOldest(we.key, entry.entryId)) continue
      if (keys.hasReturned(we.key)) { blocked.add(we.key); continue }
      const target = keyTarget(s, we.key, blocked, true)
      if (target === undefined) continue
      s.reader.take(level, i); worked++; took = true
      s.assign(target, entry, undefined, rc)
      break
    }
    // Taking the oldest entry of a key may have made entries of skipped levels the oldest of theirs.
    if (took) skip = 0
    else skip |= 1 << level
  }
  return worked
}

/** key_shared: who may take the next entry of `key` now, or undefined (and the key is blocked for this round). */
function keyTarget (s: PickSource, key: string, blocked: Set<string>, fresh: boolean): ConsumerImpl | undefined {
  if (blocked.has(key)) return undefined
  const target = s.host.consumers.ringOwner(key)
  const owner = s.reader.keys.ownerOf(key)
  if (target === undefined || (owner !== undefined && owner !== target) || !s.host.consumers.canTake(target, fresh)) {
    blocked.add(key)
    return undefined
  }
  return target
}
