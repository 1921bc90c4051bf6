/**
 * The Cursor object handed to callers: a thin view over CursorState that
 * routes every mutation through the ledger (so it is logged and durable).
 */
import type { CursorState } from './cursor-state.js'
import type { TopicState } from './topic-state.js'
import type { Cursor, EntryId, TopicName } from './types.js'

/** What a cursor needs from its ledger. */
export interface CursorHost {
  cursorAck: (t: TopicState, c: CursorState, ids: readonly EntryId[]) => Promise<void>
  cursorAckCumulative: (t: TopicState, c: CursorState, upTo: EntryId) => Promise<void>
  cursorDeliveries: (t: TopicState, c: CursorState, ids: readonly EntryId[]) => Promise<void>
}

export class CursorHandle implements Cursor {
  constructor (private readonly host: CursorHost, private readonly t: TopicState, readonly state: CursorState) {}

  get topic (): TopicName { return this.t.name }
  get subscription (): string { return this.state.sub }
  get durable (): boolean { return this.state.durable }
  markDelete (): EntryId { return this.state.markDelete }
  isAcked (entryId: EntryId): boolean { return this.state.isAcked(entryId) }
  ackedRanges (): ReadonlyArray<readonly [EntryId, EntryId]> { return this.state.rangePairs() }
  async ack (entryIds: readonly EntryId[]): Promise<void> { await this.host.cursorAck(this.t, this.state, entryIds) }
  async ackCumulative (upTo: EntryId): Promise<void> { await this.host.cursorAckCumulative(this.t, this.state, upTo) }
  deliveryCount (entryId: EntryId): number { return this.state.deliveryCount(entryId) }
  async recordDeliveries (entryIds: readonly EntryId[]): Promise<void> { await this.host.cursorDeliveries(this.t, this.state, entryIds) }
  backlogEntries (): number { return this.state.backlog(this.t.index.first, this.t.committedNext) }
}
