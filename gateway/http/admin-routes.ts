/**
 * Admin routes: namespace policies (`/v1/admin/namespaces[/{tenant}/{namespace}]`),
 * site stats (`/v1/admin/stats`) and the health check (`/healthz`).
 */
import { FerryError } from '../../common/errors.js'
import { StoreCode } from '../../store/index.js'
import { checkNamespaceName } from '../policy/index.js'
import { processFaultCounts } from '../process-faults.js'
import type { HttpContext } from './context.js'
import { parseJsonBody } from './json-body.js'
import { headerOf, type ApiReply, type RequestHead, type RequestPlan } from './request.js'
import { bodyBound } from './topic-routes.js'

function now (ctx: HttpContext, reply: () => ApiReply | Promise<ApiReply>): RequestPlan {
  return { ...bodyBound(ctx), run: async () => await reply() }
}

/** 200 while the site accepts publishes; 503 E_FENCED once the store has stopped taking appends (failed fsync/write). */
export function planHealthz (ctx: HttpContext): RequestPlan {
  return now(ctx, () => {
    if (ctx.deps.ledger.stats().fenced) throw new FerryError(StoreCode.FENCED, 'the store is fenced: appends are refused until it recovers')
    return { status: 200, body: { status: 'ok', siteId: ctx.deps.siteId } }
  })
}

export function planListNamespaces (ctx: HttpContext): RequestPlan {
  return now(ctx, () => ({ status: 200, body: { namespaces: ctx.deps.policies.namespaces().sort() } }))
}

export function planGetNamespace (ctx: HttpContext, tenant: string, namespace: string): RequestPlan {
  const ns = checkNamespaceName(tenant, namespace)
  const policy = ctx.deps.policies.get(ns)
  return now(ctx, () => ({ status: 200, body: { namespace: ns, policy } }))
}

/** Create or change a namespace; the body holds only the fields to change. 201 when it is new. */
export function planPutNamespace (ctx: HttpContext, head: RequestHead, tenant: string, namespace: string): RequestPlan {
  const ns = checkNamespaceName(tenant, namespace)
  return {
    ...bodyBound(ctx),
    run: async (body) => {
      const patch = parseJsonBody(headerOf(head, 'content-type'), body)
      const existed = ctx.deps.policies.has(ns)
      const policy = await ctx.deps.policies.put(ns, patch)
      return { status: existed ? 200 : 201, body: { namespace: ns, policy } }
    }
  }
}

/** Optional stats of the dispatcher: reported when it has a `stats()` method. */
function dispatcherStats (d: unknown): unknown {
  const f = (d as { stats?: unknown }).stats
  return typeof f === 'function' ? (f as () => unknown).call(d) : undefined
}

export function planStats (ctx: HttpContext): RequestPlan {
  return now(ctx, () => ({
    status: 200,
    body: {
      siteId: ctx.deps.siteId,
      ledger: ctx.deps.ledger.stats(),
      dispatcher: dispatcherStats(ctx.deps.dispatcher),
      http: { ...ctx.pull.stats(), ...ctx.counters.snapshot() },
      process: processFaultCounts()
    }
  }))
}
