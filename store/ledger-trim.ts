/**
 * The in-memory side of retention: which entries of a topic must stay
 * (retention.ts decides), and forgetting entries below a new first entry
 * together with everything that refers to them. Deleting segments is the
 * file ledger's job (ledger-file.ts).
 */
import { firstNeededEntry } from './retention.js'
import type { ResolvedOptions } from './options.js'
import type { TopicState } from './topic-state.js'
import type { EntryId } from './types.js'

/** First entry of t that retention must keep. */
export function neededFrom (opts: ResolvedOptions, t: TopicState, nowMs: number, firstNotOlderThan: (ms: number) => number): EntryId {
  return firstNeededEntry(t, opts.policyOf(t.name), nowMs, firstNotOlderThan)
}

/** Forget entries of t below `first` and everything that refers to them. */
export function trimTopic (t: TopicState, first: EntryId): void {
  if (first <= t.index.first) return
  const dropped = Math.min(first, t.index.next) - t.index.first
  t.index.trimTo(first)
  if (t.mem !== null) t.mem.splice(0, dropped)
  if (t.cancelled !== null) for (const id of t.cancelled) if (id < first) t.cancelled.delete(id)
  pruneDelayed(t)
}

/** Drop delayed-index entries that are gone, acknowledged by every cursor, or cancelled. */
export function pruneDelayed (t: TopicState): void {
  if (t.delayed === null) return
  t.delayed.prune((id) => id < t.index.first || t.ackedByAll(id) || (t.cancelled?.has(id) ?? false))
  if (t.delayed.size === 0) t.delayed = null
}
