/**
 * The replicator of one site: a Receiver for every link into it, and one
 * Link per neighbour site the plan ships to. The plan (namespaces ->
 * sites, routes) can change at any time; links are added, refiltered or
 * stopped accordingly. Stopping a link keeps every byte of data at both
 * ends; only its outbound position (and so its hold on retention) goes.
 */
import type { Logger } from '../common/log.js'
import { MetaSpace, REPL_OUT_SPACE, type Ledger } from '../store/index.js'
import { Link, type LinkFilter, type LinkLimits, type LinkStats } from './link.js'
import { Receiver, viaOfValue, type ReceiverStats } from './receiver.js'
import { ReplicationMode, filterMatches, namespaceOf, type PlanSource, type ReplicationPlan } from './plan.js'
import { hopFrom } from './routes.js'
import type { LinkTransport } from './transport.js'
import type { WireItem } from './codec.js'
import * as C from './constants.js'
import { CursorSync, type CursorSyncStats, type ReplicatedSubscriptionHost } from './cursor-sync.js'

/**
 * Meta spaces that travel with the data (retained messages, gateway/mqtt; replicated subscriptions'
 * cursor records, cursor-sync.ts). Keys start with the full topic name.
 */
export const REPLICATED_META_SPACES: readonly string[] = [MetaSpace.retained, MetaSpace.replCursor]

export interface ReplicatorOptions {
  siteId: string
  ledger: Ledger
  transport: LinkTransport
  plan: PlanSource
  logger: Logger
  limits?: Partial<LinkLimits>
  /** Replicated subscriptions (cursor-sync.ts): the site's dispatcher surface; without it they stay local. */
  subscriptions?: ReplicatedSubscriptionHost
  /** How often cursor records are written and applied (tests may shorten it). */
  cursorSyncIntervalMs?: number
}

export interface ReplicatorStats {
  site: string
  transportConnected: boolean
  links: LinkStats[]
  received: ReceiverStats
  /** Replicated subscriptions (present when the replicator has the dispatcher's surface). */
  cursorSync?: CursorSyncStats
}

export interface Replicator {
  stats: () => ReplicatorStats
  close: () => Promise<void>
}

function defaultLimits (over: Partial<LinkLimits> = {}): LinkLimits {
  return {
    REPL_BATCH_ENTRIES_MAX: C.REPL_BATCH_ENTRIES_MAX,
    REPL_BATCH_BYTES_MAX: C.REPL_BATCH_BYTES_MAX,
    REPL_SCAN_BYTES_MAX: C.REPL_SCAN_BYTES_MAX,
    REPL_REQUEST_TIMEOUT_MS: C.REPL_REQUEST_TIMEOUT_MS,
    REPL_EMPTY_BATCH_TIMEOUT_MS: C.REPL_EMPTY_BATCH_TIMEOUT_MS,
    REPL_BACKOFF_MS_MIN: C.REPL_BACKOFF_MS_MIN,
    REPL_BACKOFF_MS_MAX: C.REPL_BACKOFF_MS_MAX,
    REPL_IDLE_POLL_MS: C.REPL_IDLE_POLL_MS,
    REPL_SKIP_ADVANCE_INTERVAL_MS: C.REPL_SKIP_ADVANCE_INTERVAL_MS,
    REPL_OUT_PERSIST_INTERVAL_MS: C.REPL_OUT_PERSIST_INTERVAL_MS,
    REPL_LINK_BACKLOG_BYTES_ALERT: C.REPL_LINK_BACKLOG_BYTES_ALERT,
    REPL_COMPRESS_BATCH_BYTES_MIN: C.REPL_COMPRESS_BATCH_BYTES_MIN,
    REPL_SHIP_PLAIN_RECORDS: C.REPL_SHIP_PLAIN_RECORDS,
    REPL_INFLIGHT_BATCHES_MAX: C.REPL_INFLIGHT_BATCHES_MAX,
    REPL_INFLIGHT_BYTES_MAX: C.REPL_INFLIGHT_BYTES_MAX,
    REPL_BATCH_COALESCE_MS: C.REPL_BATCH_COALESCE_MS,
    REPL_BATCH_COALESCE_ENTRIES_MIN: C.REPL_BATCH_COALESCE_ENTRIES_MIN,
    REPL_BATCH_COALESCE_BYTES_MIN: C.REPL_BATCH_COALESCE_BYTES_MIN,
    REPL_BATCH_COALESCE_INFLIGHT_MIN: C.REPL_BATCH_COALESCE_INFLIGHT_MIN,
    ...over
  }
}

