/**
 * The Cursor object handed to callers: a thin view over CursorState that
 * routes every mutation through the ledger (so it is logged and durable).
 * After the ledger reopens from disk (failed fsync) the handle finds the
 * rebuilt state by name, so callers may keep their handles.
 */
import type { CursorState } from './cursor-state.js'
import type { TopicState } from './topic-state.js'
import type { Cursor, CursorMemory, EntryId, TopicName } from './types.js'

/** What a cursor needs from its ledger. */
export interface CursorHost {
  /** Bumped whenever the in-memory state is rebuilt. */
  readonly stateGeneration: number
  lookupCursor: (topic: TopicName, sub: string) => { t: TopicState, c: CursorState } | undefined
  cursorAck: (t: TopicState, c: CursorState, ids: readonly EntryId[]) => Promise<void>
  cursorAckCumulative: (t: TopicState, c: CursorState, upTo: EntryId) => Promise<void>
  cursorDeliveries: (t: TopicState, c: CursorState, ids: readonly EntryId[]) => Promise<void>
  /** cursor-reset.ts */
  cursorRewind: (t: TopicState, c: CursorState, markDelete: EntryId) => Promise<EntryId>
}

export class CursorHandle implements Cursor {
  private generation: number

  constructor (private readonly host: CursorHost, private t: TopicState, private c: CursorState) {
    this.generation = host.stateGeneration
  }

  /** The live state (re-found after a rebuild; the last known one if the cursor is gone). */
  private live (): { t: TopicState, c: CursorState } {
    if (this.generation !== this.host.stateGeneration) {
      const found = this.host.lookupCursor(this.t.name, this.c.sub)
      if (found !== undefined) { this.t = found.t; this.c = found.c }
      this.generation = this.host.stateGeneration
    }
    return { t: this.t, c: this.c }
  }

  get topic (): TopicName { return this.t.name }
  get subscription (): string { return this.c.sub }
  get durable (): boolean { return this.c.durable }
  markDelete (): EntryId { return this.live().c.markDelete }
  isAcked (entryId: EntryId): boolean { return this.live().c.isAcked(entryId) }
  ackedRanges (): ReadonlyArray<readonly [EntryId, EntryId]> { return this.live().c.rangePairs() }
  async ack (entryIds: readonly EntryId[]): Promise<void> { const { t, c } = this.live(); await this.host.cursorAck(t, c, entryIds) }
  async ackCumulative (upTo: EntryId): Promise<void> { const { t, c } = this.live(); await this.host.cursorAckCumulative(t, c, upTo) }
  deliveryCount (entryId: EntryId): number { return this.live().c.deliveryCount(entryId) }
  async recordDeliveries (entryIds: readonly EntryId[]): Promise<void> { const { t, c } = this.live(); await this.host.cursorDeliveries(t, c, entryIds) }
  async rewindTo (markDelete: EntryId): Promise<EntryId> { const { t, c } = this.live(); return await this.host.cursorRewind(t, c, markDelete) }
  backlogEntries (): number { const { t, c } = this.live(); return c.backlog(t.index.first, t.committedNext) }
  memory (): CursorMemory { return this.live().c.memory() }
}
