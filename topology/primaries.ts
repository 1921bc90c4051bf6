/**
 * Active-passive namespaces: one primary site accepts writes, the others
 * hold replicas. A namespace is active-passive when it has a key
 * `/ferry/{network}/primaries/{tenant}/{ns}` = {"site"}; otherwise it is
 * active-active (every site accepts publishes; the default).
 *
 * Fencing: the primary moves only by an etcd transaction that compares the
 * key's mod revision with the one the mover saw; that revision is the
 * fencing token: of two sites racing to take over, one wins, and a move
 * based on an old view fails. A site accepts writes for an active-passive
 * namespace only while (a) etcd names it primary and (b) its view of etcd is
 * live (connected, its liveness lease held). A site that lost etcd (and with
 * it, soon, its lease) refuses writes for that namespace at once, and keeps
 * refusing after it reconnects unless it is primary again; what the new
 * primary accepted meanwhile reaches it by replication.
 *
 * Takeover: when the primary's liveness key is gone, the first live site of
 * the namespace's list (by site preference, then list order) moves the
 * primary to itself.
 */
import { FerryError } from '../common/errors.js'
import type { Logger } from '../common/log.js'
import type { AppendInput, AppendSink, Ledger, TopicName } from '../store/index.js'
import { namespaceOf } from '../replicator/index.js'
import { Kind, keyOf } from './keys.js'
import { TopologyCode } from './errors.js'
import { encodePrimary } from './codec.js'
import { ALIVE_LEASE_TTL_S } from './constants.js'
import type { TopologyClient } from './etcd-client.js'
import type { TopologyView } from './view.js'
import type { PrimaryRecord, Topology } from './types.js'

/**
 * Refuse appends of topics the guard refuses; everything else goes straight to the ledger. `inFlight` (optional)
 * holds the appends that passed the guard and are not settled yet: a primary that stops writing waits for them
 * before it names its log end in the handover (catch-up.ts).
 */
export function guardedLedger (raw: Ledger, refuse: (topic: TopicName) => FerryError | undefined, inFlight?: Set<Promise<unknown>>): Ledger {
  const track = <T>(p: Promise<T>): Promise<T> => {
    if (inFlight === undefined) return p
    const settled = p.then(() => {}, () => {})
    inFlight.add(settled)
    void settled.then(() => { inFlight.delete(settled) })
    return p
  }
  return new Proxy(raw, {
    get (target, prop) {
      if (prop === 'append') {
        return async (input: Parameters<Ledger['append']>[0]) => {
          const err = refuse(input.topic)
          if (err !== undefined) throw err
          return await track(target.append(input))
        }
      }
      if (prop === 'appendTo') {
        return (input: AppendInput, sink: AppendSink): void => {
          const err = refuse(input.topic)
          if (err !== undefined) { sink.appendFailed(err); return }
          if (inFlight === undefined) { target.appendTo(input, sink); return }
          // Tracked as append is (the promise only here, with a topology: not on a single site's hot path).
          track(new Promise<void>((resolve, reject) => {
            target.appendTo(input, {
              appended (entryId, lsn, duplicate) { resolve(); sink.appended(entryId, lsn, duplicate) },
              appendFailed (e) { reject(e); sink.appendFailed(e) }
            })
          })).catch(() => {})
        }
      }
      if (prop === 'appendMany') {
        return async (inputs: Parameters<Ledger['appendMany']>[0]) => {
          for (const i of inputs) { const err = refuse(i.topic); if (err !== undefined) throw err }
          return await track(target.appendMany(inputs))
        }
      }
      const v = Reflect.get(target, prop, target) as unknown
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    }
  })
}

/**
 * Why this site may not write to a topic now, or undefined when it may. `catchingUp`: this site became primary
 * and has not yet applied what the previous primary wrote (catch-up.ts): a retryable refusal meanwhile.
 */
export function writeRefusal (t: Topology, self: string, live: boolean, topic: TopicName, catchingUp?: (ns: string, p: PrimaryRecord) => boolean): FerryError | undefined {
  const ns = namespaceOf(topic)
  if (ns === undefined) return undefined
  const p = t.primaries.get(ns)
  if (p === undefined) return undefined
  if (p.site === self && live) {
    if (catchingUp?.(ns, p) !== true) return undefined
    return new FerryError(TopologyCode.CATCHING_UP, `namespace ${ns}: this site just became its primary and is applying what site ${p.previous ?? '?'} wrote before; retry shortly`, { details: { namespace: ns, primary: self, previous: p.previous } })
  }
  const target = t.sites.get(p.site)
  return new FerryError(TopologyCode.NOT_PRIMARY, p.site === self
    ? `namespace ${ns} is active-passive and this site lost its view of etcd: writes refused until it is confirmed primary again`
    : `namespace ${ns} is active-passive: publish at its primary, site ${p.site}`, { details: { namespace: ns, primary: p.site, endpoints: target?.endpoints ?? {} } })
}

/** Move a namespace's primary, fenced by the revision the caller saw (0: the key must not exist). */
export async function movePrimary (client: TopologyClient, namespace: string, site: string, seenRevision: number, previous?: string): Promise<boolean> {
  const key = keyOf(client.network, Kind.primaries, namespace)
  // The value names the primary before (the one the new primary catches up with, catch-up.ts).
  const txn = client.etcd.if(key, 'Mod', '==', seenRevision).then(client.etcd.put(key).value(encodePrimary(site, previous)))
  const res = await txn.commit()
  return res.succeeded
}

/** The first live site of a namespace's list (by site preference, then list order), other than `except`: who takes over. */
export function successorOf (t: Topology, ns: string, except?: string): string | undefined {
  const order = (t.namespaces.get(ns)?.replication.sites ?? []).slice().sort((a, b) => (t.sites.get(a)?.preference ?? 100) - (t.sites.get(b)?.preference ?? 100))
  return order.find((s) => s !== except && t.alive.has(s))
}

/** Watches for a dead primary and takes over when this site is next in line. */
export function followPrimaries (view: TopologyView, client: TopologyClient, self: string, logger: Logger): () => void {
  let busy = false
  // A primary that is starting too has no liveness key yet: no takeover in this site's first lease TTL.
  const startedMs = Date.now()
  const check = (): void => {
    if (busy || view.health().etcd !== 'connected' || Date.now() - startedMs < ALIVE_LEASE_TTL_S * 1000) return
    const t = view.current()
    for (const [ns, p] of t.primaries) {
      if (t.alive.has(p.site) || p.site === self) continue
      if (successorOf(t, ns) !== self) continue
      busy = true
      movePrimary(client, ns, self, p.revision, p.site).then((won) => {
        logger.warn({ namespace: ns, from: p.site, to: self, fencingRevision: p.revision, won }, won ? 'primary moved here (previous primary lost its lease)' : 'primary takeover lost the race')
      }, (err) => { logger.warn({ namespace: ns, err: String(err) }, 'primary takeover failed') }).finally(() => { busy = false })
      return
    }
  }
  const stop = view.onChange(check)
  const timer = setInterval(check, 1000)
  timer.unref()
  return () => { stop(); clearInterval(timer) }
}