/**
 * For each neighbour: which (namespace, origin) pairs it gets. An entry of
 * namespace N from origin O goes to neighbour X when some site D of N is
 * reached from here through X on O's path to D (routes.ts), and D has not
 * seen it yet. A site ships its own entries only for namespaces it is in.
 */
function neighboursOf (plan: ReplicationPlan, self: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  for (const [ns, r] of plan.namespaces) {
    if (!r.sites.includes(self)) continue
    for (const d of r.sites) {
      const hop = hopFrom(plan.routes, self, self, [], d)
      if (hop === undefined) continue
      let set = out.get(hop)
      if (set === undefined) { set = new Set(); out.set(hop, set) }
      set.add(ns)
    }
  }
  // Relays: a hub forwards other origins' entries of any namespace whose sites it is on the path to.
  for (const [ns, r] of plan.namespaces) {
    for (const o of r.sites) {
      if (o === self) continue
      for (const d of r.sites) {
        const hop = hopFrom(plan.routes, self, o, [], d)
        if (hop === undefined) continue
        let set = out.get(hop)
        if (set === undefined) { set = new Set(); out.set(hop, set) }
        set.add(ns)
      }
    }
  }
  return out
}

function filterFor (plan: ReplicationPlan, self: string, neighbour: string, namespaces: Set<string>): LinkFilter {
  const cache = new Map<string, boolean>()
  /** Interest mode: does some destination reached through this neighbour want this topic? */
  const wanted = (ns: string, topic: string, via: readonly string[]): boolean => {
    const rec = plan.namespaces.get(ns)
    if (rec?.mode !== ReplicationMode.interest) return true
    const local = topic.slice(ns.length + 1)
    const origin = via[0] ?? self
    return rec.sites.some((d) => hopFrom(plan.routes, self, origin, via, d) === neighbour &&
      (plan.interest?.get(d)?.[ns] ?? []).some((f) => filterMatches(f, local)))
  }
  const ships = (ns: string | undefined, via: readonly string[]): boolean => {
    if (ns === undefined || !namespaces.has(ns)) return false
    const origin = via[0] ?? self
    const key = `${ns}\u0000${via.join(',')}`
    let v = cache.get(key)
    if (v === undefined) {
      const sites = plan.namespaces.get(ns)?.sites ?? []
      v = (origin !== self || sites.includes(self)) && sites.some((d) => hopFrom(plan.routes, self, origin, via, d) === neighbour)
      cache.set(key, v)
    }
    return v
  }
  // The log tail asks for every record; runs of one topic are the rule (one remembered answer, no slice per record).
  let lastTopic: string | undefined
  let lastShips = false
  // Likewise for the link's check of each message this site made (no replicatedVia): the namespace's answer
  // (`ships` caches it per namespace and via already) without a slice, a key string and a join per message.
  // Interest mode still asks `wanted` per message (it depends on the topic and the live interest).
  let lastOwnTopic: string | undefined
  let lastOwnShips = false
  let lastOwnInterest = false
  const shipsMessage = (topic: string, via: readonly string[] | undefined): boolean => {
    if (via !== undefined && via.length > 0) {
      const ns = namespaceOf(topic)
      return ships(ns, via) && wanted(ns as string, topic, via)
    }
    if (topic !== lastOwnTopic) {
      const ns = namespaceOf(topic)
      lastOwnTopic = topic
      lastOwnShips = ships(ns, [])
      lastOwnInterest = lastOwnShips && plan.namespaces.get(ns as string)?.mode === ReplicationMode.interest
    }
    return lastOwnShips && (!lastOwnInterest || wanted(namespaceOf(topic) as string, topic, []))
  }
  return {
    topics: (topic) => {
      if (topic !== lastTopic) { lastTopic = topic; lastShips = namespaces.has(namespaceOf(topic) ?? '') }
      return lastShips
    },
    meta: (space, key) => REPLICATED_META_SPACES.includes(space) && namespaces.has(namespaceOf(key) ?? ''),
    ships: (it: WireItem) => it.kind === 'message'
      ? shipsMessage(it.topic, it.props.replicatedVia)
      : it.kind === 'plain'
        ? shipsMessage(it.topic, undefined) // plain: published here, it passed no site
        : it.kind === 'meta'
        // Keys start with the topic name (a cursor record's key goes on after a NUL: cursor-sync.ts).
        ? ships(namespaceOf(it.key), viaOfValue(it.value)) && wanted(namespaceOf(it.key) as string, it.key.split('\u0000')[0] as string, viaOfValue(it.value))
        // A cancel goes wherever the namespace goes: wherever this site's own entries go (it may have been made here,
        // whoever the entry's origin), and on along the origin's path (relays). A site that has it cancelled already
        // writes nothing, so the flood stops there; the origin applies it to its own entry.
        : ships(namespaceOf(it.topic), []) || (it.originSite !== self && ships(namespaceOf(it.topic), [it.originSite]))
  }
}

