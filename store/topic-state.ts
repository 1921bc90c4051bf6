/**
 * Everything the ledger keeps in memory about one topic. Optional parts are
 * null until first needed: an idle topic with one entry costs a few hundred
 * bytes (see docs/BENCHMARKS.md).
 */
import { EntryIndex } from './entry-index.js'
import type { SmallMap } from './small-map.js'
import type { CursorState } from './cursor-state.js'
import type { DelayedIndex } from './delayed-index.js'
import type { ProducerDedup } from './dedup.js'
import type { Durability, LedgerEntry, TopicName } from './types.js'

export class TopicState {
  index = new EntryIndex()
  /** Entries below this id are durable per the topic's mode and visible to readers and listeners. */
  committedNext = 0
  dedup: ProducerDedup | null = null
  delayed: DelayedIndex | null = null
  cancelled: Set<number> | null = null
  cursors: SmallMap<string, CursorState> | null = null
  /** Memory-backed topics keep their entries here: mem[i] is entry index.first + i. */
  mem: LedgerEntry[] | null

  constructor (readonly name: TopicName, readonly id: number, readonly durability: Durability, memBacked: boolean) {
    this.mem = memBacked ? [] : null
  }

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
