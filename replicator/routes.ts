/**
 * Static routes between sites (the transactional middleware's way of
 * reaching non-adjacent nodes through a third one): `pattern` matches
 * destination site names, `*` for the rest of the name and `?` for one
 * character; a site that matches reaches it through `via` instead of
 * directly. The first matching route wins (in the order given).
 *
 * The path from an origin to a destination is followed hop by hop; a path
 * that comes back to a site it passed is a loop, and a route set that
 * makes one is refused when the route is added (`checkRoutes`).
 */
import { FerryError, CommonCode } from '../common/errors.js'
import type { Route } from './plan.js'
import { REPL_VIA_SITES_MAX } from './constants.js'

export function patternMatches (pattern: string, site: string): boolean {
  let i = 0
  for (; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '*') return true // rest of the name
    if (i >= site.length) return false
    if (c !== '?' && c !== site[i]) return false
  }
  return i === site.length
}

/** The next site on the way from `here` to `dest`. */
export function nextHop (routes: readonly Route[], here: string, dest: string): string {
  for (const r of routes) {
    if (r.via === here || r.via === dest) continue // the hub itself ships directly
    if (patternMatches(r.pattern, dest)) return r.via
  }
  return dest
}

/** Sites from origin to dest, both included; throws on a loop. */
export function pathOf (routes: readonly Route[], origin: string, dest: string): string[] {
  const path = [origin]
  let here = origin
  while (here !== dest) {
    const next = nextHop(routes, here, dest)
    if (path.includes(next) || path.length > REPL_VIA_SITES_MAX) {
      throw new FerryError(CommonCode.BAD_REQUEST, `route loop: ${[...path, next].join(' -> ')}`, { details: { path: [...path, next] } })
    }
    path.push(next)
    here = next
  }
  return path
}

/** Refuse a route set that makes a loop between any two of the sites. */
export function checkRoutes (routes: readonly Route[], sites: readonly string[]): void {
  const all = new Set(sites)
  for (const r of routes) all.add(r.via)
  for (const a of all) for (const b of all) if (a !== b) pathOf(routes, a, b)
}

/**
 * The site `here` hands an entry to on its way from `origin` to `dest`, or
 * undefined when `here` is not on that path (or dest already has it).
 */
export function hopFrom (routes: readonly Route[], here: string, origin: string, via: readonly string[], dest: string): string | undefined {
  if (dest === origin || dest === here || via.includes(dest)) return undefined
  let path: string[]
  try { path = pathOf(routes, origin, dest) } catch { return undefined }
  const i = path.indexOf(here)
  return i >= 0 ? path[i + 1] : undefined
}
