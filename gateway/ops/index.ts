/**
 * gateway/ops: metrics (GET /metrics), health (/healthz, /readyz), the
 * admin API (/v1/admin/...), the OpenAPI document (/v1/openapi.json), the
 * web console (/console and its live feed) and the health detector.
 *
 * Assembly (gateway/server.ts):
 *   const ops = new Ops({ siteId, dev, logger })
 *   disk = ops.instrumentDisk(disk)                  // fsync histogram
 *   dispatcher = ops.instrumentDispatcher(inner)     // publish histogram, counts, lateness
 *   front = ops.countConnections(mqtt, 'mqtts')      // per listener
 *   ops.attach({ ledger, dispatcher, policies, mqtt, httpStats })
 *   gateway.ops.attachNetwork(source)                // topology/site.ts: network views (network.ts)
 *   httpDeps.extraRoutes = ops.httpRoutes()          // the gateway/http hook
 *   app.ws('/v1/admin/live', ops.liveBehavior())
 */
import type { Logger } from '../../common/log.js'
import type { Disk, Ledger } from '../../store/index.js'
import type { Dispatcher } from '../dispatch/index.js'
import type { HttpFrontEndStats, RequestHead, RequestPlan } from '../http/index.js'
import type { Authenticate, MqttFrontEnd } from '../mqtt/index.js'
import type { PolicyRegistry } from '../policy/index.js'
import type { WebSocketBehavior } from '../uws.js'
import { defaultAdminAuthorizer, type AdminAuthorizer } from './auth.js'
import { consoleRoutes } from './console-routes.js'
import type { OpsContext, OpsPki } from './context.js'
import { deadLetterRoutes } from './dead-letter-routes.js'
import { Health, Phase } from './health.js'
import { countAuthFailures, countConnections, InFlight, instrumentDisk, instrumentDispatcher } from './instrument.js'
import { LiveFeed } from './live-ws.js'
import { OpsMetrics, type ConnectionProtocol } from './metrics.js'
import { mqttRoutes } from './mqtt-routes.js'
import { namespaceRoutes } from './namespace-routes.js'
import { openApiDocument } from './openapi.js'
import { Prober } from './prober.js'
import { RateTracker } from './rates.js'
import type { OpsRoute } from './route-table.js'
import { OpsRouter } from './router.js'
import { siteRoutes } from './site-routes.js'
import { tokenRoutes } from './token-routes.js'
import { topicRoutes } from './topic-routes.js'
import { TopicScanner } from './topic-scan.js'
import { CONSOLE_DIST_DIR, FERRY_VERSION } from './version.js'
import { SHUTDOWN_DRAIN_MS_MAX } from './constants.js'
import { NetworkView, type NetworkStatusSource } from './network.js'
import { networkRoutes } from './network-routes.js'
import { ProducerTracker } from './producers.js'

export { OpsMetrics, MQTT_PROTOCOLS, type ConnectionProtocol } from './metrics.js'
export { Health, Phase, type Readiness } from './health.js'
export { defaultAdminAuthorizer, type AdminAuthorizer, type AdminCredentials } from './auth.js'
export { OpsCode } from './errors.js'
export { openApiDocument, HTTP_API_OPERATIONS, WEBSOCKET_OPERATIONS } from './openapi.js'
export { OpsRouter } from './router.js'
export type { OpsRoute } from './route-table.js'
export type { OpsPki } from './context.js'
export { FERRY_VERSION, FERRY_ROOT, CONSOLE_DIST_DIR } from './version.js'
export { REPLAY_CURSOR } from './dead-letter-routes.js'
export type { NetworkStatus, NetworkStatusSource, NetworkSiteStatus, NetworkLinkStatus } from './network.js'
export * as OpsLimits from './constants.js'

export interface OpsOptions {
  siteId: string
  dev: boolean
  logger: Logger
  /** Check of the admin action; default: allowed in dev mode, refused otherwise (until gateway/auth lands). */
  authorize?: AdminAuthorizer
  /** Built console files; default console/dist of the package. */
  consoleDir?: string
}

export interface OpsSite {
  ledger: Ledger
  /** The instrumented dispatcher. */
  dispatcher: Dispatcher
  policies: PolicyRegistry
  mqtt: MqttFrontEnd | undefined
  httpStats: () => HttpFrontEndStats | undefined
  /** The PKI dir, for the token routes (absent: dev mode without --pki). */
  pki?: OpsPki
}

/** Every route of the table: site, namespaces, topics, dead letters, MQTT, tokens, console, and the OpenAPI document itself. */
export function opsRoutes (): OpsRoute[] {
  const routes: OpsRoute[] = [...siteRoutes, ...networkRoutes, ...namespaceRoutes, ...topicRoutes, ...deadLetterRoutes, ...mqttRoutes, ...tokenRoutes, ...consoleRoutes]
  routes.push({ method: 'GET', path: '/v1/openapi.json', operationId: 'openapi', admin: false, handle: () => ({ status: 200, body: openApiDocument(routes, FERRY_VERSION) }) })
  return routes
}

