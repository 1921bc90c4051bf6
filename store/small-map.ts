/**
 * A Map for the common case of one entry: the first entry lives in two
 * fields, a real Map exists only from the second on. A topic's cursors are
 * usually one (the one subscription spanning a million topics), and an
 * empty-ish Map's hash table costs ~260 B per topic (docs/BENCHMARKS.md,
 * million topics). Values are never undefined (an undefined `oneValue`
 * means "no inline entry": no third field for it).
 */
export class SmallMap<K, V extends NonNullable<unknown>> {
  private oneKey: K | undefined
  private oneValue: V | undefined
  private many: Map<K, V> | undefined

  get size (): number { return this.many !== undefined ? this.many.size : this.oneValue !== undefined ? 1 : 0 }

  get (key: K): V | undefined {
    if (this.many !== undefined) return this.many.get(key)
    return this.oneValue !== undefined && this.oneKey === key ? this.oneValue : undefined
  }

  has (key: K): boolean {
    if (this.many !== undefined) return this.many.has(key)
    return this.oneValue !== undefined && this.oneKey === key
  }

  set (key: K, value: V): this {
    if (this.many !== undefined) { this.many.set(key, value); return this }
    if (this.oneValue === undefined || this.oneKey === key) {
      this.oneKey = key
      this.oneValue = value
      return this
    }
    this.many = new Map([[this.oneKey as K, this.oneValue], [key, value]])
    this.oneKey = undefined
    this.oneValue = undefined
    return this
  }

  delete (key: K): boolean {
    if (this.many !== undefined) return this.many.delete(key)
    if (this.oneValue === undefined || this.oneKey !== key) return false
    this.oneKey = undefined
    this.oneValue = undefined
    return true
  }

  * values (): IterableIterator<V> {
    if (this.many !== undefined) { yield * this.many.values(); return }
    if (this.oneValue !== undefined) yield this.oneValue
  }

  * entries (): IterableIterator<[K, V]> {
    if (this.many !== undefined) { yield * this.many.entries(); return }
    if (this.oneValue !== undefined) yield [this.oneKey as K, this.oneValue]
  }
}
