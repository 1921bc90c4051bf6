/**
 * Everything the ledger keeps in memory about one topic, in one object: a
 * million idle topics cost a million of these (docs/BENCHMARKS.md, million
 * topics), so the topic is its own entry index (it extends EntryIndex;
 * `index` is the topic itself), and the parts most topics never need
 * (producer dedup, delayed index, cancellations, the entries of a
 * memory-backed topic) live in one TopicExtras object made on first use.
 * An idle topic with one entry and no cursor: one object of 12 fields
 * (120 bytes) and its name.
 */
import { EntryIndex } from './entry-index.js'
import type { SmallMap } from './small-map.js'
import type { CursorState } from './cursor-state.js'
import type { DelayedIndex } from './delayed-index.js'
import type { ProducerDedup } from './dedup.js'
import type { Durability, LedgerEntry, TopicName } from './types.js'

/** The optional parts of a topic, null until first needed. */
class TopicExtras {
  dedup: ProducerDedup | null = null
  delayed: DelayedIndex | null = null
  cancelled: Set<number> | null = null
  /** Memory-backed topics keep their entries here: mem[i] is entry index.first + i. */
  mem: LedgerEntry[] | null = null
}

export class TopicState extends EntryIndex {
  /** Entries below this id are durable per the topic's mode and visible to readers and listeners. */
  committedNext = 0
  cursors: SmallMap<string, CursorState> | null = null
  private extras: TopicExtras | null = null

  constructor (readonly name: TopicName, readonly id: number, readonly durability: Durability, memBacked: boolean) {
    super()
    if (memBacked) this.mem = []
  }

  /** The topic's entry index: the topic itself (one object per topic instead of two). */
  get index (): EntryIndex { return this }

  private get more (): TopicExtras { return (this.extras ??= new TopicExtras()) }
  get dedup (): ProducerDedup | null { return this.extras?.dedup ?? null }
  set dedup (v: ProducerDedup | null) { if (v !== null || this.extras !== null) this.more.dedup = v }
  get delayed (): DelayedIndex | null { return this.extras?.delayed ?? null }
  set delayed (v: DelayedIndex | null) { if (v !== null || this.extras !== null) this.more.delayed = v }
  get cancelled (): Set<number> | null { return this.extras?.cancelled ?? null }
  set cancelled (v: Set<number> | null) { if (v !== null || this.extras !== null) this.more.cancelled = v }
  /** Memory-backed topics keep their entries here: mem[i] is entry index.first + i. */
  get mem (): LedgerEntry[] | null { return this.extras?.mem ?? null }
  set mem (v: LedgerEntry[] | null) { if (v !== null || this.extras !== null) this.more.mem = v }

  /** Lowest markDelete + 1 over durable cursors (retention floor), or undefined without durable cursors. */
  durableAckFloor (): number | undefined {
    if (this.cursors === null) return undefined
    let floor: number | undefined
    for (const c of this.cursors.values()) {
      if (!c.durable) continue
      const f = c.markDelete + 1
      if (floor === undefined || f < floor) floor = f
    }
    return floor
  }

  /** True when every cursor (durable or not) has acknowledged entryId; false without cursors. */
  ackedByAll (entryId: number): boolean {
    if (this.cursors === null || this.cursors.size === 0) return false
    for (const c of this.cursors.values()) if (!c.isAcked(entryId)) return false
    return true
  }
}
