/**
 * A Map for the common case of one entry: the first entry lives in two
 * fields, a real Map exists only from the second on. A topic's cursors are
 * usually one (the one subscription spanning a million topics), and an
 * empty-ish Map's hash table costs ~260 B per topic (docs/BENCHMARKS.md,
 * million topics).
 */
export class SmallMap<K, V> {
  private oneKey: K | undefined
  private oneValue: V | undefined
  private hasOne = false
  private many: Map<K, V> | undefined

  get size (): number { return this.many !== undefined ? this.many.size : this.hasOne ? 1 : 0 }

  get (key: K): V | undefined {
    if (this.many !== undefined) return this.many.get(key)
    return this.hasOne && this.oneKey === key ? this.oneValue : undefined
  }

  has (key: K): boolean {
    if (this.many !== undefined) return this.many.has(key)
    return this.hasOne && this.oneKey === key
  }

  set (key: K, value: V): this {
    if (this.many !== undefined) { this.many.set(key, value); return this }
    if (!this.hasOne || this.oneKey === key) {
      this.oneKey = key
      this.oneValue = value
      this.hasOne = true
      return this
    }
    this.many = new Map([[this.oneKey as K, this.oneValue as V], [key, value]])
    this.oneKey = undefined
    this.oneValue = undefined
    this.hasOne = false
    return this
  }

  delete (key: K): boolean {
    if (this.many !== undefined) return this.many.delete(key)
    if (!this.hasOne || this.oneKey !== key) return false
    this.oneKey = undefined
    this.oneValue = undefined
    this.hasOne = false
    return true
  }

  * values (): IterableIterator<V> {
    if (this.many !== undefined) { yield * this.many.values(); return }
    if (this.hasOne) yield this.oneValue as V
  }

  * entries (): IterableIterator<[K, V]> {
    if (this.many !== undefined) { yield * this.many.entries(); return }
    if (this.hasOne) yield [this.oneKey as K, this.oneValue as V]
  }
}
