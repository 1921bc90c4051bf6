/**
 * Matches requests against the ops route table and turns a match into a
 * RequestPlan for the HTTP transport (the `extraRoutes` hook of
 * gateway/http). Paths that are not ours go back to the HTTP API (undefined).
 */
import { FerryError } from '../../common/errors.js'
import { HttpCode, parseJsonBody, headerOf, type RequestHead, type RequestPlan } from '../http/index.js'
import { credentialsOf } from './auth.js'
import { ADMIN_BODY_BYTES_MAX } from './constants.js'
import type { OpsContext } from './context.js'
import { bad } from './params.js'
import type { OpsRoute } from './route-table.js'

interface Compiled { route: OpsRoute, segs: Array<{ literal: string } | { param: string }> }

function compile (route: OpsRoute): Compiled {
  const segs = route.path.split('/').slice(1).map((s) => s.startsWith('{') && s.endsWith('}') ? { param: s.slice(1, -1) } : { literal: s })
  return { route, segs }
}

function decode (s: string): string {
  try { return decodeURIComponent(s) } catch { throw bad('malformed percent-encoding in the URL path') }
}

/** First characters of every ops path: the publish path pays one startsWith before it goes on. */
function isOpsPath (path: string): boolean {
  return path.startsWith('/v1/admin/') || path === '/v1/admin' || path === '/metrics' || path === '/healthz' || path === '/readyz' ||
    path === '/v1/openapi.json' || path === '/console' || path.startsWith('/console/')
}

export class OpsRouter {
  private readonly compiled: Compiled[]

  constructor (readonly routes: readonly OpsRoute[]) {
    this.compiled = routes.map(compile)
  }

  /** The route and its parameters for a method and raw path, undefined when no route has the path. Throws 405 when only the method is wrong. */
  match (method: string, path: string): { route: OpsRoute, params: Record<string, string> } | undefined {
    const raw = path.split('/').slice(1)
    const allow: string[] = []
    for (const c of this.compiled) {
      if (c.segs.length !== raw.length) continue
      const params: Record<string, string> = {}
      let hit = true
      for (let i = 0; i < raw.length && hit; i++) {
        const seg = c.segs[i] as Compiled['segs'][number]
        const r = raw[i] as string
        if ('literal' in seg) hit = seg.literal === r
        else if (r.length === 0) hit = false
        else params[seg.param] = decode(r)
      }
      if (!hit) continue
      if (c.route.method === method) return { route: c.route, params }
      if (!allow.includes(c.route.method)) allow.push(c.route.method)
    }
    // RFC 9110 15.5.6: the transport writes `Allow` from details.allow.
    if (allow.length > 0) throw new FerryError(HttpCode.METHOD_NOT_ALLOWED, `${method} is not allowed on ${path} (allowed: ${allow.join(', ')})`, { details: { allow } })
    return undefined
  }

  /** The hook given to gateway/http. */
  planner (ctx: OpsContext): (head: RequestHead) => RequestPlan | undefined {
    return (head) => {
      if (!isOpsPath(head.path)) return undefined
      const m = this.match(head.method, head.path)
      if (m === undefined) return undefined
      const { route, params } = m
      return {
        bodyBytesMax: ADMIN_BODY_BYTES_MAX,
        tooLarge: () => new FerryError(HttpCode.BODY_TOO_LARGE, `request body larger than ${ADMIN_BODY_BYTES_MAX} bytes`),
        run: async (body) => {
          if (route.admin) await ctx.authorize(credentialsOf(head))
          const parsed = route.jsonBody === true && body.length > 0 ? parseJsonBody(headerOf(head, 'content-type'), body) : undefined
          return await route.handle(ctx, { params, query: new URLSearchParams(head.query), body: parsed, head })
        }
      }
    }
  }
}
