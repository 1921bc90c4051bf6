/** A binary min-heap keyed by a number (due times of redeliveries). */
export class MinHeap<T> {
  private readonly keys: number[] = []
  private readonly vals: T[] = []

  get size (): number { return this.keys.length }

  peekKey (): number | undefined { return this.keys[0] }

  push (key: number, val: T): void {
    const k = this.keys
    const v = this.vals
    let i = k.length
    k.push(key); v.push(val)
    while (i > 0) {
      const p = (i - 1) >> 1
      if ((k[p] as number) <= key) break
      k[i] = k[p] as number; v[i] = v[p] as T
      i = p
    }
    k[i] = key; v[i] = val
  }

  pop (): T | undefined {
    const k = this.keys
    const v = this.vals
    if (k.length === 0) return undefined
    const top = v[0]
    const lastK = k.pop() as number
    const lastV = v.pop() as T
    const n = k.length
    if (n > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const c = r < n && (k[r] as number) < (k[l] as number) ? r : l
        if ((k[c] as number) >= lastK) break
        k[i] = k[c] as number; v[i] = v[c] as T
        i = c
      }
      k[i] = lastK; v[i] = lastV
    }
    return top
  }

  clear (): void { this.keys.length = 0; this.vals.length = 0 }
}
