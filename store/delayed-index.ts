/**
 * Delayed-delivery index of one topic: entries whose deliverAt is after their
 * publish time, queried by deliverAt.
 *
 * Bucketed by DELAYED_BUCKET_MS; each bucket holds two parallel Float64Arrays
 * (deliverAt, entryId), sorted lazily when first queried after a change. No
 * JS object per entry. Kept in checkpoints so a restart does not replay the topic.
 */
import assert from 'node:assert/strict'
import { DELAYED_BUCKET_MS } from './constants.js'
import type { DelayedRef } from './types.js'

class Bucket {
  at = new Float64Array(4)
  ids = new Float64Array(4)
  n = 0
  sorted = true

  add (deliverAt: number, entryId: number): void {
    if (this.n === this.at.length) {
      const at = new Float64Array(this.n * 2); at.set(this.at); this.at = at
      const ids = new Float64Array(this.n * 2); ids.set(this.ids); this.ids = ids
    }
    if (this.n > 0) {
      const lastAt = this.at[this.n - 1] as number
      if (deliverAt < lastAt || (deliverAt === lastAt && entryId < (this.ids[this.n - 1] as number))) this.sorted = false
    }
    this.at[this.n] = deliverAt
    this.ids[this.n] = entryId
    this.n++
  }

  sort (): void {
    if (this.sorted) return
    const order = Array.from({ length: this.n }, (_, i) => i)
    order.sort((a, b) => ((this.at[a] as number) - (this.at[b] as number)) || ((this.ids[a] as number) - (this.ids[b] as number)))
    const at = new Float64Array(this.at.length)
    const ids = new Float64Array(this.ids.length)
    order.forEach((from, to) => { at[to] = this.at[from] as number; ids[to] = this.ids[from] as number })
    this.at = at
    this.ids = ids
    this.sorted = true
  }

  /** Keep only entries for which keep() is true. */
  filter (keep: (entryId: number) => boolean): void {
    let w = 0
    for (let r = 0; r < this.n; r++) {
      const id = this.ids[r] as number
      if (keep(id)) { this.at[w] = this.at[r] as number; this.ids[w] = id; w++ }
    }
    this.n = w
  }
}

export type DelayedSnapshot = [Float64Array, Float64Array]

export class DelayedIndex {
  private readonly buckets = new Map<number, Bucket>()
  /** Bucket keys, ascending. */
  private keys: number[] = []
  size = 0

  add (entryId: number, deliverAt: number): void {
    const key = Math.floor(deliverAt / DELAYED_BUCKET_MS)
    let b = this.buckets.get(key)
    if (b === undefined) {
      b = new Bucket()
      this.buckets.set(key, b)
      let i = this.keys.length
      while (i > 0 && (this.keys[i - 1] as number) > key) i--
      this.keys.splice(i, 0, key)
    }
    b.add(deliverAt, entryId)
    this.size++
  }

  remove (entryId: number, deliverAt: number): void {
    const key = Math.floor(deliverAt / DELAYED_BUCKET_MS)
    const b = this.buckets.get(key)
    if (b === undefined) return
    const before = b.n
    b.filter((id) => id !== entryId)
    this.size -= before - b.n
    if (b.n === 0) this.dropBucket(key)
  }

  private dropBucket (key: number): void {
    this.buckets.delete(key)
    const i = this.keys.indexOf(key)
    if (i >= 0) this.keys.splice(i, 1)
  }

  /** Entries with afterMs < deliverAt <= upToMs, ascending by (deliverAt, entryId). */
  between (afterMs: number, upToMs: number, maxEntries: number, skip: (entryId: number) => boolean): DelayedRef[] {
    const out: DelayedRef[] = []
    const firstKey = Math.floor(afterMs / DELAYED_BUCKET_MS)
    for (const key of this.keys) {
      if (out.length >= maxEntries) break
      if (key < firstKey) continue
      if (key * DELAYED_BUCKET_MS > upToMs) break
      const b = this.buckets.get(key) as Bucket
      b.sort()
      for (let i = 0; i < b.n && out.length < maxEntries; i++) {
        const at = b.at[i] as number
        if (at <= afterMs) continue
        if (at > upToMs) break
        const id = b.ids[i] as number
        if (!skip(id)) out.push({ entryId: id, deliverAt: at })
      }
    }
    return out
  }

  nextAfter (afterMs: number, skip: (entryId: number) => boolean): number | undefined {
    const firstKey = Math.floor(afterMs / DELAYED_BUCKET_MS)
    for (const key of this.keys) {
      if (key < firstKey) continue
      const b = this.buckets.get(key) as Bucket
      b.sort()
      for (let i = 0; i < b.n; i++) {
        const at = b.at[i] as number
        if (at > afterMs && !skip(b.ids[i] as number)) return at
      }
    }
    return undefined
  }

  /** Drop entries for which drop() is true (acknowledged by all cursors, trimmed, cancelled). */
  prune (drop: (entryId: number) => boolean): void {
    for (const key of this.keys.slice()) {
      const b = this.buckets.get(key) as Bucket
      const before = b.n
      b.filter((id) => !drop(id))
      this.size -= before - b.n
      if (b.n === 0) this.dropBucket(key)
    }
    assert.ok(this.size >= 0, 'delayed size never negative')
  }

  snapshot (): DelayedSnapshot {
    const at = new Float64Array(this.size)
    const ids = new Float64Array(this.size)
    let w = 0
    for (const key of this.keys) {
      const b = this.buckets.get(key) as Bucket
      for (let i = 0; i < b.n; i++) { at[w] = b.at[i] as number; ids[w] = b.ids[i] as number; w++ }
    }
    return [at, ids]
  }

  static fromSnapshot ([at, ids]: DelayedSnapshot): DelayedIndex {
    const d = new DelayedIndex()
    for (let i = 0; i < at.length; i++) d.add(ids[i] as number, at[i] as number)
    return d
  }
}
