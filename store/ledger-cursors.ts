/**
 * Cursors: creation, lookup, deletion, and every cursor mutation (ack,
 * cumulative ack, hand-out watermark). Durable cursors of persistent topics
 * change through log records; the others change in memory only. Bounds
 * (maxCursorAckRanges) are checked here, at admission, before a record is
 * submitted — never when a record is applied.
 */
import assert from 'node:assert/strict'
import { CursorHandle, type CursorHost } from './cursor-handle.js'
import { CursorState } from './cursor-state.js'
import { rewindCursor } from './cursor-reset.js'
import { StoreCode, storeError } from './errors.js'
import { RecordKind, type LogRecord } from './records.js'
import type { LedgerContext } from './ledger-context.js'
import type { TopicState } from './topic-state.js'
import { Durability, type Cursor, type CursorOptions, type EntryId, type TopicName } from './types.js'

export class CursorOps implements CursorHost {
  constructor (private readonly ctx: LedgerContext) {}

  get stateGeneration (): number { return this.ctx.state.stateGeneration }

  async cursor (topic: TopicName, subscription: string, opts: CursorOptions): Promise<Cursor> {
    this.ctx.checkWritable()
    const t = this.ctx.ensureTopic(topic)
    const existing = t.cursor(subscription)
    if (existing !== undefined) {
      // Its creation may still be on its way to the disk.
      if (existing.durable && t.durability !== Durability.memory) await this.ctx.barrier(t.durability)
      return this.handleOf(t, existing)
    }
    const markDelete = startPosition(t, opts)
    if (opts.durable && t.durability !== Durability.memory) {
      await this.ctx.record({ kind: RecordKind.cursorCreate, topicId: t.id, sub: subscription, markDelete }, t.durability).done
    } else {
      t.putCursor(new CursorState(subscription, opts.durable, markDelete))
    }
    const c = t.cursor(subscription)
    assert.ok(c !== undefined, 'cursor exists once created')
    return this.handleOf(t, c)
  }

  /**
   * A new handle per call: a handle is a stateless view (it re-finds its state
   * after a rebuild), and caching one per cursor kept a handle and a WeakMap
   * entry alive for every cursor, ~100 B per topic behind a wildcard
   * subscription (docs/BENCHMARKS.md, million topics). Whoever keeps a handle
   * (a dispatcher stream) keeps it alive; the others are garbage.
   */
  private handleOf (t: TopicState, c: CursorState): CursorHandle {
    return new CursorHandle(this, t, c)
  }

  cursorBacklog (topic: TopicName, subscription: string): number | undefined {
    const t = this.ctx.state.topicState(topic)
    const c = t?.cursor(subscription)
    return t === undefined || c === undefined ? undefined : c.backlog(t.index.first, t.committedNext)
  }

  cursors (topic: TopicName): Cursor[] {
    const t = this.ctx.state.topicState(topic)
    if (t === undefined || t.cursorCount === 0) return [] // on every publish (backlog guard): no allocation beyond the answer
    return t.cursorList().map((c) => this.handleOf(t, c))
  }

  async deleteCursor (topic: TopicName, subscription: string): Promise<void> {
    this.ctx.checkWritable()
    const t = this.ctx.state.topicState(topic)
    const c = t?.cursor(subscription)
    if (t === undefined || c === undefined) return
    if (c.durable && t.durability !== Durability.memory) {
      await this.ctx.record({ kind: RecordKind.cursorDelete, topicId: t.id, sub: subscription }, t.durability).done
    } else {
      t.removeCursor(subscription)
    }
  }

  lookupCursor (topic: TopicName, sub: string): { t: TopicState, c: CursorState } | undefined {
    const t = this.ctx.state.topicState(topic)
    const c = t?.cursor(sub)
    return t === undefined || c === undefined ? undefined : { t, c }
  }

  /** Route a cursor mutation: durable cursors of persistent topics go through the log. */
  private async mutation (t: TopicState, c: CursorState, rec: LogRecord, applyLocal: () => void): Promise<void> {
    this.ctx.checkWritable()
    if (t.cursor(c.sub) !== c) return // deleted (or rebuilt) since the handle was taken
    if (c.durable && t.durability !== Durability.memory) {
      await this.ctx.record(rec, t.durability).done
    } else {
      applyLocal()
    }
  }

