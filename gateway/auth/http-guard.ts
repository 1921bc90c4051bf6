/**
 * The HTTP front end's guard: CORS (preflight and reply headers),
 * authentication (`Authorization: Bearer TOKEN`) and authorization of each
 * routed request before its body is read.
 *
 * Isolation: the grant is checked against the tenant and namespace named in
 * the path before anything looks them up, and the refusal names only what
 * the request itself said, so a path of another tenant answers 403 the same
 * way whether or not it exists. Unknown route kinds (added later) need a
 * network operator's admin grant: nothing is let in by accident.
 */
import { isFerryError } from '../../common/errors.js'
import type { Action } from '../../pki/index.js'
import type { Authenticator } from './authenticator.js'
import type { Cors, HeaderList } from './cors.js'
import { AuthCode, authError } from './errors.js'
import { allowsFilter, allowsNamespace, allowsTopic, isOperator, type Principal } from './principal.js'

/** The parts of a request the guard reads (gateway/http's RequestHead fits). */
export interface GuardRequest {
  method: string
  headers: ReadonlyArray<readonly [string, string]>
  readonly remoteAddress: string
}

/** The parts of a matched route the guard reads (gateway/http's Route fits). */
export interface GuardRoute {
  kind: string
  tenant?: string
  namespace?: string
  local?: string
}

export interface HttpGuard {
  /** A CORS preflight (OPTIONS with Access-Control-Request-Method) answered before routing; undefined for anything else. */
  preflight (req: GuardRequest): { status: number, headers: HeaderList } | undefined
  /** Headers every reply to this request carries (CORS). */
  responseHeaders (req: GuardRequest): HeaderList
  /** Authenticate and authorize a routed request. Throws E_UNAUTHORIZED (401), E_FORBIDDEN (403), E_AUTH_THROTTLED (429). Undefined in dev mode. */
  check (req: GuardRequest, route: GuardRoute): Principal | undefined
  /** Extra headers of an error reply: `WWW-Authenticate: Bearer` on 401 [RFC 6750 3]. */
  errorHeaders (err: unknown): HeaderList
  /** Authenticate only (admin API of gateway/ops). Undefined in dev mode. */
  principalOf (req: GuardRequest): Principal | undefined
}

function header (req: GuardRequest, name: string): string | undefined {
  for (const [n, v] of req.headers) if (n === name) return v
  return undefined
}

const BEARER = /^Bearer\s+(\S+)\s*$/i

type Access = { kind: 'public' } | { kind: 'operator' } | { kind: 'ns', action: Action, tenant: string, namespace: string, local?: string, filter?: boolean }

/** What a route needs. Publish-side routes need produce, consume-side ones consume, policy routes admin. */
export function accessOf (r: GuardRoute): Access {
  const ns = (action: Action, local?: string, filter?: boolean): Access =>
    ({ kind: 'ns', action, tenant: r.tenant ?? '', namespace: r.namespace ?? '', ...(local !== undefined ? { local } : {}), ...(filter === true ? { filter } : {}) })
  switch (r.kind) {
    case 'healthz': return { kind: 'public' }
    case 'publish':
    case 'cancelScheduled': return ns('produce', r.local)
    case 'pull':
    case 'ack':
    case 'nack':
    case 'deleteSubscription': return ns('consume', r.local, true)
    case 'getNamespace':
    case 'putNamespace': return ns('admin')
    default: return { kind: 'operator' }
  }
}

export function allows (p: Principal, a: Access): boolean {
  if (a.kind === 'public') return true
  if (a.kind === 'operator') return isOperator(p) && p.actions.has('admin')
  if (a.local === undefined) return allowsNamespace(p, a.action, a.tenant, a.namespace)
  // Pull and friends name a topic (or filter) the subscription reads: it must lie within the grant.
  return a.filter === true ? allowsFilter(p, a.tenant, a.namespace, a.local) : allowsTopic(p, a.action, a.tenant, a.namespace, a.local)
}

export function createHttpGuard (opts: { dev: boolean, authenticator: Authenticator | undefined, cors: Cors }): HttpGuard {
  const { dev, authenticator, cors } = opts
  function principalOf (req: GuardRequest): Principal | undefined {
    if (dev || authenticator === undefined) return undefined
    const auth = header(req, 'authorization')
    if (auth === undefined) throw authError(AuthCode.UNAUTHORIZED, 'credentials required: Authorization: Bearer TOKEN')
    const m = BEARER.exec(auth)
    if (m === null) throw authError(AuthCode.UNAUTHORIZED, 'Authorization must be "Bearer TOKEN"')
    return authenticator.fromToken(m[1] as string, req.remoteAddress)
  }
  return {
    preflight (req) {
      if (req.method !== 'OPTIONS' || header(req, 'access-control-request-method') === undefined) return undefined
      return cors.preflight(header(req, 'origin'))
    },
    responseHeaders (req) { return cors.responseHeaders(header(req, 'origin')) },
    check (req, route) {
      // Without credentials to check every route is open: answer before building the route's Access (per request).
      if (dev || authenticator === undefined) return undefined
      const access = accessOf(route)
      if (access.kind === 'public') return undefined
      const p = principalOf(req)
      if (p === undefined) return undefined
      if (!allows(p, access)) {
        const what = access.kind === 'operator' ? 'site-wide admin (a network operator token)' : `${access.action} on ${access.tenant}/${access.namespace}${access.local !== undefined ? ` topic ${access.local}` : ''}`
        throw authError(AuthCode.FORBIDDEN, `this credential does not grant ${what}`)
      }
      return p
    },
    errorHeaders (err) {
      return isFerryError(err, AuthCode.UNAUTHORIZED) ? [['www-authenticate', 'Bearer realm="ferry"']] : []
    },
    principalOf
  }
}

/**
 * For the admin API (gateway/ops): throw unless the request carries an
 * admin grant — on `namespace` (`tenant/ns`) when given, else site-wide (a
 * network operator). Dev mode lets everyone in, as the rest of the API.
 */
export function requireAdmin (guard: HttpGuard | undefined, req: GuardRequest, namespace?: string): Principal | undefined {
  if (guard === undefined) return undefined
  const p = guard.principalOf(req)
  if (p === undefined) return undefined
  const slash = namespace?.indexOf('/') ?? -1
  const ok = namespace !== undefined && slash > 0
    ? allowsNamespace(p, 'admin', namespace.slice(0, slash), namespace.slice(slash + 1))
    : isOperator(p) && p.actions.has('admin')
  if (!ok) throw authError(AuthCode.FORBIDDEN, `this credential does not grant admin on ${namespace ?? 'the site'}`)
  return p
}
