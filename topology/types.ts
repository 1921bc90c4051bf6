/** What the topology holds, as typed records (values of the keys in keys.ts). */
import type { NamespacePolicyPatch } from '../gateway/index.js'
import type { NamespaceReplication, Route } from '../replicator/index.js'

export interface SiteRecord {
  id: string
  region: string
  /** nats://... of the region's server. */
  nats?: string
  /** Client endpoints (mqtt, mqtts, ws, http, https URLs) for steering clients. */
  endpoints: Record<string, string>
  /** Lower is preferred when clients are steered to another site. */
  preference: number
}

export interface NamespaceRecord {
  /** tenant/namespace */
  name: string
  policy: NamespacePolicyPatch
  replication: NamespaceReplication
}

export interface Topology {
  revision: number
  sites: Map<string, SiteRecord>
  alive: Set<string>
  namespaces: Map<string, NamespaceRecord>
  routes: Route[]
  /** Active-passive namespaces: their primary, the key's mod revision (the fencing token) and the primary before it. */
  primaries: Map<string, PrimaryRecord>
  /** Active-passive handovers: what the previous primary wrote once it stopped writing (catch-up.ts). */
  handovers: Map<string, HandoverRecord>
  /** Interest mode: site -> namespace -> subscription filters there. */
  interest: Map<string, Record<string, string[]>>
}

export interface PrimaryRecord {
  site: string
  /** The key's mod revision: the fencing token of the move that made `site` primary. */
  revision: number
  /** The primary before this one (written by the move): the site the new primary catches up with. */
  previous?: string
}

/** `/handovers/{tenant}/{ns}`: the previous primary `from` stopped writing the namespace at its log position `logEndLsn`, for the move at `revision`. */
export interface HandoverRecord { from: string, revision: number, logEndLsn: number }

export function emptyTopology (): Topology {
  return { revision: 0, sites: new Map(), alive: new Set(), namespaces: new Map(), routes: [], primaries: new Map(), handovers: new Map(), interest: new Map() }
}

/** Routes in matching order: exact names first, then longer patterns before shorter ones. */
export function sortRoutes (routes: Route[]): Route[] {
  const wild = (p: string): boolean => p.includes('*') || p.includes('?')
  return routes.slice().sort((a, b) => Number(wild(a.pattern)) - Number(wild(b.pattern)) || b.pattern.length - a.pattern.length || (a.pattern < b.pattern ? -1 : 1))
}
