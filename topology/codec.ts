/** JSON values of the layout, checked on the way in (etcd is shared: a bad value must not crash a gateway). */
import { FerryError } from '../common/errors.js'
import { validatePolicyPatch } from '../gateway/index.js'
import { ReplicationMode, type Route } from '../replicator/index.js'
import { TopologyCode } from './errors.js'
import { TOPOLOGY_VALUE_BYTES_MAX } from './constants.js'
import type { HandoverRecord, NamespaceRecord, SiteRecord } from './types.js'

const SITE_ID = /^[A-Za-z0-9_.-]{1,64}$/

function bad (what: string, why: string): FerryError {
  return new FerryError(TopologyCode.BAD_VALUE, `${what}: ${why}`)
}

function obj (raw: string, what: string): Record<string, unknown> {
  if (raw.length > TOPOLOGY_VALUE_BYTES_MAX) throw bad(what, `larger than ${TOPOLOGY_VALUE_BYTES_MAX} bytes`)
  let v: unknown
  try { v = JSON.parse(raw) } catch { throw bad(what, 'not JSON') }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad(what, 'not a JSON object')
  return v as Record<string, unknown>
}

export function checkSiteName (id: string): string {
  if (!SITE_ID.test(id)) throw new FerryError(TopologyCode.INVALID, `site id '${id}' must be 1..64 characters of A-Z a-z 0-9 _ . -`)
  return id
}

export function parseSite (id: string, raw: string): SiteRecord {
  const o = obj(raw, `site ${id}`)
  const endpoints: Record<string, string> = {}
  if (o.endpoints !== undefined) {
    if (o.endpoints === null || typeof o.endpoints !== 'object') throw bad(`site ${id}`, 'endpoints must be an object')
    for (const [k, v] of Object.entries(o.endpoints as Record<string, unknown>)) if (typeof v === 'string') endpoints[k] = v
  }
  return {
    id,
    region: typeof o.region === 'string' ? o.region : id,
    ...(typeof o.nats === 'string' ? { nats: o.nats } : {}),
    endpoints,
    preference: typeof o.preference === 'number' ? o.preference : 100
  }
}

export function encodeSite (s: SiteRecord): string {
  return JSON.stringify({ region: s.region, nats: s.nats, endpoints: s.endpoints, preference: s.preference })
}

export function parseNamespace (name: string, raw: string): NamespaceRecord {
  const o = obj(raw, `namespace ${name}`)
  const policy = validatePolicyPatch(o.policy ?? {})
  const r = (o.replication ?? {}) as Record<string, unknown>
  const sites = Array.isArray(r.sites) ? r.sites.filter((s): s is string => typeof s === 'string' && SITE_ID.test(s)) : []
  const mode = r.mode === ReplicationMode.interest ? ReplicationMode.interest : ReplicationMode.all
  return { name, policy, replication: { sites, mode } }
}

export function encodeNamespace (n: NamespaceRecord): string {
  return JSON.stringify({ policy: n.policy, replication: n.replication })
}

export function parseRoute (pattern: string, raw: string): Route {
  const o = obj(raw, `route ${pattern}`)
  if (typeof o.via !== 'string' || !SITE_ID.test(o.via)) throw bad(`route ${pattern}`, 'via must be a site id')
  return { pattern, via: o.via }
}

export function checkRoutePattern (p: string): string {
  if (!/^[A-Za-z0-9_.\-*?]{1,64}$/.test(p)) throw new FerryError(TopologyCode.INVALID, `route pattern '${p}' may hold A-Z a-z 0-9 _ . - and the wildcards * ?`)
  const star = p.indexOf('*')
  if (star >= 0 && star !== p.length - 1) throw new FerryError(TopologyCode.INVALID, `route pattern '${p}': * stands for the rest of the name and must be last`)
  return p
}

export function parsePrimary (namespace: string, raw: string): { site: string, previous?: string } {
  const o = obj(raw, `primary of ${namespace}`)
  if (typeof o.site !== 'string' || !SITE_ID.test(o.site)) throw bad(`primary of ${namespace}`, 'site must be a site id')
  const previous = typeof o.previous === 'string' && SITE_ID.test(o.previous) ? o.previous : undefined
  return { site: o.site, ...(previous !== undefined ? { previous } : {}) }
}

export function encodePrimary (site: string, previous: string | undefined): string {
  return JSON.stringify(previous !== undefined && previous !== site ? { site, previous } : { site })
}

export function parseHandover (namespace: string, raw: string): HandoverRecord {
  const o = obj(raw, `handover of ${namespace}`)
  if (typeof o.from !== 'string' || !SITE_ID.test(o.from)) throw bad(`handover of ${namespace}`, 'from must be a site id')
  if (typeof o.revision !== 'number' || typeof o.logEndLsn !== 'number') throw bad(`handover of ${namespace}`, 'revision and logEndLsn must be numbers')
  return { from: o.from, revision: o.revision, logEndLsn: o.logEndLsn }
}

export function parseInterest (site: string, raw: string): Record<string, string[]> {
  const o = obj(raw, `interest of ${site}`)
  const f = o.filters
  const out: Record<string, string[]> = {}
  if (f === null || typeof f !== 'object' || Array.isArray(f)) return out
  for (const [ns, list] of Object.entries(f as Record<string, unknown>)) {
    if (Array.isArray(list)) out[ns] = list.filter((x): x is string => typeof x === 'string')
  }
  return out
}
