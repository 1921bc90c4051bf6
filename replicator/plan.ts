/**
 * Which namespaces go to which site: the replication plan, fed by topology/
 * (etcd) or given statically (a single site's config, tests).
 */

export const ReplicationMode = {
  /** Every message of the namespace travels (Pulsar's way). */
  all: 'all',
  /** Only topics some remote subscriber wants (EMQX cluster linking's way); not implemented yet: treated as all. */
  interest: 'interest'
} as const
export type ReplicationMode = typeof ReplicationMode[keyof typeof ReplicationMode]

export interface NamespaceReplication {
  /** Sites the namespace lives at (this site included when it takes part). */
  sites: readonly string[]
  mode: ReplicationMode
}

/** A static route: destinations whose name matches `pattern` are reached through `via`. */
export interface Route {
  pattern: string
  via: string
}

export interface ReplicationPlan {
  /** `tenant/namespace` -> where it replicates. */
  namespaces: ReadonlyMap<string, NamespaceReplication>
  routes: readonly Route[]
}

export interface PlanSource {
  current: () => ReplicationPlan
  /** Called after the plan changed; returns an unsubscribe function. */
  onChange: (listener: () => void) => () => void
}

/** A plan that never changes (standalone sites, tests); `set` replaces it and notifies. */
export function staticPlan (namespaces: Record<string, readonly string[]>, routes: readonly Route[] = []): PlanSource & { set: (namespaces: Record<string, readonly string[]>, routes?: readonly Route[]) => void } {
  const listeners = new Set<() => void>()
  const build = (ns: Record<string, readonly string[]>, r: readonly Route[]): ReplicationPlan => ({
    namespaces: new Map(Object.entries(ns).map(([k, sites]) => [k, { sites, mode: ReplicationMode.all }])),
    routes: r
  })
  let plan = build(namespaces, routes)
  return {
    current: () => plan,
    onChange: (l) => { listeners.add(l); return () => { listeners.delete(l) } },
    set: (ns, r = []) => { plan = build(ns, r); for (const l of listeners) l() }
  }
}

/** `tenant/namespace` of a full topic name, or undefined. */
export function namespaceOf (topic: string): string | undefined {
  const a = topic.indexOf('/')
  if (a <= 0) return undefined
  const b = topic.indexOf('/', a + 1)
  return b <= a + 1 ? undefined : topic.slice(0, b)
}
