/**
 * Which namespaces go to which site: the replication plan, fed by topology/
 * (etcd) or given statically (a single site's config, tests).
 */

export const ReplicationMode = {
  /** Every message of the namespace travels (Pulsar's way). */
  all: 'all',
  /**
   * Only topics some subscription at the destination wants (EMQX cluster
   * linking's way): each site publishes its subscription filters of such
   * namespaces (topology: /interest/{site}); a message travels to a site when
   * its topic matches one of them at the time it is shipped. A subscriber
   * that appears later gets only what is shipped after its filter became
   * known: earlier messages of topics nobody there wanted stay at their origin.
   */
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
  /** Interest mode: site -> namespace -> subscription filters (MQTT syntax, on the local part of topic names). */
  interest?: ReadonlyMap<string, Readonly<Record<string, readonly string[]>>>
}

export interface PlanSource {
  current: () => ReplicationPlan
  /** Called after the plan changed; returns an unsubscribe function. */
  onChange: (listener: () => void) => () => void
}

/** A plan that never changes (standalone sites, tests); `set` replaces it and notifies. */
export function staticPlan (namespaces: Record<string, readonly string[]>, routes: readonly Route[] = []): PlanSource & { set: (namespaces: Record<string, readonly string[]>, routes?: readonly Route[]) => void } {
  // Every namespace of a static plan replicates in mode all.
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

/** MQTT filter match of a topic's local part: `+` one level, `#` the rest (levels split on '/'). */
export function filterMatches (filter: string, local: string): boolean {
  const f = filter.split('/')
  const t = local.split('/')
  // A leading wildcard does not match names starting with $ [MQTT-4.7.2-1].
  if ((f[0] === '#' || f[0] === '+') && local.startsWith('$')) return false
  for (let i = 0; i < f.length; i++) {
    const part = f[i]
    if (part === '#') return true
    if (i >= t.length) return false
    if (part !== '+' && part !== t[i]) return false
  }
  return f.length === t.length
}
