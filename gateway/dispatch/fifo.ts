/** An array-backed FIFO with O(1) amortised push/shift and removal by index (for key_shared scans). */
export class Fifo<T> {
  private items: Array<T | undefined> = []
  private head = 0

  get length (): number { return this.items.length - this.head }

  push (item: T): void { this.items.push(item) }

  peek (): T | undefined { return this.items[this.head] }

  at (i: number): T | undefined { return this.items[this.head + i] }

  shift (): T | undefined {
    if (this.head >= this.items.length) return undefined
    const item = this.items[this.head]
    this.items[this.head] = undefined
    this.head++
    // Compact once the dead prefix is at least half the array, keeping shift amortised O(1).
    if (this.head > 64 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }

  removeAt (i: number): T | undefined {
    if (i === 0) return this.shift()
    const [item] = this.items.splice(this.head + i, 1)
    return item
  }

  clear (): void { this.items = []; this.head = 0 }

  * [Symbol.iterator] (): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T
  }
}
