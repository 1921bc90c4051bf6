/**
 * A gateway's live view of the topology: list the network's prefix, then
 * watch it from the list's revision + 1 (no change between the two is
 * missed) and apply every change at once. The view is cached in the site's
 * ledger (meta space `topology`), so a site that starts while etcd is
 * unreachable serves and replicates with the last topology it knew, says so
 * in health, and catches up when etcd returns.
 */
import type { Watcher } from 'etcd3'
import type { Logger } from '../common/log.js'
import type { Ledger, MetaValue } from '../store/index.js'
import type { PlanSource, ReplicationPlan } from '../replicator/index.js'
import { applyKv, type TopologyClient } from './etcd-client.js'
import { Kind, keyOf, networkPrefix } from './keys.js'
import { encodeNamespace, encodeSite, parseNamespace, parseSite } from './codec.js'
import { ALIVE_LEASE_TTL_S, ETCD_RETRY_MS } from './constants.js'
import { emptyTopology, sortRoutes, type SiteRecord, type Topology } from './types.js'

const CACHE_SPACE = 'topology'

export interface TopologyHealth {
  etcd: 'connected' | 'unreachable'
  /** True while the view may be older than etcd (never loaded, or the watch is down). */
  stale: boolean
  revision: number
  /** Epoch ms of the last change of the etcd state above. */
  sinceMs: number
  lastError?: string
  invalidValues: string[]
}

export class TopologyView {
  private topology: Topology = emptyTopology()
  private readonly listeners = new Set<() => void>()
  private watcher: Watcher | undefined
  private closed = false
  private up = false
  private loaded = false
  private sinceMs = Date.now()
  private lastError: string | undefined
  private invalid: string[] = []
  private retryTimer: NodeJS.Timeout | undefined
  private aliveLoop: Promise<void> | undefined
  private saving: Promise<void> = Promise.resolve()
  /** Failover: when etcd last confirmed this site's liveness lease (put or keep-alive), epoch ms; 0 = not held. */
  private leaseOkMs = 0

  constructor (
    private readonly client: TopologyClient,
    private readonly opts: { self?: SiteRecord, ledger?: Ledger, logger: Logger }
  ) {}

  /** Load from etcd; when it is unreachable, start from the cache and keep trying in the background. */
  async start (): Promise<void> {
    this.loadCache()
    try {
      await this.connect()
    } catch (err) {
      this.markDown(err)
      this.opts.logger.warn({ err: String(err) }, 'etcd unreachable at start: serving with the last known topology')
      this.scheduleRetry()
    }
    if (this.opts.self !== undefined) this.aliveLoop = this.keepAlive(this.opts.self)
  }

  current (): Topology { return this.topology }

  /** True while the view follows etcd live (connected, loaded): what active-passive writes need. */
  live (): boolean { return this.up && this.loaded }

  /**
   * This site holds its liveness lease: etcd confirmed it within the lease's TTL. False once the lease is lost
   * or etcd has not answered a keep-alive for a TTL: other sites may see this one as dead and take over.
   */
  leaseHeld (): boolean {
    return this.leaseOkMs > 0 && Date.now() - this.leaseOkMs < ALIVE_LEASE_TTL_S * 1000
  }

  health (): TopologyHealth {
    return { etcd: this.up ? 'connected' : 'unreachable', stale: !this.up || !this.loaded, revision: this.topology.revision, sinceMs: this.sinceMs, ...(this.lastError !== undefined ? { lastError: this.lastError } : {}), invalidValues: this.invalid }
  }

  onChange (l: () => void): () => void {
    this.listeners.add(l)
    return () => { this.listeners.delete(l) }
  }

  /** The replication plan this view implies (namespaces -> sites, routes). */
  planSource (): PlanSource {
    const build = (): ReplicationPlan => ({
      namespaces: new Map([...this.topology.namespaces.values()].map((n) => [n.name, n.replication])),
      routes: this.topology.routes,
      interest: this.topology.interest
    })
    let plan = build()
    this.onChange(() => { plan = build() })
    return { current: () => plan, onChange: (l) => this.onChange(l) }
  }

