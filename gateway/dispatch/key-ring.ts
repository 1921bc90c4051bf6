/**
 * key_shared consumer selection: a consistent-hash ring. Each consumer owns
 * KEY_SHARED_RING_POINTS_PER_CONSUMER points; an ordering key goes to the
 * consumer owning the first point at or after the key's hash. When a consumer
 * joins or leaves only the key ranges next to its points move, so most keys
 * stay where they were (Pulsar's auto-split hash ranges behave the same way).
 */
import { KEY_SHARED_RING_POINTS_PER_CONSUMER } from './constants.js'

/** FNV-1a, 32 bits: fast, well spread for short keys, stable across processes. */
export function hashKey (key: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  // A final avalanche (murmur3 fmix32) so similar keys land far apart on the ring.
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

export class KeyRing<C> {
  private points: Uint32Array = new Uint32Array(0)
  private owners: C[] = []

  /** Rebuild from the members; `id` must be stable for a member's life (name + consumer id). */
  rebuild (members: ReadonlyArray<{ member: C, id: string }>): void {
    const all: Array<[number, C, string]> = []
    for (const { member, id } of members) {
      for (let i = 0; i < KEY_SHARED_RING_POINTS_PER_CONSUMER; i++) all.push([hashKey(`${id}#${i}`), member, id])
    }
    // Ties broken by id so the ring is the same whatever the join order.
    all.sort((a, b) => (a[0] - b[0]) || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0))
    this.points = Uint32Array.from(all.map((p) => p[0]))
    this.owners = all.map((p) => p[1])
  }

  get empty (): boolean { return this.owners.length === 0 }

  ownerOf (key: string): C | undefined {
    const n = this.points.length
    if (n === 0) return undefined
    const h = hashKey(key)
    let lo = 0
    let hi = n
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.points[mid] as number) < h) lo = mid + 1
      else hi = mid
    }
    return this.owners[lo === n ? 0 : lo]
  }
}