export async function startReplicator (opts: ReplicatorOptions): Promise<Replicator> {
  const logger = opts.logger
  const limits = defaultLimits(opts.limits)
  const receiver = new Receiver(opts.ledger, opts.siteId, logger)
  const stopServing = opts.transport.serve(opts.siteId, async (data) => await receiver.handle(data))
  const links = new Map<string, Link>()
  let closed = false
  let applying: Promise<void> = Promise.resolve()

  async function applyPlan (): Promise<void> {
    if (closed) return
    const plan = opts.plan.current()
    const wanted = neighboursOf(plan, opts.siteId)
    for (const [site, namespaces] of wanted) {
      const f = filterFor(plan, opts.siteId, site, namespaces)
      const existing = links.get(site)
      if (existing !== undefined) { existing.setFilter(f); continue }
      const link = new Link(site, opts.siteId, opts.ledger, opts.transport, f, limits, logger.child({ link: site }))
      links.set(site, link)
      await link.start()
      logger.info({ site, namespaces: [...namespaces] }, 'replication link started')
    }
    for (const [site, link] of links) {
      if (wanted.has(site)) continue
      links.delete(site)
      await link.close()
      // The link's hold on retention goes with it; the remote keeps every entry it has.
      for (const key of Link.positionKeys(site)) await opts.ledger.putMeta(REPL_OUT_SPACE, key, undefined)
      logger.info({ site }, 'replication link stopped (site left the plan)')
    }
  }

  const replan = (): void => {
    applying = applying.then(applyPlan).catch((err) => { logger.error({ err }, 'replication plan change failed') })
  }
  const unPlan = opts.plan.onChange(replan)
  const unAppend = opts.ledger.onAppend(() => { for (const l of links.values()) l.poke() })
  replan()
  await applying
  const cursorSync = opts.subscriptions === undefined ? undefined : new CursorSync(opts.siteId, opts.ledger, opts.subscriptions, logger.child({ component: 'cursor-sync' }), opts.cursorSyncIntervalMs)
  cursorSync?.start()

  return {
    stats: () => ({
      site: opts.siteId,
      transportConnected: opts.transport.connected(),
      links: [...links.values()].map((l) => l.stats()),
      received: { ...receiver.stats },
      ...(cursorSync !== undefined ? { cursorSync: cursorSync.stats() } : {})
    }),
    async close () {
      if (closed) return
      closed = true
      unPlan()
      unAppend()
      await cursorSync?.close()
      await applying
      stopServing()
      await Promise.all([...links.values()].map(async (l) => { await l.close() }))
      links.clear()
    }
  }
}