  async close (): Promise<void> {
    this.closed = true
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer)
    await this.watcher?.cancel().catch(() => {})
    this.watcher = undefined
    await this.aliveLoop
    await this.saving
  }

  private async connect (): Promise<void> {
    const { topology, invalid } = await this.client.load()
    this.invalid = invalid
    for (const i of invalid) this.opts.logger.warn({ value: i }, 'topology value ignored')
    this.topology = topology
    this.loaded = true
    this.markUp()
    this.changed()
    const w = await this.client.etcd.watch().prefix(networkPrefix(this.client.network)).startRevision(String(topology.revision + 1)).create()
    this.watcher = w
    w.on('put', (kv) => { this.apply(kv.key.toString(), kv.value.toString(), Number(kv.mod_revision)) })
    // A deleted key's mod revision is the delete's revision; the key is gone either way.
    w.on('delete', (kv) => { this.apply(kv.key.toString(), undefined, Number(kv.mod_revision)) })
    w.on('disconnected', (err) => { this.markDown(err) })
    w.on('connected', () => { this.markUp() })
    w.on('error', (err) => { this.markDown(err) })
  }

  private scheduleRetry (): void {
    if (this.closed) return
    this.retryTimer = setTimeout(() => {
      this.connect().then(() => { this.opts.logger.info({ revision: this.topology.revision }, 'etcd reachable again: topology caught up') }, (err) => { this.markDown(err); this.scheduleRetry() })
    }, ETCD_RETRY_MS)
    this.retryTimer.unref()
  }

  private apply (key: string, value: string | undefined, revision: number): void {
    const err = applyKv(this.topology, this.client.network, key, value, revision)
    if (err !== undefined) { this.invalid = [...this.invalid.slice(-20), err]; this.opts.logger.warn({ value: err }, 'topology value ignored') }
    this.topology.routes = sortRoutes(this.topology.routes)
    this.topology.revision = Math.max(this.topology.revision, revision)
    this.changed()
  }

  private markUp (): void { if (!this.up) { this.up = true; this.sinceMs = Date.now(); this.lastError = undefined } }
  private markDown (err: unknown): void {
    this.lastError = String((err as Error)?.message ?? err)
    if (this.up) { this.up = false; this.sinceMs = Date.now() }
  }

  private changed (): void {
    for (const l of this.listeners) { try { l() } catch (err) { this.opts.logger.error({ err }, 'topology listener failed') } }
    this.saveCache()
  }

  /** Liveness: our alive key on a short lease, renewed; a lost lease (etcd down too long) is taken again. */
  private async keepAlive (self: SiteRecord): Promise<void> {
    const etcd = this.client.etcd
    while (!this.closed) {
      try {
        await this.client.putSite(self)
        const lease = etcd.lease(ALIVE_LEASE_TTL_S)
        await lease.put(keyOf(this.client.network, Kind.alive, self.id)).value(JSON.stringify({ sinceMs: Date.now() })).exec()
        this.leaseOkMs = Date.now()
        lease.on('keepaliveSucceeded', () => { this.leaseOkMs = Date.now() })
        await new Promise<void>((resolve) => {
          const poll = setInterval(() => { if (this.closed) { clearInterval(poll); resolve() } }, 100)
          lease.once('lost', () => { this.leaseOkMs = 0; clearInterval(poll); resolve() })
        })
        if (this.closed) { await lease.revoke().catch(() => {}); return }
      } catch (err) {
        this.markDown(err)
      }
      await new Promise((resolve) => setTimeout(resolve, ETCD_RETRY_MS))
    }
  }

  private loadCache (): void {
    const v = this.opts.ledger?.getMeta(CACHE_SPACE, this.client.network)
    if (v === undefined || v === null || typeof v !== 'object' || Array.isArray(v) || Buffer.isBuffer(v)) return
    const c = v as { revision?: number, sites?: Record<string, string>, namespaces?: Record<string, string>, routes?: Array<{ pattern: string, via: string }>, primaries?: Record<string, { site: string, revision: number, previous?: string }> }
    const t = emptyTopology()
    t.revision = c.revision ?? 0
    try {
      for (const [id, raw] of Object.entries(c.sites ?? {})) t.sites.set(id, parseSite(id, raw))
      for (const [name, raw] of Object.entries(c.namespaces ?? {})) t.namespaces.set(name, parseNamespace(name, raw))
      t.routes = sortRoutes(c.routes ?? [])
      for (const [ns, p] of Object.entries(c.primaries ?? {})) t.primaries.set(ns, { site: p.site, revision: p.revision, ...(p.previous !== undefined ? { previous: p.previous } : {}) })
    } catch (err) {
      this.opts.logger.warn({ err: String(err) }, 'topology cache unreadable; ignored')
      return
    }
    this.topology = t
    this.changed()
  }

  private saveCache (): void {
    const ledger = this.opts.ledger
    if (ledger === undefined || this.closed) return
    const t = this.topology
    const value = {
      revision: t.revision,
      sites: Object.fromEntries([...t.sites.values()].map((s) => [s.id, encodeSite(s)])),
      namespaces: Object.fromEntries([...t.namespaces.values()].map((n) => [n.name, encodeNamespace(n)])),
      routes: t.routes.map((r) => ({ pattern: r.pattern, via: r.via })),
      // Active-passive namespaces must stay fenced after a restart without etcd.
      primaries: Object.fromEntries([...t.primaries].map(([ns, p]) => [ns, { site: p.site, revision: p.revision, ...(p.previous !== undefined ? { previous: p.previous } : {}) }]))
    }
    this.saving = this.saving.then(async () => { await ledger.putMeta(CACHE_SPACE, this.client.network, value as unknown as MetaValue) }).catch(() => {})
  }
}

