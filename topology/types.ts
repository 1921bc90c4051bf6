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
  /** Active-passive namespaces: their primary and the key's mod revision (the fencing token). */
  primaries: Map<string, { site: string, revision: number }>
  /** Interest mode: site -> namespace -> subscription filters there. */
  interest: Map<string, Record<string, string[]>>
}

export function emptyTopology (): Topology {
  return { revision: 0, sites: new Map(), alive: new Set(), namespaces: new Map(), routes: [], primaries: new Map(), interest: new Map() }
}

/** Routes in matching order: exact names first, then longer patterns before shorter ones. */
export function sortRoutes (routes: Route[]): Route[] {
  const wild = (p: string): boolean => p.includes('*') || p.includes('?')
  return routes.slice().sort((a, b) => Number(wild(a.pattern)) - Number(wild(b.pattern)) || b.pattern.length - a.pattern.length || (a.pattern < b.pattern ? -1 : 1))
}