export class Ops {
  readonly metrics = new OpsMetrics()
  readonly inFlight = new InFlight()
  readonly router = new OpsRouter(opsRoutes())
  readonly network = new NetworkView()
  /** Who publishes to each topic (bounded; producers.ts). */
  readonly producers = new ProducerTracker()
  health: Health | undefined
  private ctx: OpsContext | undefined
  private live: LiveFeed | undefined
  private prober: Prober | undefined
  private readonly startedAtMs = Date.now()

  constructor (private readonly opts: OpsOptions) {}

  instrumentDisk (disk: Disk): Disk { return instrumentDisk(disk, this.metrics) }
  instrumentDispatcher (d: Dispatcher): Dispatcher { return instrumentDispatcher(d, this.metrics, this.inFlight, this.producers) }
  countConnections (front: MqttFrontEnd, protocol: ConnectionProtocol): MqttFrontEnd { return countConnections(front, protocol, this.metrics, this.opts.logger) }
  countAuthFailures (auth: Authenticate): Authenticate { return countAuthFailures(auth, this.metrics, this.opts.logger) }

  /** The site is assembled: register the scrape-time series and build the routes' context. */
  attach (site: OpsSite): void {
    const health = new Health(site.ledger, this.network)
    health.ledgerOpen = true
    this.health = health
    const scanner = new TopicScanner(site.ledger)
    this.ctx = {
      siteId: this.opts.siteId,
      dev: this.opts.dev,
      version: FERRY_VERSION,
      startedAtMs: this.startedAtMs,
      ledger: site.ledger,
      dispatcher: site.dispatcher,
      policies: site.policies,
      mqtt: () => site.mqtt,
      httpStats: site.httpStats,
      metrics: this.metrics,
      scanner,
      rates: new RateTracker(),
      health,
      network: this.network,
      producers: this.producers,
      authorize: this.opts.authorize ?? defaultAdminAuthorizer(this.opts.dev),
      logger: this.opts.logger,
      pki: site.pki,
      consoleDir: this.opts.consoleDir ?? CONSOLE_DIST_DIR
    }
    this.live = new LiveFeed(this.ctx)
    this.metrics.attach({
      siteId: this.opts.siteId,
      version: FERRY_VERSION,
      ledger: site.ledger,
      policies: site.policies,
      dispatcherStats: () => site.dispatcher.stats(),
      mqttStats: () => site.mqtt?.stats(),
      httpStats: site.httpStats,
      ready: () => health.readiness().ready,
      scanner,
      network: () => this.network.status()
    })
  }

  /**
   * A network site (topology/site.ts) hands in its status once the
   * replicator runs: replication lag and etcd/NATS metrics, the etcd and
   * NATS checks of /readyz, GET /v1/admin/sites and /links, the console's
   * network map. Called at most once per gateway; a later call replaces it.
   */
  attachNetwork (source: NetworkStatusSource): void { this.network.attach(source) }

  private context (): OpsContext {
    if (this.ctx === undefined) throw new Error('ops used before attach()')
    return this.ctx
  }

  /** The `extraRoutes` hook of gateway/http. */
  httpRoutes (): (head: RequestHead) => RequestPlan | undefined {
    return this.router.planner(this.context())
  }

  liveBehavior (): WebSocketBehavior<Record<string, never>> {
    if (this.live === undefined) throw new Error('ops used before attach()')
    return this.live.behavior()
  }

  /** Every listener is up: ready. */
  ready (): void {
    const h = this.health
    if (h === undefined) return
    h.listenersUp = true
    h.phase = Phase.ready
  }

  /** Start the health detector (publishes a probe every few seconds to ferry/probe/{site}). */
  async startProber (intervalMs?: number, timeoutMs?: number): Promise<void> {
    const ctx = this.context()
    this.prober = new Prober(ctx.dispatcher, ctx.policies, ctx.siteId, this.metrics, ctx.logger.child({ component: 'prober' }), intervalMs, timeoutMs)
    const p = this.prober
    ctx.health.proberState = () => p.state()
    await p.start()
  }

  /**
   * Shutdown, first step: readyz turns 503 (load balancers stop sending), the
   * live feed and the prober stop, then wait (at most SHUTDOWN_DRAIN_MS_MAX)
   * for publishes in flight to be acknowledged. Returns whether they all were.
   */
  async drain (): Promise<boolean> {
    if (this.health !== undefined) this.health.phase = Phase.draining
    this.live?.close()
    await this.prober?.stop()
    return await this.inFlight.drained(SHUTDOWN_DRAIN_MS_MAX)
  }

  closed (): void {
    if (this.health !== undefined) { this.health.phase = Phase.closed; this.health.ledgerOpen = false; this.health.listenersUp = false }
  }
}
