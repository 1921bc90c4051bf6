/**
 * The read-ahead window of one (topic, subscription) for shared and
 * key_shared: one FIFO per priority level, served by smooth weighted round
 * robin (the nginx algorithm). Every non-empty level gets a share of turns
 * proportional to its weight, so higher levels go first but lower levels are
 * never starved; within a level order is the log order.
 */
import { PRIORITY_LEVELS } from '../policy/index.js'
import { Fifo } from './fifo.js'

export class PriorityWindow<T> {
  readonly levels: Array<Fifo<T>> = Array.from({ length: PRIORITY_LEVELS }, () => new Fifo<T>())
  private readonly current = new Array<number>(PRIORITY_LEVELS).fill(0)
  private count = 0

  get size (): number { return this.count }

  push (level: number, item: T): void {
    (this.levels[level] as Fifo<T>).push(item)
    this.count++
  }

  /**
   * Choose the level to serve next among non-empty levels not in `skip`
   * (a bit set), advancing the round robin. -1 when none is left.
   */
  chooseLevel (weights: readonly number[], skip: number): number {
    let total = 0
    let best = -1
    for (let l = PRIORITY_LEVELS - 1; l >= 0; l--) {
      if ((skip & (1 << l)) !== 0 || (this.levels[l] as Fifo<T>).length === 0) continue
      const w = weights[l] ?? 1
      total += w
      this.current[l] = (this.current[l] as number) + w
      // Strictly greater: on a tie the higher level (visited first) wins.
      if (best < 0 || (this.current[l] as number) > (this.current[best] as number)) best = l
    }
    if (best >= 0) this.current[best] = (this.current[best] as number) - total
    return best
  }

  removeAt (level: number, i: number): T | undefined {
    const item = (this.levels[level] as Fifo<T>).removeAt(i)
    if (item !== undefined) this.count--
    return item
  }

  clear (): void {
    for (const l of this.levels) l.clear()
    this.current.fill(0)
    this.count = 0
  }
}
