/**
 * Everything the ledger keeps in memory about one topic, in one object: a
 * million idle topics cost a million of these (docs/BENCHMARKS.md, million
 * topics), so the topic is its own entry index (it extends EntryIndex;
 * `index` is the topic itself), and the parts most topics never need
 * (producer dedup, delayed index, cancellations, the entries of a
 * memory-backed topic) live in one TopicExtras object made on first use,
 * and a single cursor is held inline (a Map only from the second on).
 * An idle topic with one entry and no cursor: one object of 11 fields
 * (112 bytes; the id and the durability share one small integer) and its name.
 */
import assert from 'node:assert/strict'
import { EntryIndex } from './entry-index.js'
import type { CursorState } from './cursor-state.js'
import type { DelayedIndex } from './delayed-index.js'
import type { ProducerDedup } from './dedup.js'
import { Durability, type LedgerEntry, type TopicName } from './types.js'

/** The durabilities by their code in TopicState.idMode (the low 2 bits). */
const DURABILITY_BY_CODE: readonly Durability[] = [Durability.sync, Durability.async, Durability.memory]
/** Ids below this fit beside the code in a small integer (V8 keeps the field unboxed: 31 bits). */
const TOPIC_ID_CEILING = 2 ** 29

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
  /** The topic's cursors: one inline (most topics have one: a container per topic cost 48 B), a Map from the second on. */
  private cursorSlot: CursorState | Map<string, CursorState> | null = null
  private extras: TopicExtras | null = null

  /** id * 4 + the durability's code: one field instead of two (a million topics: 8 MB). */
  private readonly idMode: number

  constructor (readonly name: TopicName, id: number, durability: Durability, memBacked: boolean) {
    super()
    if (!Number.isInteger(id) || id < 0 || id >= TOPIC_ID_CEILING) assert.fail(`a topic id is an integer in [0, ${TOPIC_ID_CEILING})`)
    const code = DURABILITY_BY_CODE.indexOf(durability)
    if (code < 0) assert.fail(`unknown durability ${String(durability)}`)
    this.idMode = id * 4 + code
    if (memBacked) this.mem = []
  }

  get id (): number { return this.idMode >> 2 }
  get durability (): Durability { return DURABILITY_BY_CODE[this.idMode & 3] as Durability }

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

  // ---- cursors ----------------------------------------------------------------------------

  cursor (sub: string): CursorState | undefined {
    const s = this.cursorSlot
    if (s === null) return undefined
    if (s instanceof Map) return s.get(sub)
    return s.sub === sub ? s : undefined
  }

  get cursorCount (): number {
    const s = this.cursorSlot
    return s === null ? 0 : s instanceof Map ? s.size : 1
  }

  /** Every cursor, as a new array (callers may change the cursors while they walk it). */
  cursorList (): CursorState[] {
    const s = this.cursorSlot
    return s === null ? [] : s instanceof Map ? [...s.values()] : [s]
  }

  /** Add c, or replace the cursor of the same name. */
  putCursor (c: CursorState): void {
    const s = this.cursorSlot
    if (s === null || (!(s instanceof Map) && s.sub === c.sub)) { this.cursorSlot = c; return }
    if (s instanceof Map) { s.set(c.sub, c); return }
    this.cursorSlot = new Map([[s.sub, s], [c.sub, c]])
  }

  removeCursor (sub: string): void {
    const s = this.cursorSlot
    if (s === null) return
    if (!(s instanceof Map)) { if (s.sub === sub) this.cursorSlot = null; return }
    s.delete(sub)
    if (s.size === 1) this.cursorSlot = s.values().next().value as CursorState
    else if (s.size === 0) this.cursorSlot = null
  }

  /** Lowest markDelete + 1 over durable cursors (retention floor), or undefined without durable cursors. */
  durableAckFloor (): number | undefined {
    const s = this.cursorSlot
    if (s === null) return undefined
    if (!(s instanceof Map)) return s.durable ? s.markDelete + 1 : undefined
    let floor: number | undefined
    for (const c of s.values()) {
      if (!c.durable) continue
      const f = c.markDelete + 1
      if (floor === undefined || f < floor) floor = f
    }
    return floor
  }

  /** True when every cursor (durable or not) has acknowledged entryId; false without cursors. */
  ackedByAll (entryId: number): boolean {
    const s = this.cursorSlot
    if (s === null) return false
    if (!(s instanceof Map)) return s.isAcked(entryId)
    if (s.size === 0) return false
    for (const c of s.values()) if (!c.isAcked(entryId)) return false
    return true
  }
}
