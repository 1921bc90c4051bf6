/**
 * Reads: committed entries only (durable per the topic's mode), from memory
 * for memory-backed topics, through the subclass's `readStored` otherwise.
 */
import { READ_ENTRIES_MAX } from './constants.js'
import type { LedgerContext } from './ledger-context.js'
import type { EntryId, LedgerEntry, ReadOptions, TopicName } from './types.js'

export async function readEntries (ctx: LedgerContext, topic: TopicName, fromEntryId: EntryId, opts: ReadOptions): Promise<LedgerEntry[]> {
  ctx.checkUsable()
  const t = ctx.state.topicState(topic)
  if (t === undefined) return []
  const from = Math.max(fromEntryId, t.index.first)
  const maxEntries = Math.min(Math.max(1, opts.maxEntries), READ_ENTRIES_MAX)
  const to = Math.min(t.committedNext, from + maxEntries)
  if (to <= from) return []
  const maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY
  if (t.mem !== null) {
    const out: LedgerEntry[] = []
    let bytes = 0
    for (let id = from; id < to; id++) {
      const e = t.mem[id - t.index.first] as LedgerEntry
      if (out.length > 0 && bytes + e.payload.length > maxBytes) break
      bytes += e.payload.length
      out.push(e)
    }
    return out
  }
  return await ctx.readStored(t, from, to, maxBytes)
}

export async function readOneEntry (ctx: LedgerContext, topic: TopicName, entryId: EntryId): Promise<LedgerEntry | undefined> {
  const t = ctx.state.topicState(topic)
  if (t === undefined || entryId < t.index.first || entryId >= t.committedNext) return undefined
  const [e] = await readEntries(ctx, topic, entryId, { maxEntries: 1 })
  return e?.entryId === entryId ? e : undefined
}
