/**
 * Failover steering (the gateway's TopologyProvider, gateway/topology-hook.ts):
 * what GET /v1/topology answers, and where MQTT clients go while this site
 * sends them away (MQTT 5 reason 0x9C Use Another Server + Server Reference).
 *
 * This site steers while (a) its liveness lease is lost (cut off from etcd:
 * another site may have taken over its primaries), (b) its store is fenced,
 * or (c) it is draining for shutdown. The target is, among the sites that
 * serve the client's namespace, the first healthy one other than this site:
 * the primary first for an active-passive namespace, then by preference,
 * then in the namespace's list order; it must have an endpoint of the
 * client's scheme. Healthy: alive in etcd, as this site sees it while it
 * holds its lease; while it does not (its view may be stale, and when etcd
 * itself is down every site has lost its lease), only sites that confirm
 * by their own GET /v1/topology that they hold their lease (probed every
 * STEER_CHECK_INTERVAL_MS). No healthy target: the client is served here.
 */
import type { Logger } from '../common/log.js'
import { NamespaceMode, SteerReason, type EndpointScheme, type TopologyDescription, type TopologyProvider, type TopologySiteInfo } from '../gateway/index.js'
import { ALIVE_LEASE_TTL_S, STEER_CHECK_INTERVAL_MS, STEER_PROBE_BODY_BYTES_MAX, STEER_PROBE_TIMEOUT_MS } from './constants.js'
import type { TopologyView } from './view.js'
import type { SiteRecord, Topology } from './types.js'

export interface SteeringDeps {
  siteId: string
  view: TopologyView
  /** The store refuses appends (ledger stats). */
  storeFenced: () => boolean
  /** Whether this site accepts writes for a namespace now (primaries.ts). */
  writableHere: (namespace: string) => boolean
  /** Called every STEER_CHECK_INTERVAL_MS while steering: close the connected clients the provider sends elsewhere. */
  steerConnected: () => void
  logger: Logger
}

export class Steering implements TopologyProvider {
  private draining = false
  /** Sites that confirmed holding their lease on the last probe round (used while this site's lease is lost). */
  private confirmed = new Set<string>()
  private probing = false
  private readonly startedMs = Date.now()
  private leaseWasHeld = false
  private lastReason: SteerReason | undefined
  private readonly timer: NodeJS.Timeout
  private readonly stopListening: () => void
  /**
   * Targets by `namespace|scheme`, so that steering every connected client costs one lookup each, not a sort of
   * the sites. Cleared on every tick, topology change and probe round: at most namespaces x schemes entries.
   */
  private readonly targets = new Map<string, string | undefined>()

  constructor (private readonly deps: SteeringDeps) {
    this.timer = setInterval(() => { this.tick() }, STEER_CHECK_INTERVAL_MS)
    this.timer.unref()
    this.stopListening = deps.view.onChange(() => { this.targets.clear() })
  }

  /** Shutdown begins: new clients are steered away, connected ones now. */
  drain (): void {
    this.draining = true
    this.tick()
  }

  close (): void { clearInterval(this.timer); this.stopListening() }

  reason (): SteerReason | undefined {
    if (this.draining) return SteerReason.draining
    if (this.deps.storeFenced()) return SteerReason.storeFenced
    const held = this.deps.view.leaseHeld()
    if (held) this.leaseWasHeld = true
    // At start the lease is not taken yet: a grace of one lease TTL before a site that never held it counts as cut off.
    if (!held && (this.leaseWasHeld || Date.now() - this.startedMs > ALIVE_LEASE_TTL_S * 1000)) return SteerReason.leaseLost
    return undefined
  }

  steer (namespace: string, scheme: EndpointScheme): string | undefined {
    if (this.reason() === undefined) return undefined
    const key = `${namespace}|${scheme}`
    if (this.targets.has(key)) return this.targets.get(key)
    const t = this.deps.view.current()
    let target: string | undefined
    for (const s of this.servingSites(t, namespace)) {
      if (s.id === this.deps.siteId || !this.healthy(t, s.id)) continue
      target = s.endpoints[scheme]
      if (target !== undefined) break
    }
    this.targets.set(key, target)
    return target
  }

