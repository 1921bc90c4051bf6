/** Site-level routes: health, readiness, metrics, stats, overview, tenants. */
import { FerryError } from '../../common/errors.js'
import { StoreCode } from '../../store/index.js'
import type { OpsContext } from './context.js'
import { OpsCode } from './errors.js'
import { ok, type OpsRoute } from './route-table.js'
import { networkSummary } from './network-routes.js'

/** Site totals the console's overview and live feed show. */
export async function overviewOf (ctx: OpsContext): Promise<Record<string, unknown>> {
  const d = ctx.dispatcher.stats()
  const mqtt = ctx.mqtt()?.stats()
  const http = ctx.httpStats()
  const scan = await ctx.scanner.scan()
  let published = 0
  for (const v of ctx.metrics.publishedByNamespace.values()) published += v
  let delivered = 0
  let acked = 0
  let backlog = 0
  for (const s of d.subscriptions) { delivered += s.delivered; acked += s.acked; backlog += s.backlog }
  let topics = 0
  let storedBytes = 0
  for (const t of scan.byNamespace.values()) { topics += t.topics; storedBytes += t.storedBytes }
  const ms = (s: number | undefined): number | null => s === undefined || !Number.isFinite(s) ? null : s * 1000
  const c = ctx.metrics.connections
  return {
    siteId: ctx.siteId,
    version: ctx.version,
    at: Date.now(),
    uptimeSec: Math.round((Date.now() - ctx.startedAtMs) / 1000),
    readiness: ctx.health.readiness(),
    ledger: ctx.ledger.stats(),
    counts: {
      tenants: new Set(ctx.policies.namespaces().map((ns) => ns.split('/')[0])).size,
      namespaces: ctx.policies.namespaces().length,
      topics,
      storedBytes,
      subscriptions: d.subscriptions.length,
      backlog,
      sessions: mqtt?.sessions ?? 0,
      connections: { ...c, http: http?.inFlightRequests ?? 0 }
    },
    totals: { published, delivered, acked },
    rates: {
      publishedPerSec: ctx.rates.rate('$site/published', published) ?? 0,
      deliveredPerSec: ctx.rates.rate('$site/delivered', delivered) ?? 0
    },
    // Over the last 10 s (bucket upper bounds), so the live charts show now, not since start.
    latencyMs: {
      publishP50: ms(ctx.metrics.recent.publish.quantile(0.5)),
      publishP99: ms(ctx.metrics.recent.publish.quantile(0.99)),
      fsyncP99: ms(ctx.metrics.recent.fsync.quantile(0.99)),
      probeP99: ms(ctx.metrics.recent.probe.quantile(0.99))
    },
    probe: {
      failures: ctx.metrics.probeFailures,
      lastSuccessAt: ctx.metrics.probeLastSuccessMs === 0 ? null : ctx.metrics.probeLastSuccessMs,
      // Probes of other sites received here (ferry/probe replicated): one-way latency over the last 10 s (bucket upper bounds), by origin.
      replication: [...ctx.metrics.replicationProbes].map(([origin, h]) => ({ origin, received: h.seconds.observations, p50Ms: ms(h.recent.quantile(0.5)), p99Ms: ms(h.recent.quantile(0.99)), lastAt: h.lastAtMs }))
    },
    // Network sites: sites, links and their lag (the console's network map is fed from this, live); null otherwise.
    network: networkSummary(ctx)
  }
}

export const siteRoutes: OpsRoute[] = [
  {
    method: 'GET',
    path: '/healthz',
    operationId: 'healthz',
    admin: false,
    handle: (ctx) => {
      // Alive while this answers; a fenced store is worth a 503 here too (it will not heal by itself).
      if (ctx.ledger.stats().fenced) throw new FerryError(StoreCode.FENCED, 'the store is fenced: appends are refused until it recovers')
      return ok({ status: 'ok', siteId: ctx.siteId })
    }
  },
  {
    method: 'GET',
    path: '/readyz',
    operationId: 'readyz',
    admin: false,
    handle: (ctx) => {
      const r = ctx.health.readiness()
      // 503 with the checks in the body, so a human reading it sees which one failed.
      return { status: r.ready ? 200 : 503, body: r.ready ? { status: 'ready', siteId: ctx.siteId, ...r } : { error: { code: OpsCode.NOT_READY, message: `not ready (${r.phase})` }, siteId: ctx.siteId, ...r } }
    }
  },
  {
    method: 'GET',
    path: '/metrics',
    operationId: 'metrics',
    admin: false,
    handle: async (ctx) => ({ status: 200, body: await ctx.metrics.text(), contentType: ctx.metrics.contentType })
  },
  {
    method: 'GET',
    path: '/v1/admin/overview',
    operationId: 'overview',
    admin: true,
    handle: async (ctx) => ok(await overviewOf(ctx))
  },
  {
    method: 'GET',
    path: '/v1/admin/tenants',
    operationId: 'listTenants',
    admin: true,
    handle: async (ctx) => {
      const scan = await ctx.scanner.scan()
      const tenants = new Map<string, { tenant: string, namespaces: string[], topics: number, storedBytes: number }>()
      for (const ns of ctx.policies.namespaces().sort()) {
        const tenant = ns.slice(0, ns.indexOf('/'))
        let t = tenants.get(tenant)
        if (t === undefined) { t = { tenant, namespaces: [], topics: 0, storedBytes: 0 }; tenants.set(tenant, t) }
        t.namespaces.push(ns)
        const s = scan.byNamespace.get(ns)
        t.topics += s?.topics ?? 0
        t.storedBytes += s?.storedBytes ?? 0
      }
      return ok({ tenants: [...tenants.values()] })
    }
  }
]
