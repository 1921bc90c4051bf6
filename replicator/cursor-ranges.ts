/**
 * Sets of entry ids as flat ascending arrays of inclusive, disjoint ranges
 * [s0, e0, s1, e1, ...] (the cursor's own representation): what replicated
 * subscriptions exchange (cursor-sync.ts). Pure functions, no state.
 */

export type Ranges = number[]

/** Normalise any list of [s, e] pairs (unsorted, overlapping) into Ranges. */
export function normalise (pairs: readonly number[]): Ranges {
  const list: Array<[number, number]> = []
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const s = pairs[i] as number
    const e = pairs[i + 1] as number
    if (Number.isInteger(s) && Number.isInteger(e) && e >= s) list.push([s, e])
  }
  list.sort((a, b) => a[0] - b[0])
  const out: Ranges = []
  for (const [s, e] of list) {
    const n = out.length
    if (n > 0 && s <= (out[n - 1] as number) + 1) out[n - 1] = Math.max(out[n - 1] as number, e)
    else out.push(s, e)
  }
  return out
}

export function union (a: Ranges, b: Ranges): Ranges {
  if (b.length === 0) return a
  if (a.length === 0) return b
  return normalise([...a, ...b])
}

/** a minus b. */
export function subtract (a: Ranges, b: Ranges): Ranges {
  const out: Ranges = []
  let j = 0
  for (let i = 0; i < a.length; i += 2) {
    let s = a[i] as number
    const e = a[i + 1] as number
    while (j < b.length && (b[j + 1] as number) < s) j += 2
    let k = j
    while (s <= e) {
      if (k >= b.length || (b[k] as number) > e) { out.push(s, e); break }
      const bs = b[k] as number
      const be = b[k + 1] as number
      if (bs > s) out.push(s, bs - 1)
      s = be + 1
      k += 2
    }
  }
  return out
}

/** The parts of [s, e] that lie in r, as Ranges. */
export function intersectInterval (r: Ranges, s: number, e: number): Ranges {
  const out: Ranges = []
  // First range whose end >= s.
  let lo = 0
  let hi = r.length / 2
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((r[mid * 2 + 1] as number) < s) lo = mid + 1
    else hi = mid
  }
  for (let i = lo * 2; i < r.length && (r[i] as number) <= e; i += 2) {
    out.push(Math.max(s, r[i] as number), Math.min(e, r[i + 1] as number))
  }
  return out
}

/** The first `maxRanges` ranges (what is cut is not claimed: at worst redelivered). */
export function firstRanges (r: Ranges, maxRanges: number): Ranges {
  return r.length <= maxRanges * 2 ? r : r.slice(0, maxRanges * 2)
}

/** Pairs as returned by Cursor.ackedRanges(), flattened. */
export function flatPairs (pairs: ReadonlyArray<readonly [number, number]>): Ranges {
  const out: Ranges = []
  for (const [s, e] of pairs) out.push(s, e)
  return out
}

export function isRanges (v: unknown): v is Ranges {
  if (!Array.isArray(v) || v.length % 2 !== 0) return false
  let prev = Number.NEGATIVE_INFINITY
  for (let i = 0; i < v.length; i += 2) {
    const s = v[i] as unknown
    const e = v[i + 1] as unknown
    if (!Number.isSafeInteger(s) || !Number.isSafeInteger(e) || (e as number) < (s as number) || (s as number) <= prev) return false
    prev = e as number
  }
  return true
}

export function sameRanges (a: Ranges, b: Ranges): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
