/**
 * The consumers of one subscription and who may receive, per mode:
 * exclusive (the one consumer), failover (the preferred one: lowest
 * consumerPriority, then consumerName, then join order), shared (round robin
 * over those with permits) and key_shared (a consistent-hash ring of
 * ordering keys).
 */
import type { ConsumerImpl } from './consumer.js'
import { KeyRing } from './key-ring.js'
import type { ConsumerChooser } from './stream-host.js'
import { SubscriptionMode } from './types.js'

export class ConsumerSet implements ConsumerChooser {
  readonly list: ConsumerImpl[] = []
  /** exclusive / failover: the consumer receiving. */
  active: ConsumerImpl | undefined
  private sharedNext = 0
  private readonly ring = new KeyRing<ConsumerImpl>()

  constructor (
    private readonly mode: () => SubscriptionMode,
    /** Is there room for one more record (delivered or waiting) under the subscription's bound? */
    private readonly recordRoom: () => boolean
  ) {}

  get size (): number { return this.list.length }

  add (c: ConsumerImpl): void { this.list.push(c) }

  remove (c: ConsumerImpl): void {
    const i = this.list.indexOf(c)
    if (i >= 0) this.list.splice(i, 1)
  }

  takeAll (): ConsumerImpl[] { return this.list.splice(0) }

  /**
   * Recompute who receives after a join or leave (failover: the active
   * consumer; key_shared: the ring). Returns the previous active consumer
   * when it changed, else undefined.
   */
  membershipChanged (): { changed: boolean, prev: ConsumerImpl | undefined } {
    const mode = this.mode()
    if (mode === SubscriptionMode.key_shared) {
      // Ring points come from the consumer name (and its rank among same-named consumers), not the
      // per-process consumer id: a consumer that reconnects, even after a restart, gets its keys back.
      const seen = new Map<string, number>()
      this.ring.rebuild(this.list.map((c) => {
        const rank = seen.get(c.name) ?? 0
        seen.set(c.name, rank + 1)
        return { member: c, id: `${c.name}\u0000${rank}` }
      }))
    }
    if (mode !== SubscriptionMode.exclusive && mode !== SubscriptionMode.failover) return { changed: false, prev: undefined }
    const next = mode === SubscriptionMode.exclusive ? this.list[0] : preferred(this.list)
    const prev = this.active
    if (next === prev) return { changed: false, prev: undefined }
    this.active = next
    return { changed: true, prev }
  }

  canTake (c: ConsumerImpl, fresh: boolean): boolean {
    return !c.closed && c.permits > 0 && (!fresh || this.recordRoom())
  }

  nextShared (fresh = true): ConsumerImpl | undefined {
    const n = this.list.length
    for (let k = 0; k < n; k++) {
      const c = this.list[(this.sharedNext + k) % n] as ConsumerImpl
      if (this.canTake(c, fresh)) { this.sharedNext = (this.sharedNext + k) % n; return c }
    }
    return undefined
  }

  sharedUsed (c: ConsumerImpl): void {
    const i = this.list.indexOf(c)
    this.sharedNext = i < 0 ? 0 : (i + 1) % Math.max(1, this.list.length)
  }

  ringOwner (key: string): ConsumerImpl | undefined { return this.ring.ownerOf(key) }
}

/** failover: lowest consumerPriority, then consumerName, then the earliest attached. */
function preferred (cs: readonly ConsumerImpl[]): ConsumerImpl | undefined {
  let best: ConsumerImpl | undefined
  for (const c of cs) {
    if (best === undefined || c.priority < best.priority || (c.priority === best.priority && (c.name < best.name || (c.name === best.name && c.id < best.id)))) best = c
  }
  return best
}
