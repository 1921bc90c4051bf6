/**
 * Who a client is and what it may do. A principal comes from a verified
 * token or a client certificate; every check is against the bound tenant, so
 * nothing outside it can be named, let alone reached.
 *
 * Grants: actions (produce, consume, admin) on namespaces of the tenant
 * (names or `*` patterns), optionally narrowed to MQTT-style topic patterns
 * local to the namespace. A network operator token (tenant `*`) may use the
 * site-wide admin routes.
 */
import { namespacePatternMatches, type Action } from '../../pki/index.js'

export const CredentialKind = { token: 'token', certificate: 'certificate' } as const
export type CredentialKind = typeof CredentialKind[keyof typeof CredentialKind]

export interface Principal {
  kind: CredentialKind
  /** Token id or certificate serial: what revocation names. */
  credentialId: string
  /** Tenant, or `*` for a network operator. */
  tenant: string
  /** Client id of a certificate (TENANT/ID), token id otherwise: for logs. */
  name: string
  namespaces: readonly string[]
  actions: ReadonlySet<Action>
  /** Topic patterns (MQTT filter syntax, local to the namespace); undefined: every topic. */
  topics: readonly string[] | undefined
  /** Epoch ms after which the credential is no longer valid. */
  expiresAt: number
}

export function isOperator (p: Principal): boolean { return p.tenant === '*' }

/** Does the principal hold `action` on namespace `tenant/ns` (any topic)? */
export function allowsNamespace (p: Principal, action: Action, tenant: string, ns: string): boolean {
  if (!p.actions.has(action)) return false
  if (p.tenant !== '*' && p.tenant !== tenant) return false
  return p.namespaces.some((pat) => namespacePatternMatches(pat, ns))
}

function levelsOf (s: string): string[] { return s.split('/') }

/** Does a topic pattern match a local topic name (`+` one level, `#` the rest)? */
export function patternMatchesTopic (pattern: string, local: string): boolean {
  const f = levelsOf(pattern)
  const parts = levelsOf(local)
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true
    if (i >= parts.length) return false
    if (f[i] !== '+' && f[i] !== parts[i]) return false
  }
  return parts.length === f.length
}

/**
 * Does a topic pattern cover every topic a subscription filter can match?
 * Level by level: `#` in the pattern covers the rest; `+` in the pattern
 * covers any one level of the filter except `#`; a literal covers only itself.
 */
export function patternCoversFilter (pattern: string, filter: string): boolean {
  const p = levelsOf(pattern)
  const f = levelsOf(filter)
  for (let i = 0; i < f.length; i++) {
    const pi = p[i]
    if (pi === undefined) return false
    if (pi === '#') return true
    const fi = f[i] as string
    if (fi === '#') return false
    if (pi === '+') continue
    if (fi === '+' || fi !== pi) return false
  }
  // `a/#` covers `a` (its parent level) too, as MQTT matching does.
  return p.length === f.length || (p.length === f.length + 1 && p[f.length] === '#')
}

/** May the principal publish to (produce) or read (consume) this local topic of tenant/ns? */
export function allowsTopic (p: Principal, action: Action, tenant: string, ns: string, local: string): boolean {
  if (!allowsNamespace(p, action, tenant, ns)) return false
  return p.topics === undefined || p.topics.some((pat) => patternMatchesTopic(pat, local))
}

/** May the principal subscribe with this filter (every topic it matches allowed)? */
export function allowsFilter (p: Principal, tenant: string, ns: string, filter: string): boolean {
  if (!allowsNamespace(p, 'consume', tenant, ns)) return false
  return p.topics === undefined || p.topics.some((pat) => patternCoversFilter(pat, filter))
}
