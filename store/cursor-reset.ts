/**
 * Rewinding a cursor: move its mark-delete position to any point, earlier
 * ones included, dropping every acknowledgement and delivery count above it
 * (gateway/ops: reset a subscription's cursor to an earlier time or id; the
 * entries after that point are delivered again, acknowledged ones too).
 *
 * No new record kind: a `cursorCreate` record for an existing cursor already
 * means "this cursor starts over at markDelete" (it is how the log has always
 * replayed a re-created cursor), so the rewind is one record, atomic, and
 * recovery and checkpoints need nothing new. Applying it resets the existing
 * CursorState in place (record-apply.ts) so handles held by the dispatcher
 * keep pointing at the live state.
 *
 * The position is clamped to what still exists: entries below the topic's
 * first entry were removed by retention and cannot come back.
 */
import { NO_RANGES, type CursorState } from './cursor-state.js'
import type { LedgerContext } from './ledger-context.js'
import { RecordKind } from './records.js'
import type { TopicState } from './topic-state.js'
import { Durability, type EntryId } from './types.js'

/** The state change itself (live and replay): start over at `markDelete`. */
export function resetCursorState (c: CursorState, markDelete: EntryId): void {
  c.markDelete = markDelete
  c.ranges = NO_RANGES
  c.deliveries = null
}

/** Rewind (or move) `c` so that the next entry to deliver is `markDelete + 1`; resolves when durable. Returns the position taken. */
export async function rewindCursor (ctx: LedgerContext, t: TopicState, c: CursorState, markDelete: EntryId): Promise<EntryId> {
  ctx.checkWritable()
  const md = Math.max(Math.min(Math.trunc(markDelete), t.index.next - 1), t.index.first - 1)
  if (t.cursor(c.sub) !== c) return c.markDelete // deleted (or rebuilt) since the handle was taken
  if (c.durable && t.durability !== Durability.memory) {
    await ctx.record({ kind: RecordKind.cursorCreate, topicId: t.id, sub: c.sub, markDelete: md }, t.durability).done
  } else {
    resetCursorState(c, md)
  }
  return md
}
