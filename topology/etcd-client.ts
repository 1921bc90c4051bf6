/**
 * The topology in etcd (etcd 3.4 through the etcd3 client): typed reads and
 * writes of the key layout (keys.ts). Writes that must not race use a
 * transaction on the key's mod revision; a route is checked for loops against
 * every route and site before it is written.
 */
import { Etcd3 } from 'etcd3'
import { FerryError } from '../common/errors.js'
import { checkRoutes, type Route } from '../replicator/index.js'
import { Kind, keyOf, networkPrefix, parseKey } from './keys.js'
import { checkRoutePattern, checkSiteName, encodeNamespace, encodePrimary, encodeSite, parseHandover, parseInterest, parseNamespace, parsePrimary, parseRoute, parseSite } from './codec.js'
import { TopologyCode } from './errors.js'
import { ETCD_CALL_TIMEOUT_MS } from './constants.js'
import { emptyTopology, sortRoutes, type NamespaceRecord, type SiteRecord, type Topology } from './types.js'

export interface EtcdTopologyOptions {
  /** http://host:port of the etcd members. */
  endpoints: string | string[]
  network: string
}

export class TopologyClient {
  readonly etcd: Etcd3
  readonly network: string

  constructor (opts: EtcdTopologyOptions) {
    this.network = opts.network
    this.etcd = new Etcd3({
      hosts: opts.endpoints,
      dialTimeout: ETCD_CALL_TIMEOUT_MS,
      // A deadline for unary calls only: watch and lease keep-alive streams live as long as the client.
      defaultCallOptions: (context) => context.isStream ? {} : { deadline: Date.now() + ETCD_CALL_TIMEOUT_MS }
    })
  }

  close (): void { this.etcd.close() }

