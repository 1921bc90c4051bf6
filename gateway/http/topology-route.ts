/**
 * GET /v1/topology[?ns=tenant/ns]: where a client can be served (failover
 * steering, docs/REPLICATION.md). The sites with their endpoints, alive or
 * not, preference and region; this site's id and state; and for a namespace
 * (`?ns=`, default the caller's bound namespace) the sites that serve it in
 * the order to try them (healthy first, then by preference) with its primary
 * when it is active-passive. The data comes from the gateway's
 * TopologyProvider (gateway/topology-hook.ts).
 *
 * Access: without credentials the site part is public (other sites probe it
 * before steering clients here, and clients need it to find a site); the
 * namespace part needs a credential holding some action on that namespace
 * (dev mode: anonymous clients are bound to `public/default`).
 */
import { CommonCode, FerryError } from '../../common/errors.js'
import { AuthCode, allowsNamespace, isOperator, type Principal } from '../auth/index.js'
import { checkNamespaceName } from '../policy/index.js'
import type { HttpContext } from './context.js'
import { headerOf, type RequestHead, type RequestPlan } from './request.js'
import { bodyBound } from './topic-routes.js'

/** Namespace of anonymous clients in dev mode (as MQTT's defaultNamespace). */
const DEV_NAMESPACE = 'public/default'

/** The caller's bound namespace: its credential's first namespace when that is a plain name (as MQTT binds it). */
function boundNamespace (p: Principal): string | undefined {
  if (isOperator(p)) return undefined
  const first = p.namespaces[0]
  return first === undefined || first.includes('*') ? undefined : `${p.tenant}/${first}`
}

function parseNs (raw: string): string {
  const [tenant, ns, extra] = raw.split('/')
  if (tenant === undefined || ns === undefined || extra !== undefined) throw new FerryError(CommonCode.BAD_REQUEST, 'query parameter ns must be tenant/namespace')
  return checkNamespaceName(tenant, ns)
}

/** Which namespace to describe, checking the caller may see it; undefined: sites only. */
function namespaceFor (ctx: HttpContext, head: RequestHead, asked: string | undefined): string | undefined {
  const anonymous = headerOf(head, 'authorization') === undefined
  if (ctx.deps.dev) return asked ?? DEV_NAMESPACE
  if (anonymous && asked === undefined) return undefined
  const p = ctx.deps.guard?.principalOf(head)
  if (p === undefined) throw new FerryError(AuthCode.UNAUTHORIZED, 'credentials required (Authorization: Bearer TOKEN) to describe a namespace')
  const ns = asked ?? boundNamespace(p)
  if (ns === undefined) return undefined
  const slash = ns.indexOf('/')
  const tenant = ns.slice(0, slash)
  const name = ns.slice(slash + 1)
  const allowed = isOperator(p) || allowsNamespace(p, 'produce', tenant, name) || allowsNamespace(p, 'consume', tenant, name) || allowsNamespace(p, 'admin', tenant, name)
  if (!allowed) throw new FerryError(AuthCode.FORBIDDEN, `this credential grants nothing on ${ns}`)
  return ns
}

export function planTopology (ctx: HttpContext, head: RequestHead): RequestPlan {
  const raw = new URLSearchParams(head.query).get('ns')
  const asked = raw === null || raw === '' ? undefined : parseNs(raw)
  const ns = namespaceFor(ctx, head, asked)
  return {
    ...bodyBound(ctx),
    run: async () => {
      const provider = ctx.deps.topology?.()
      if (provider === undefined) throw new FerryError(CommonCode.INTERNAL, 'no topology provider')
      return { status: 200, body: provider.describe(ns) }
    }
  }
}
