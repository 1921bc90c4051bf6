/**
 * The etcd key layout of a Ferry network (one prefix per resource kind, after
 * Kubernetes' /registry/{kind}/...). Values are JSON.
 *
 *   /ferry/{network}/sites/{site}             {"region","nats","endpoints":{...},"preference"}
 *   /ferry/{network}/alive/{site}             {"sinceMs"}  on a lease of ALIVE_LEASE_TTL_S; gone = site down
 *   /ferry/{network}/namespaces/{tenant}/{ns} {"policy":{...namespace policy fields},"replication":{"sites":[...],"mode":"all"}}
 *   /ferry/{network}/routes/{pattern}         {"via":"hub"}  (pattern: * = rest of the name, ? = one character)
 *   /ferry/{network}/primaries/{tenant}/{ns}  {"site","previous"}: active-passive primary (mod revision = fencing token)
 *   /ferry/{network}/handovers/{tenant}/{ns}  {"from","revision","logEndLsn"}: the previous primary stopped writing there
 *   /ferry/{network}/interest/{site}          {"filters":{"tenant/ns":["a/+/c",...]}}: subscriptions of interest-mode namespaces
 *   /ferry/{network}/revocations/{id}         {"id","kind","name","revokedAt"}: a revoked token id or certificate serial (revocations.ts)
 *
 * Gateways list the whole prefix, then watch it from the list's revision + 1,
 * so no change between the two is missed.
 */
export const KEY_ROOT = '/ferry'

export const Kind = {
  sites: 'sites',
  alive: 'alive',
  namespaces: 'namespaces',
  routes: 'routes',
  primaries: 'primaries',
  handovers: 'handovers',
  interest: 'interest',
  revocations: 'revocations'
} as const
export type Kind = typeof Kind[keyof typeof Kind]

export function networkPrefix (network: string): string {
  return `${KEY_ROOT}/${network}/`
}

export function keyOf (network: string, kind: Kind, name: string): string {
  return `${networkPrefix(network)}${kind}/${name}`
}

/** Split a key of the network into its kind and name, or undefined for a key outside the layout. */
export function parseKey (network: string, key: string): { kind: Kind, name: string } | undefined {
  const prefix = networkPrefix(network)
  if (!key.startsWith(prefix)) return undefined
  const rest = key.slice(prefix.length)
  const slash = rest.indexOf('/')
  if (slash <= 0) return undefined
  const kind = rest.slice(0, slash)
  if (!(Object.values(Kind) as string[]).includes(kind)) return undefined
  return { kind: kind as Kind, name: rest.slice(slash + 1) }
}