  private async call<T> (what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f()
    } catch (err) {
      if (err instanceof FerryError) throw err
      throw new FerryError(TopologyCode.UNAVAILABLE, `etcd: ${what} failed: ${(err as Error).message}`, { cause: err })
    }
  }

  /** The whole network at one revision (bad values are reported in `invalid`, not fatal). */
  async load (): Promise<{ topology: Topology, invalid: string[] }> {
    const res = await this.call('list', async () => await this.etcd.getAll().prefix(networkPrefix(this.network)).exec())
    const topology = emptyTopology()
    topology.revision = Number(res.header.revision)
    const invalid: string[] = []
    for (const kv of res.kvs) {
      const err = applyKv(topology, this.network, kv.key.toString(), kv.value.toString(), Number(kv.mod_revision))
      if (err !== undefined) invalid.push(err)
    }
    topology.routes = sortRoutes(topology.routes)
    return { topology, invalid }
  }

  async putSite (s: SiteRecord): Promise<void> {
    checkSiteName(s.id)
    await this.call('put site', async () => { await this.etcd.put(keyOf(this.network, Kind.sites, s.id)).value(encodeSite(s)).exec() })
  }

  async removeSite (id: string): Promise<boolean> {
    const r = await this.call('delete site', async () => await this.etcd.delete().key(keyOf(this.network, Kind.sites, id)).exec())
    return Number(r.deleted) > 0
  }

  async putNamespace (n: NamespaceRecord): Promise<void> {
    const [tenant, ns, extra] = n.name.split('/')
    if (tenant === undefined || ns === undefined || extra !== undefined || tenant === '' || ns === '') throw new FerryError(TopologyCode.INVALID, `namespace '${n.name}' must be TENANT/NS`)
    for (const s of n.replication.sites) checkSiteName(s)
    await this.call('put namespace', async () => { await this.etcd.put(keyOf(this.network, Kind.namespaces, n.name)).value(encodeNamespace(n)).exec() })
  }

  async getNamespace (name: string): Promise<NamespaceRecord | undefined> {
    const raw = await this.call('get namespace', async () => await this.etcd.get(keyOf(this.network, Kind.namespaces, name)).string())
    return raw === null ? undefined : parseNamespace(name, raw)
  }

  /**
   * Add a route, refused when it would make a loop. Compare-and-swap on the
   * routes' revision: two routes added at once cannot together make a loop
   * that each alone did not.
   */
  async addRoute (route: Route): Promise<void> {
    checkRoutePattern(route.pattern)
    checkSiteName(route.via)
    for (let attempt = 0; attempt < 5; attempt++) {
      const { topology } = await this.load()
      const routes = sortRoutes([...topology.routes.filter((r) => r.pattern !== route.pattern), route])
      try {
        checkRoutes(routes, [...topology.sites.keys()])
      } catch (err) {
        throw new FerryError(TopologyCode.INVALID, `route ${route.pattern} via ${route.via} refused: ${(err as Error).message}`, { details: (err as FerryError).details as Record<string, unknown> })
      }
      const key = keyOf(this.network, Kind.routes, route.pattern)
      const prefix = `${networkPrefix(this.network)}${Kind.routes}/`
      // Nothing under routes/ may have changed since the list (mod revision of every route <= the list's revision).
      const current = await this.call('list routes', async () => await this.etcd.getAll().prefix(prefix).exec())
      if (current.kvs.some((kv) => Number(kv.mod_revision) > topology.revision)) continue
      const txn = this.etcd.if(key, 'Mod', '<', topology.revision + 1).then(this.etcd.put(key).value(JSON.stringify({ via: route.via })))
      const res = await this.call('add route', async () => await txn.commit())
      if (res.succeeded) return
    }
    throw new FerryError(TopologyCode.UNAVAILABLE, 'routes kept changing while adding a route; try again')
  }

  /** Make `site` the primary of a namespace (active-passive), fenced by the revision seen now. */
  async setPrimary (namespace: string, site: string): Promise<void> {
    checkSiteName(site)
    const key = keyOf(this.network, Kind.primaries, namespace)
    const r = await this.call('get primary', async () => await this.etcd.get(key).exec())
    const seen = Number(r.kvs[0]?.mod_revision ?? 0)
    // The value names the primary before: the new one catches up with it before it accepts writes (catch-up.ts).
    let previous: string | undefined
    try { previous = r.kvs[0] !== undefined ? parsePrimary(namespace, r.kvs[0].value.toString()).site : undefined } catch { previous = undefined }
    const txn = this.etcd.if(key, 'Mod', '==', seen).then(this.etcd.put(key).value(encodePrimary(site, previous)))
    const res = await this.call('set primary', async () => await txn.commit())
    if (!res.succeeded) throw new FerryError(TopologyCode.UNAVAILABLE, `the primary of ${namespace} moved meanwhile; try again`)
  }

  /**
   * The previous primary's handover: it stopped writing `namespace` at `logEndLsn`, for the move at `revision`.
   * Written only while that move is still the current one (the primary key's mod revision), so a late writer cannot
   * speak for a later move.
   */
  async putHandover (namespace: string, h: { from: string, revision: number, logEndLsn: number }): Promise<boolean> {
    const pkey = keyOf(this.network, Kind.primaries, namespace)
    const hkey = keyOf(this.network, Kind.handovers, namespace)
    const txn = this.etcd.if(pkey, 'Mod', '==', h.revision).then(this.etcd.put(hkey).value(JSON.stringify(h)))
    const res = await this.call('put handover', async () => await txn.commit())
    return res.succeeded
  }

  /** Publish this site's subscription filters of interest-mode namespaces. */
  async putInterest (site: string, filters: Record<string, string[]>): Promise<void> {
    await this.call('put interest', async () => { await this.etcd.put(keyOf(this.network, Kind.interest, site)).value(JSON.stringify({ filters })).exec() })
  }

  /** Back to active-active. */
  async clearPrimary (namespace: string): Promise<boolean> {
    const r = await this.call('delete primary', async () => await this.etcd.delete().key(keyOf(this.network, Kind.primaries, namespace)).exec())
    return Number(r.deleted) > 0
  }

  async removeRoute (pattern: string): Promise<boolean> {
    const r = await this.call('delete route', async () => await this.etcd.delete().key(keyOf(this.network, Kind.routes, pattern)).exec())
    return Number(r.deleted) > 0
  }
}

/** Apply one key's value to a topology; returns a message for a bad value. */
export function applyKv (t: Topology, network: string, key: string, value: string | undefined, modRevision = 0): string | undefined {
  const k = parseKey(network, key)
  if (k === undefined) return undefined
  try {
    switch (k.kind) {
      case Kind.sites:
        if (value === undefined) t.sites.delete(k.name)
        else t.sites.set(k.name, parseSite(k.name, value))
        return
      case Kind.alive:
        if (value === undefined) t.alive.delete(k.name)
        else t.alive.add(k.name)
        return
      case Kind.namespaces:
        if (value === undefined) t.namespaces.delete(k.name)
        else t.namespaces.set(k.name, parseNamespace(k.name, value))
        return
      case Kind.routes:
        t.routes = t.routes.filter((r) => r.pattern !== k.name)
        if (value !== undefined) t.routes.push(parseRoute(k.name, value))
        return
      case Kind.interest:
        if (value === undefined) t.interest.delete(k.name)
        else t.interest.set(k.name, parseInterest(k.name, value))
        return
      case Kind.primaries:
        if (value === undefined) t.primaries.delete(k.name)
        else t.primaries.set(k.name, { ...parsePrimary(k.name, value), revision: modRevision })
        return
      case Kind.handovers:
        if (value === undefined) t.handovers.delete(k.name)
        else t.handovers.set(k.name, parseHandover(k.name, value))
        return
      default:
        return
    }
  } catch (err) {
    return `${key}: ${(err as Error).message}`
  }
}
