/**
 * The delayed-delivery side of a ledger: queries of a topic's delayed index
 * (entries whose deliverAt is after their publish time) and cancellation
 * tombstones of scheduled entries.
 */
import { RecordKind } from './records.js'
import { readOneEntry } from './ledger-read.js'
import type { LedgerContext } from './ledger-context.js'
import type { TopicState } from './topic-state.js'
import type { DelayedRef, EntryId, TopicName } from './types.js'

/** Entries the index may still list but that are gone, not yet visible, or cancelled. */
function skipOf (t: TopicState): (entryId: number) => boolean {
  return (id) => id < t.index.first || id >= t.committedNext || (t.cancelled?.has(id) ?? false)
}

export function delayedBetween (ctx: LedgerContext, topic: TopicName, afterMs: number, upToMs: number, maxEntries: number): DelayedRef[] {
  const t = ctx.state.topicState(topic)
  if (t?.delayed == null) return []
  return t.delayed.between(afterMs, upToMs, maxEntries, skipOf(t))
}

export function nextDelayedAfter (ctx: LedgerContext, topic: TopicName, afterMs: number): number | undefined {
  const t = ctx.state.topicState(topic)
  if (t?.delayed == null) return undefined
  return t.delayed.nextAfter(afterMs, skipOf(t))
}

export async function cancelScheduled (ctx: LedgerContext, topic: TopicName, entryId: EntryId): Promise<boolean> {
  ctx.checkWritable()
  const t = ctx.state.topicState(topic)
  if (t === undefined) return false
  if (t.cancelled?.has(entryId) === true) {
    await ctx.barrier(t.durability) // the tombstone may still be on its way
    return false
  }
  const e = await readOneEntry(ctx, topic, entryId)
  const deliverAt = e?.props.deliverAt
  if (e === undefined || deliverAt === undefined || deliverAt <= ctx.state.opts.nowMs()) return false
  if (t.cancelled?.has(entryId) === true) return false
  await ctx.record({ kind: RecordKind.cancel, topicId: t.id, entryId }, t.durability).done
  return true
}

export function isCancelled (ctx: LedgerContext, topic: TopicName, entryId: EntryId): boolean {
  return ctx.state.topicState(topic)?.cancelled?.has(entryId) ?? false
}
