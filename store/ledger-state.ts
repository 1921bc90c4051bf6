/**
 * The in-memory state of a ledger: the topic registry (name <-> small id),
 * the metadata KV, and the one door through which log records change them
 * (`applyRecord`, record-apply.ts), used live and by recovery alike.
 */
import { applyRecord } from './record-apply.js'
import type { LogRecord } from './records.js'
import type { ResolvedOptions } from './options.js'
import type { CursorState } from './cursor-state.js'
import type { TopicState } from './topic-state.js'
import { TopicTable } from './topic-table.js'
import { StoreCode, storeError } from './errors.js'
import type { Durability, Lsn, MetaValue, TopicInfo, TopicName } from './types.js'

/** space -> key -> value. */
export type MetaMap = Map<string, Map<string, MetaValue>>

export abstract class LedgerState {
  readonly siteId: string
  /** Topics by name (topic-table.ts: a compact table instead of a Map, for a million topics). */
  topicsByName = new TopicTable()
  nextTopicId = 1
  meta: MetaMap = new Map()
  /** Bumped whenever the in-memory state is rebuilt (cursor handles re-find their state). */
  stateGeneration = 0

  constructor (readonly opts: ResolvedOptions) {
    this.siteId = opts.siteId
  }

  /** Topics by id: the table's own array (setting an element of it is what `topicsByName.set` does too). */
  get topicsById (): Array<TopicState | undefined> { return this.topicsByName.byId }

  /** Whether a topic of this durability keeps its entries in memory. */
  protected abstract memBacked (durability: Durability): boolean

  /** memBacked, for record-apply.ts. */
  keepsInMemory (durability: Durability): boolean { return this.memBacked(durability) }

  /** Forget every piece of in-memory state (before a reopen from disk). */
  protected resetState (): void {
    this.stateGeneration++
    this.topicsByName = new TopicTable()
    this.nextTopicId = 1
    this.meta = new Map()
  }

  /** Apply one record to the in-memory state (record-apply.ts). Used live and by recovery. */
  protected applyRecord (rec: LogRecord, lsn: Lsn, bytes: number, durability?: Durability): void {
    applyRecord(this, rec, lsn, bytes, durability)
  }

  topicState (name: TopicName): TopicState | undefined {
    return this.topicsByName.get(name)
  }

  topicById (id: number): TopicState {
    const t = this.topicsById[id]
    if (t === undefined) throw storeError(StoreCode.STORE_CORRUPT, `record names unknown topic id ${id}`)
    return t
  }

  cursorOf (topicId: number, sub: string): CursorState | undefined {
    return this.topicById(topicId).cursor(sub)
  }

  topicInfo (topic: TopicName): TopicInfo | undefined {
    const t = this.topicsByName.get(topic)
    if (t === undefined || t.committedNext === 0) return undefined
    return {
      topic,
      durability: t.durability,
      firstEntryId: Math.min(t.index.first, t.committedNext),
      nextEntryId: t.committedNext,
      storedBytes: t.index.bytesBetween(t.index.first, t.committedNext)
    }
  }

  * topics (): IterableIterator<TopicName> {
    for (const t of this.topicsByName.values()) if (t.committedNext > 0) yield t.name
  }

  /** After recovery every replayed entry is committed. */
  protected commitAllRecovered (): void {
    for (const t of this.topicsByName.values()) t.committedNext = t.index.next
  }
}
