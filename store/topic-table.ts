/**
 * The ledger's topics, by name and by id, for a million of them: the topics
 * themselves sit in one array indexed by their small id (`byId`), and the
 * name lookup is an open-addressing table of topic ids in an Int32Array
 * (linear probing, at most half full), beside each topic's hash by id. A
 * Map<name, TopicState> cost ~29 B per topic in its hash table (three words
 * per entry and a bucket array, in V8's heap); this table costs ~8-12 B per
 * topic in two typed arrays outside it. The names are not kept twice: a slot
 * holds an id and the name is the topic's own.
 *
 * The part of the Map API the ledger uses: get, set, size, values(), in id
 * order (the order topics were made in, as the Map's insertion order was).
 * Topics are never removed from a ledger, so neither are they from this table.
 *
 * The hash is FNV-1a over the name's UTF-16 code units, computed once per
 * lookup (~25 characters: tens of ns beside a publish's microseconds; V8
 * hashes a fresh key string for a Map too). It is kept per topic, so a probe
 * compares names only on equal hashes and growing (doubling, one synchronous
 * pass, as a Map's own rehash) moves ids without hashing a name again.
 */
import assert from 'node:assert/strict'
import { StoreCode, storeError } from './errors.js'
import type { TopicState } from './topic-state.js'
import type { TopicName } from './types.js'

/** Slots of a new table (a power of two). */
const SLOTS_FIRST = 1024
/** The table doubles before it is fuller than this (linear probing stays short below one half). */
const LOAD_MAX = 0.5

function hashOf (name: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193)
  return h // a signed 32-bit integer, as the Int32Array of hashes holds it
}

export class TopicTable {
  /** Topics by id (ids are small and dense: the array is the id registry; undefined where none). */
  readonly byId: Array<TopicState | undefined> = []
  /** Open addressing: 0 is an empty slot, otherwise a topic id (ids start at 1). */
  private slots = new Int32Array(SLOTS_FIRST)
  /** Each topic's name hash, by id. */
  private hashes = new Int32Array(SLOTS_FIRST)
  private count = 0

  get size (): number { return this.count }

  get (name: TopicName): TopicState | undefined {
    const slots = this.slots
    const mask = slots.length - 1
    const h = hashOf(name)
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const id = slots[i] as number
      if (id === 0) return undefined
      if (this.hashes[id] !== h) continue
      const t = this.byId[id] as TopicState
      if (t.name === name) return t
    }
  }

  /** Add topic t under its name (which is `name`); a second topic of a name or an id is refused (E_STORE_CORRUPT: a log naming two). */
  set (name: TopicName, t: TopicState): this {
    assert.equal(t.name, name, 'a topic is filed under its own name')
    if (!(t.id > 0) || !Number.isInteger(t.id) || t.id > 0x7fffffff) assert.fail('a topic id is a positive 31-bit integer')
    if (this.byId[t.id] !== undefined) throw storeError(StoreCode.STORE_CORRUPT, `two topics of id ${t.id}`)
    const h = hashOf(name)
    if ((this.count + 1) > this.slots.length * LOAD_MAX) this.grow()
    if (t.id >= this.hashes.length) {
      let n = this.hashes.length
      while (n <= t.id) n *= 2
      const hashes = new Int32Array(n)
      hashes.set(this.hashes)
      this.hashes = hashes
    }
    // One probe: past every topic of this hash (a second of this name is refused) to the first free slot.
    const slots = this.slots
    const mask = slots.length - 1
    let i = h & mask
    for (let id = slots[i] as number; id !== 0; id = slots[i] as number) {
      if (this.hashes[id] === h && (this.byId[id] as TopicState).name === name) throw storeError(StoreCode.STORE_CORRUPT, `two topics named ${name}`)
      i = (i + 1) & mask
    }
    this.hashes[t.id] = h
    slots[i] = t.id
    this.byId[t.id] = t
    this.count++
    return this
  }

  /** Every topic, in id order; topics added while this runs are visited too (as a Map's iterator does). */
  * values (): IterableIterator<TopicState> {
    const byId = this.byId
    for (let id = 0; id < byId.length; id++) {
      const t = byId[id]
      if (t !== undefined) yield t
    }
  }

  /** File an id (its hash set) in the first free slot from its hash's (growth: no name is here twice). */
  private place (slots: Int32Array, id: number): void {
    const mask = slots.length - 1
    let i = (this.hashes[id] as number) & mask
    while (slots[i] !== 0) i = (i + 1) & mask
    slots[i] = id
  }

  private grow (): void {
    const slots = new Int32Array(this.slots.length * 2)
    const old = this.slots
    for (let i = 0; i < old.length; i++) if (old[i] !== 0) this.place(slots, old[i] as number)
    this.slots = slots
  }
}
