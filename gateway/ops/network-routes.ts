/**
 * The network views of the admin API: GET /v1/admin/sites (every site of
 * the network with its endpoints, liveness and preference, plus etcd and
 * NATS reachability) and GET /v1/admin/links (this site's outbound
 * replication links with state and lag). A gateway that is not part of a
 * network answers 200 with `networked: false` and empty lists, so scripts
 * need no special case.
 */
import type { OpsContext } from './context.js'
import type { NetworkStatus } from './network.js'
import { ok, type OpsRoute } from './route-table.js'

/** The part of the status the console's network map and the overview show. */
export function networkSummary (ctx: OpsContext): (NetworkStatus & { siteId: string }) | null {
  const n = ctx.network.status()
  return n === undefined ? null : { siteId: ctx.siteId, ...n }
}

export const networkRoutes: OpsRoute[] = [
  {
    method: 'GET',
    path: '/v1/admin/sites',
    operationId: 'listSites',
    admin: true,
    handle: (ctx) => {
      const n = ctx.network.status()
      if (n === undefined) return ok({ siteId: ctx.siteId, networked: false, sites: [] })
      return ok({ siteId: ctx.siteId, networked: true, network: n.network, etcd: n.etcd, nats: n.nats, sites: n.sites })
    }
  },
  {
    method: 'GET',
    path: '/v1/admin/links',
    operationId: 'listLinks',
    admin: true,
    handle: (ctx) => {
      const n = ctx.network.status()
      if (n === undefined) return ok({ siteId: ctx.siteId, networked: false, links: [] })
      return ok({ siteId: ctx.siteId, networked: true, network: n.network, nats: n.nats, links: n.links })
    }
  }
]
