/**
 * A site of a network: the gateway (gateway/server.ts), its live topology
 * from etcd (view.ts), policies from etcd (policy-source.ts), and its
 * replicator over the region's nats-server. Start order: gateway (ledger
 * open) -> topology (from etcd, or the cached one) -> NATS -> replicator;
 * close in reverse.
 */
import type { Logger } from '../common/log.js'
import { silentLogger } from '../common/log.js'
import { startGateway, type Gateway, type GatewayConfig } from '../gateway/index.js'
import { ReplicationMode, connectNats, startReplicator, type LinkLimits, type Replicator, type ReplicatorStats } from '../replicator/index.js'
import { TopologyClient } from './etcd-client.js'
import { followPrimaries, guardedLedger, writeRefusal } from './primaries.js'
import { createFileLedger, type Ledger } from '../store/index.js'
import type { FerryError } from '../common/errors.js'
import { TopologyView, type TopologyHealth } from './view.js'
import { followPolicySource } from './policy-source.js'
import type { SiteRecord } from './types.js'
import { INTEREST_PUBLISH_INTERVAL_MS } from './constants.js'
import { networkStatusSource } from './network-status.js' // ops2 hook: network views

export interface NetworkSiteConfig {
  gateway: GatewayConfig
  network: string
  etcd: string | string[]
  /** nats://... of this site's region server. */
  nats: string
  /** Mutual TLS to the region server: PEM files of the PKI (CA, this site's certificate and key). */
  natsTls?: { caFile: string, certFile: string, keyFile: string }
  region?: string
  preference?: number
  replicationLimits?: Partial<LinkLimits>
  logger?: Logger
}

export interface SiteHealth {
  site: string
  topology: TopologyHealth
  replication: ReplicatorStats
}

export interface NetworkSite {
  readonly gateway: Gateway
  readonly replicator: Replicator
  readonly topology: TopologyView
  health: () => SiteHealth
  close: () => Promise<void>
}

export function endpointsOf (host: string, ports: Gateway['ports']): Record<string, string> {
  const e: Record<string, string> = {}
  if (ports.mqtt !== undefined) e.mqtt = `mqtt://${host}:${ports.mqtt}`
  if (ports.mqtts !== undefined) e.mqtts = `mqtts://${host}:${ports.mqtts}`
  if (ports.http !== undefined) { e.ws = `ws://${host}:${ports.http}/mqtt`; e.http = `http://${host}:${ports.http}` }
  if (ports.https !== undefined) { e.wss = `wss://${host}:${ports.https}/mqtt`; e.https = `https://${host}:${ports.https}` }
  return e
}

export async function startNetworkSite (cfg: NetworkSiteConfig): Promise<NetworkSite> {
  const logger = cfg.logger ?? cfg.gateway.logger ?? silentLogger
  const siteId = cfg.gateway.siteId
  // The gateway's ledger refuses local writes to active-passive namespaces this site is not primary of
  // (primaries.ts); the replicator applies remote batches to the ledger itself.
  let raw: Ledger | undefined
  let refuse: (topic: string) => FerryError | undefined = () => undefined
  const gateway = await startGateway({
    ...cfg.gateway,
    createLedger: (o) => {
      raw = cfg.gateway.createLedger?.(o) ?? createFileLedger({ dir: cfg.gateway.dataDir, ...o, ...(cfg.gateway.disk !== undefined ? { disk: cfg.gateway.disk } : {}) })
      return guardedLedger(raw, (topic) => refuse(topic))
    }
  })
  const ledger = raw as Ledger
  const self: SiteRecord = { id: siteId, region: cfg.region ?? siteId, nats: cfg.nats, endpoints: endpointsOf(cfg.gateway.host, gateway.ports), preference: cfg.preference ?? 100 }
  const client = new TopologyClient({ endpoints: cfg.etcd, network: cfg.network })
  const topology = new TopologyView(client, { self, ledger, logger: logger.child({ component: 'topology' }) })
  refuse = (topic) => writeRefusal(topology.current(), siteId, topology.live(), topic)
  const stopPolicies = followPolicySource(gateway.policies, {
    name: 'etcd',
    snapshot: () => new Map([...topology.current().namespaces.values()].map((n) => [n.name, n.policy])),
    onChange: (l) => topology.onChange(l)
  }, logger.child({ component: 'policy' }))
  await topology.start()
  const stopPrimaries = followPrimaries(topology, client, siteId, logger.child({ component: 'primaries' }))
  const transport = await connectNats({ servers: cfg.nats, network: cfg.network, name: `ferry-${siteId}`, ...(cfg.natsTls !== undefined ? { tls: cfg.natsTls } : {}) })
  const replicator = await startReplicator({
    siteId,
    ledger,
    transport,
    plan: topology.planSource(),
    logger: logger.child({ component: 'replicator' }),
    ...(cfg.replicationLimits !== undefined ? { limits: cfg.replicationLimits } : {})
  })
  // ops2 hook: metrics (replication lag, etcd/NATS up), /readyz checks, /v1/admin/sites|links, console network map.
  gateway.ops.attachNetwork(networkStatusSource(cfg.network, siteId, topology, replicator))
  // Interest mode: publish this site's subscription filters of interest-mode namespaces (replicator/plan.ts).
  let lastInterest = ''
  const interestTimer = setInterval(() => {
    if (!topology.live()) return
    const t = topology.current()
    const filters: Record<string, string[]> = {}
    for (const sub of gateway.dispatcher.stats().subscriptions) {
      if (t.namespaces.get(sub.namespace)?.replication.mode !== ReplicationMode.interest) continue
      ;(filters[sub.namespace] ??= []).push(sub.filter)
    }
    for (const ns of Object.keys(filters)) filters[ns] = [...new Set(filters[ns])].sort()
    const json = JSON.stringify(filters)
    if (json === lastInterest) return
    client.putInterest(siteId, filters).then(() => { lastInterest = json }, () => {})
  }, INTEREST_PUBLISH_INTERVAL_MS)
  interestTimer.unref()
  let closed = false
  return {
    gateway,
    replicator,
    topology,
    health: () => ({ site: siteId, topology: topology.health(), replication: replicator.stats() }),
    async close () {
      if (closed) return
      closed = true
      stopPolicies()
      stopPrimaries()
      clearInterval(interestTimer)
      await replicator.close()
      await transport.close()
      await topology.close()
      client.close()
      await gateway.close()
    }
  }
}