  describe (namespace: string | undefined): TopologyDescription {
    const t = this.deps.view.current()
    const reason = this.reason()
    const info = (s: SiteRecord): TopologySiteInfo => ({ id: s.id, region: s.region, endpoints: s.endpoints, preference: s.preference, alive: this.healthy(t, s.id) })
    const sites = [...t.sites.values()].sort((a, b) => a.preference - b.preference || (a.id < b.id ? -1 : 1)).map(info)
    const out: TopologyDescription = {
      site: this.deps.siteId,
      standalone: false,
      etcd: this.deps.view.health().etcd,
      leaseHeld: this.deps.view.leaseHeld(),
      ...(reason !== undefined ? { steering: reason } : {}),
      sites
    }
    if (namespace !== undefined) {
      const primary = t.primaries.get(namespace)?.site
      out.namespace = {
        name: namespace,
        mode: primary !== undefined ? NamespaceMode.activePassive : NamespaceMode.activeActive,
        ...(primary !== undefined ? { primary } : {}),
        writableHere: this.deps.writableHere(namespace),
        sites: this.servingSites(t, namespace).map(info)
      }
    }
    return out
  }

  /**
   * The sites of a namespace in the order a client should try them: healthy first; within each group the primary
   * (active-passive), then by preference, then the namespace's list order. A namespace etcd does not hold is this site's alone.
   */
  private servingSites (t: Topology, namespace: string): SiteRecord[] {
    const list = t.namespaces.get(namespace)?.replication.sites ?? [this.deps.siteId]
    const primary = t.primaries.get(namespace)?.site
    const rank = (id: string): number[] => [this.healthy(t, id) ? 0 : 1, id === primary ? 0 : 1, t.sites.get(id)?.preference ?? 100, list.indexOf(id)]
    const ids = [...new Set(list)].sort((a, b) => {
      const ra = rank(a)
      const rb = rank(b)
      for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return (ra[i] as number) - (rb[i] as number)
      return 0
    })
    return ids.map((id) => t.sites.get(id) ?? { id, region: id, endpoints: {}, preference: 100 })
  }

  /** Alive in etcd while this site holds its lease; otherwise only when the site confirmed holding its own. */
  private healthy (t: Topology, id: string): boolean {
    if (id === this.deps.siteId) return this.reason() === undefined
    return this.deps.view.leaseHeld() ? t.alive.has(id) : this.confirmed.has(id)
  }

  private tick (): void {
    this.targets.clear()
    const reason = this.reason()
    if (reason !== this.lastReason) {
      this.deps.logger.warn({ reason: reason ?? 'none' }, reason !== undefined ? 'failover: steering clients to other sites' : 'failover: serving clients here again')
      this.lastReason = reason
    }
    if (reason === SteerReason.leaseLost) this.probe()
    else this.confirmed.clear()
    if (reason !== undefined) this.deps.steerConnected()
  }

  /** One round of GET /v1/topology to every other site known (bounded by SITES_MAX; one round at a time). */
  private probe (): void {
    if (this.probing) return
    this.probing = true
    const sites = [...this.deps.view.current().sites.values()].filter((s) => s.id !== this.deps.siteId)
    void Promise.all(sites.map(async (s) => {
      const base = s.endpoints.http ?? s.endpoints.https
      if (base === undefined) return [s.id, false] as const
      try {
        const res = await fetch(`${base}/v1/topology`, { signal: AbortSignal.timeout(STEER_PROBE_TIMEOUT_MS) })
        const text = await res.text()
        if (!res.ok || text.length > STEER_PROBE_BODY_BYTES_MAX) return [s.id, false] as const
        const d = JSON.parse(text) as Partial<TopologyDescription>
        return [s.id, d.site === s.id && d.leaseHeld === true && d.steering === undefined] as const
      } catch {
        return [s.id, false] as const
      }
    })).then((results) => {
      this.confirmed = new Set(results.filter(([, ok]) => ok).map(([id]) => id))
      this.targets.clear()
      this.probing = false
      if (this.confirmed.size > 0 && this.reason() !== undefined) this.deps.steerConnected()
    })
  }
}
