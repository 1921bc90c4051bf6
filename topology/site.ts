/**
 * A site of a network: the gateway (gateway/server.ts), its live topology
 * from etcd (view.ts), policies from etcd (policy-source.ts), and its
 * replicator over the region's nats-server. Start order: gateway (ledger
 * open) -> topology (from etcd, or the cached one) -> NATS -> replicator;
 * close in reverse.
 */
import { hostname } from 'node:os'
import type { Logger } from '../common/log.js'
import { silentLogger } from '../common/log.js'
import { endpointsOf, startGateway, type Gateway, type GatewayConfig } from '../gateway/index.js'
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
import { Steering } from './steering.js'
import { PrimaryCatchUp, type CatchUpLimits, type CatchUpState } from './catch-up.js'

// Kept here for callers of topology/ (it moved to gateway/topology-hook.ts, which the standalone gateway needs too).
export { endpointsOf }
import { followRevocations } from './revocations.js' // security (issue 9): revocations through etcd

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
  /**
   * Host name put into this site's endpoints in etcd (what failover steering hands to clients). Default: the bind
   * host, or the machine's host name when the gateway binds a wildcard address (0.0.0.0, ::), which no client can dial.
   */
  advertiseHost?: string
  replicationLimits?: Partial<LinkLimits>
  /** Bounds of a new primary's catch-up (catch-up.ts; defaults PRIMARY_CATCHUP_SILENT_MS / _MAX_MS). */
  catchUpLimits?: Partial<CatchUpLimits>
  logger?: Logger
}

export interface SiteHealth {
  site: string
  topology: TopologyHealth
  replication: ReplicatorStats
  /** Active-passive namespaces this site became primary of and is still catching up on (catch-up.ts). */
  catchingUp: CatchUpState[]
}

export interface NetworkSite {
  readonly gateway: Gateway
  readonly replicator: Replicator
  readonly topology: TopologyView
  /** Failover steering (the gateway's TopologyProvider). */
  readonly steering: Steering
  health: () => SiteHealth
  close: () => Promise<void>
}

/** The host clients are steered to: --advertise-host, else the bind host unless it is a wildcard, else hostname(). */
export function advertisedHostOf (advertiseHost: string | undefined, bindHost: string): string {
  if (advertiseHost !== undefined && advertiseHost.length > 0) return advertiseHost
  if (bindHost === '0.0.0.0' || bindHost === '::' || bindHost === '') return hostname()
  return bindHost
}

export async function startNetworkSite (cfg: NetworkSiteConfig): Promise<NetworkSite> {
  const logger = cfg.logger ?? cfg.gateway.logger ?? silentLogger
  const siteId = cfg.gateway.siteId
  // The gateway's ledger refuses local writes to active-passive namespaces this site is not primary of
  // (primaries.ts); the replicator applies remote batches to the ledger itself.
  let raw: Ledger | undefined
  let refuse: (topic: string) => FerryError | undefined = () => undefined
  const inFlight = new Set<Promise<unknown>>()
  const gateway = await startGateway({
    ...cfg.gateway,
    createLedger: (o) => {
      raw = cfg.gateway.createLedger?.(o) ?? createFileLedger({ dir: cfg.gateway.dataDir, ...o, ...(cfg.gateway.disk !== undefined ? { disk: cfg.gateway.disk } : {}) })
      return guardedLedger(raw, (topic) => refuse(topic), inFlight)
    }
  })
  const ledger = raw as Ledger
  const self: SiteRecord = { id: siteId, region: cfg.region ?? siteId, nats: cfg.nats, endpoints: endpointsOf(advertisedHostOf(cfg.advertiseHost, cfg.gateway.host), gateway.ports), preference: cfg.preference ?? 100 }
  const client = new TopologyClient({ endpoints: cfg.etcd, network: cfg.network })
  const topology = new TopologyView(client, { self, ledger, logger: logger.child({ component: 'topology' }) })
  const catchUp = new PrimaryCatchUp({ self: siteId, view: topology, client, ledger, inFlight, logger: logger.child({ component: 'catch-up' }), ...(cfg.catchUpLimits !== undefined ? { limits: cfg.catchUpLimits } : {}) })
  refuse = (topic) => writeRefusal(topology.current(), siteId, topology.live(), topic, (ns, p) => catchUp.catchingUp(ns, p))
  const stopPolicies = followPolicySource(gateway.policies, {
    name: 'etcd',
    snapshot: () => new Map([...topology.current().namespaces.values()].map((n) => [n.name, n.policy])),
    onChange: (l) => topology.onChange(l)
  }, logger.child({ component: 'policy' }))
  await topology.start()
  // Failover steering: GET /v1/topology and MQTT 0x9C (steering.ts) from this view.
  const steering = new Steering({
    siteId,
    view: topology,
    storeFenced: () => ledger.stats().fenced,
    writableHere: (ns) => refuse(`${ns}/_`) === undefined,
    steerConnected: () => { gateway.steerClients() },
    logger: logger.child({ component: 'steering' })
  })
  gateway.setTopology(steering)
  const stopPrimaries = followPrimaries(topology, client, siteId, logger.child({ component: 'primaries' }))
  // Security (issue 9): /ferry/{network}/revocations/ applied to this gateway's auth (topology/revocations.ts).
  const revocations = followRevocations(client.etcd, cfg.network, gateway.security, logger.child({ component: 'revocations' }))
  await revocations.ready // the first list (or the first failure): a starting site knows what is revoked
  const transport = await connectNats({ servers: cfg.nats, network: cfg.network, name: `ferry-${siteId}`, ...(cfg.natsTls !== undefined ? { tls: cfg.natsTls } : {}) })
  const replicator = await startReplicator({
    siteId,
    ledger,
    transport,
    plan: topology.planSource(),
    logger: logger.child({ component: 'replicator' }),
    subscriptions: gateway.replicatedSubscriptions, // replicated subscriptions (replicator/cursor-sync.ts)
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
    steering,
    health: () => ({ site: siteId, topology: topology.health(), replication: replicator.stats(), catchingUp: catchUp.states() }),
    async close () {
      if (closed) return
      closed = true
      // Draining: MQTT clients go to the next healthy site (0x9C) while this one still holds its lease and knows who is alive.
      steering.drain()
      // Active-passive namespaces of which this site is primary go to their successor, with the handover shipped.
      await catchUp.handOver((site) => {
        const link = replicator.stats().links.find((l) => l.site === site)
        // No direct link (relayed through a hub): the positions cannot tell; the successor uses its own bounds.
        return link === undefined ? Number.POSITIVE_INFINITY : Math.min(...link.lanes.map((l) => l.position))
      })
      stopPolicies()
      stopPrimaries()
      catchUp.close()
      clearInterval(interestTimer)
      await revocations.close() // security (issue 9)
      await replicator.close()
      await transport.close()
      await topology.close()
      client.close()
      await gateway.close()
      steering.close()
    }
  }
}