  /** Nothing new: an earlier mutation may still be on its way to the disk; wait for it. */
  private async settle (t: TopicState, c: CursorState): Promise<void> {
    this.ctx.checkWritable()
    if (c.durable && t.durability !== Durability.memory) await this.ctx.barrier(t.durability)
  }

  async cursorAck (t: TopicState, c: CursorState, ids: readonly EntryId[]): Promise<void> {
    const valid = ids.filter((id) => Number.isInteger(id) && id > c.markDelete && id < t.index.next && !c.isAcked(id))
    if (valid.length === 0) return await this.settle(t, c)
    this.admitRanges(t, c, valid)
    await this.mutation(t, c, { kind: RecordKind.ack, topicId: t.id, sub: c.sub, ids: valid }, () => { for (const id of valid) c.ackOne(id) })
  }

  /** The range bound: an ack that would fragment the cursor past it is refused before it is logged. */
  private admitRanges (t: TopicState, c: CursorState, valid: EntryId[]): void {
    const max = this.ctx.state.opts.maxCursorAckRanges
    if (c.rangeCount + valid.length <= max) return // cannot exceed: skip the exact count
    const sorted = [...new Set(valid)].sort((a, b) => a - b)
    const after = c.rangeCount + c.rangesAddedBy(sorted)
    if (after <= max || after <= c.rangeCount) return // within the bound, or no worse than now
    throw storeError(StoreCode.CURSOR_RANGES_FULL,
      `cursor ${t.name} / ${c.sub} would hold ${after} acknowledged ranges (maxCursorAckRanges ${max}); acknowledge the oldest unacknowledged entries (mark-delete is at ${c.markDelete}) first`,
      { details: { topic: t.name, subscription: c.sub, ranges: c.rangeCount, maxCursorAckRanges: max, markDelete: c.markDelete } })
  }

  async cursorAckCumulative (t: TopicState, c: CursorState, upTo: EntryId): Promise<void> {
    const bounded = Math.min(upTo, t.index.next - 1)
    if (!Number.isInteger(bounded) || bounded <= c.markDelete) return await this.settle(t, c)
    await this.mutation(t, c, { kind: RecordKind.ackCumulative, topicId: t.id, sub: c.sub, upTo: bounded }, () => c.ackCumulative(bounded))
  }

  async cursorRewind (t: TopicState, c: CursorState, markDelete: EntryId): Promise<EntryId> { return await rewindCursor(this.ctx, t, c, markDelete) }

  async cursorDeliveries (t: TopicState, c: CursorState, ids: readonly EntryId[]): Promise<void> {
    const valid = idsWithin(ids, c.markDelete, t.index.next)
    // One record per batch, O(1) when delivery is in order: the new watermark, what was handed out again, what was skipped.
    const h = valid.length === 0 ? undefined : c.planHandOut(valid)
    if (h === undefined) return await this.settle(t, c)
    await this.mutation(t, c, { kind: RecordKind.handedOut, topicId: t.id, sub: c.sub, upTo: h.upTo, again: h.again, skipped: h.skipped }, () => c.applyHandOut(h))
  }
}

const within = (id: EntryId, after: EntryId, before: EntryId): boolean => Number.isInteger(id) && id > after && id < before

/** The ids that are integers in (after, before): `ids` itself when all are (nearly always), else a filtered copy. */
function idsWithin (ids: readonly EntryId[], after: EntryId, before: EntryId): readonly EntryId[] {
  for (let i = 0; i < ids.length; i++) {
    if (!within(ids[i] as EntryId, after, before)) return ids.filter((id) => within(id, after, before))
  }
  return ids
}

function startPosition (t: TopicState, opts: CursorOptions): EntryId {
  switch (opts.start.kind) {
    case 'latest': return t.index.next - 1
    case 'earliest': return t.index.first - 1
    case 'afterLsn': return t.index.lastAtOrBelowLsn(opts.start.lsn)
  }
}
