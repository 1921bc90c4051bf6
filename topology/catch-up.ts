/**
 * Catch-up before accepting writes (active-passive namespaces): a site that
 * lost its lease refuses writes for the namespace until it has caught up
 * and is primary again; a site that becomes primary (takeover, or an
 * operator's move back) first applies what the previous primary wrote.
 *
 * The rule, per move (the primary key's mod revision R, its value naming
 * the `previous` primary P):
 *
 *  1. P, once its view shows the move (its guard refuses the namespace from
 *     then on), waits for the appends that passed its guard before, takes
 *     its log end L and writes `/handovers/{tenant}/{ns}` = {from: P,
 *     revision: R, logEndLsn: L}, fenced on the primary key still being at
 *     R. A P cut off from etcd writes it when it gets etcd back.
 *  2. The new primary refuses writes with E_PRIMARY_CATCHING_UP (retryable)
 *     until it holds, for the link from P, positions >= L on every lane
 *     (replicator receive positions, `repl-in` in its ledger): everything P
 *     wrote up to its stop has been applied here, in P's order, before any
 *     write of its own.
 *  3. Bounds: without a handover after PRIMARY_CATCHUP_SILENT_MS (P is dead
 *     or still cut off), or without the positions after
 *     PRIMARY_CATCHUP_MAX_MS (the link stays down), it accepts anyway and
 *     logs it; P's unshipped tail then arrives later, ordered after. Nothing
 *     acknowledged is lost either way: P keeps it and ships it on return.
 *
 * A finished catch-up is remembered in the ledger (meta space
 * `topology-catchup`), so a restart does not wait again for the same move.
 * Entries relayed through a hub are not covered by the positions of the
 * direct link; such a namespace ends its catch-up by the bounds.
 */
import type { Logger } from '../common/log.js'
import { LANES, REPL_IN_SPACE, laneKey, positionOf, type Ledger, type MetaValue } from '../store/index.js'
import { PRIMARY_CATCHUP_CHECK_INTERVAL_MS, PRIMARY_CATCHUP_MAX_MS, PRIMARY_CATCHUP_SILENT_MS, PRIMARY_HANDOVER_ON_STOP_MS } from './constants.js'
import { movePrimary, successorOf } from './primaries.js'
import type { TopologyClient } from './etcd-client.js'
import type { TopologyView } from './view.js'
import type { PrimaryRecord } from './types.js'

const DONE_SPACE = 'topology-catchup'

export interface CatchUpLimits { silentMs: number, maxMs: number }

export interface CatchUpDeps {
  self: string
  view: TopologyView
  client: TopologyClient
  /** The ledger underneath the write guard (the replicator applies to it). */
  ledger: Ledger
  /** Appends that passed the write guard and have not settled (primaries.ts guardedLedger). */
  inFlight: Set<Promise<unknown>>
  limits?: Partial<CatchUpLimits>
  logger: Logger
}

export interface CatchUpState {
  namespace: string
  previous: string
  revision: number
  sinceMs: number
  /** The previous primary's handover log end, once written. */
  logEndLsn?: number
  /** Lowest lane position held here for the link from the previous primary. */
  receivedLsn: number
}

export class PrimaryCatchUp {
  private readonly limits: CatchUpLimits
  /** Namespace -> the move (primary key revision) this site waits on and since when (epoch ms). */
  private readonly waiting = new Map<string, { revision: number, sinceMs: number }>()
  /** Namespace -> the move whose catch-up is finished. */
  private readonly done = new Map<string, number>()
  /** `ns@revision` handovers being written by this site. */
  private readonly sealing = new Set<string>()
  private readonly timer: NodeJS.Timeout
  private readonly stopListening: () => void
  private closed = false

  constructor (private readonly deps: CatchUpDeps) {
    this.limits = { silentMs: PRIMARY_CATCHUP_SILENT_MS, maxMs: PRIMARY_CATCHUP_MAX_MS, ...(deps.limits ?? {}) }
    for (const [ns, v] of deps.ledger.metaEntries(DONE_SPACE)) {
      const rev = (v as { revision?: unknown } | null)?.revision
      if (typeof rev === 'number') this.done.set(ns, rev)
    }
    this.stopListening = deps.view.onChange(() => { this.check() })
    this.timer = setInterval(() => { this.check() }, PRIMARY_CATCHUP_CHECK_INTERVAL_MS)
    this.timer.unref()
  }

  /** For the write guard (hot path: map lookups only): this site is primary of `ns` by `p` and still catching up. */
  catchingUp (ns: string, p: PrimaryRecord): boolean {
    if (p.previous === undefined || p.previous === this.deps.self || this.done.get(ns) === p.revision) return false
    if (this.waiting.get(ns)?.revision !== p.revision) this.waiting.set(ns, { revision: p.revision, sinceMs: Date.now() })
    return true
  }

  /** Namespaces this site is catching up on now (health). */
  states (): CatchUpState[] {
    const t = this.deps.view.current()
    const out: CatchUpState[] = []
    for (const [ns, { revision, sinceMs }] of this.waiting) {
      const p = t.primaries.get(ns)
      if (p?.previous === undefined || p.revision !== revision) continue
      const h = t.handovers.get(ns)
      const handover = h !== undefined && h.from === p.previous && h.revision === p.revision ? h : undefined
      out.push({ namespace: ns, previous: p.previous, revision: p.revision, sinceMs, ...(handover !== undefined ? { logEndLsn: handover.logEndLsn } : {}), receivedLsn: this.receivedFrom(p.previous) })
    }
    return out
  }

  /**
   * A clean stop (draining): move each namespace this site is primary of to its successor (fenced, naming this site
   * as previous); the check above then writes the handover; wait, bounded by PRIMARY_HANDOVER_ON_STOP_MS, until it
   * is in etcd and `shippedTo(successor)` (the link's lowest lane position there) has reached it, so the successor
   * catches up at once instead of waiting the silent bound. Call before the replicator stops.
   */
  async handOver (shippedTo: (site: string) => number): Promise<void> {
    if (!this.deps.view.live()) return
    const t = this.deps.view.current()
    const deadline = Date.now() + PRIMARY_HANDOVER_ON_STOP_MS
    const until = async (cond: () => boolean): Promise<boolean> => {
      while (!cond()) {
        if (Date.now() > deadline || this.closed) return false
        await new Promise((resolve) => { setTimeout(resolve, PRIMARY_CATCHUP_CHECK_INTERVAL_MS / 4).unref() })
      }
      return true
    }
    await Promise.all([...t.primaries].filter(([, p]) => p.site === this.deps.self).map(async ([ns, p]) => {
      const next = successorOf(t, ns, this.deps.self)
      if (next === undefined) return
      try {
        if (!await movePrimary(this.deps.client, ns, next, p.revision, this.deps.self)) return
        const handed = (): number | undefined => {
          const now = this.deps.view.current()
          const h = now.handovers.get(ns)
          return now.primaries.get(ns)?.site === next && h?.from === this.deps.self && h.revision === now.primaries.get(ns)?.revision ? h.logEndLsn : undefined
        }
        const sealed = await until(() => handed() !== undefined)
        const shipped = sealed && await until(() => shippedTo(next) >= (handed() ?? Number.POSITIVE_INFINITY))
        this.deps.logger.info({ namespace: ns, to: next, sealed, shipped }, 'primary handed over on stop')
      } catch (err) {
        this.deps.logger.warn({ err: String(err), namespace: ns, to: next }, 'primary hand-over on stop failed; the successor takes over when the lease is gone')
      }
    }))
  }

  close (): void {
    this.closed = true
    clearInterval(this.timer)
    this.stopListening()
  }

  /** Lowest position held here, over the lanes of the link from `site` (-1 when one never answered). */
  private receivedFrom (site: string): number {
    let low = Number.POSITIVE_INFINITY
    for (const lane of LANES) low = Math.min(low, positionOf(this.deps.ledger.getMeta(REPL_IN_SPACE, laneKey(site, lane))))
    return low
  }

  private check (): void {
    if (this.closed) return
    const t = this.deps.view.current()
    const live = this.deps.view.live()
    for (const [ns, p] of t.primaries) {
      // 1. We were the primary before this move: say where we stopped.
      if (p.previous === this.deps.self && p.site !== this.deps.self && live) {
        const h = t.handovers.get(ns)
        if ((h === undefined || h.from !== this.deps.self || h.revision !== p.revision) && !this.sealing.has(`${ns}@${p.revision}`)) this.seal(ns, p)
        continue
      }
      // 2. We are the new primary: done once we hold everything up to the handover, or by the bounds.
      if (p.site !== this.deps.self) { this.waiting.delete(ns); continue }
      if (p.previous === undefined || p.previous === this.deps.self || this.done.get(ns) === p.revision) continue
      let w = this.waiting.get(ns)
      if (w?.revision !== p.revision) { w = { revision: p.revision, sinceMs: Date.now() }; this.waiting.set(ns, w) }
      const since = w.sinceMs
      const h = t.handovers.get(ns)
      const handover = h !== undefined && h.from === p.previous && h.revision === p.revision ? h : undefined
      const waitedMs = Date.now() - since
      if (handover !== undefined && this.receivedFrom(p.previous) >= handover.logEndLsn) this.finish(ns, p, 'caught up with the previous primary', { logEndLsn: handover.logEndLsn, waitedMs })
      else if (handover === undefined && waitedMs >= this.limits.silentMs) this.finish(ns, p, 'no handover from the previous primary in time: accepting writes; its unshipped entries will arrive later', { waitedMs })
      else if (waitedMs >= this.limits.maxMs) this.finish(ns, p, 'previous primary\'s entries not all received in time: accepting writes; the rest will arrive later', { logEndLsn: handover?.logEndLsn, received: this.receivedFrom(p.previous), waitedMs })
    }
  }

  private finish (ns: string, p: PrimaryRecord, why: string, details: Record<string, unknown>): void {
    this.done.set(ns, p.revision)
    this.waiting.delete(ns)
    const log = why.startsWith('caught up') ? this.deps.logger.info.bind(this.deps.logger) : this.deps.logger.warn.bind(this.deps.logger)
    log({ namespace: ns, previous: p.previous, revision: p.revision, ...details }, `primary catch-up: ${why}`)
    this.deps.ledger.putMeta(DONE_SPACE, ns, { revision: p.revision } as MetaValue).catch((err: unknown) => { this.deps.logger.warn({ err, namespace: ns }, 'primary catch-up mark not saved') })
  }

  /** Wait for the appends that passed the guard, then write the handover with our log end. Retried on the next check when it fails. */
  private seal (ns: string, p: PrimaryRecord): void {
    const key = `${ns}@${p.revision}`
    this.sealing.add(key)
    void (async () => {
      await Promise.all([...this.deps.inFlight])
      const logEndLsn = this.deps.ledger.lastLsn()
      const ok = await this.deps.client.putHandover(ns, { from: this.deps.self, revision: p.revision, logEndLsn })
      this.deps.logger.info({ namespace: ns, to: p.site, revision: p.revision, logEndLsn, written: ok }, ok ? 'primary handover written: stopped writing here' : 'primary handover not written: the primary moved again')
    })().catch((err: unknown) => {
      this.deps.logger.warn({ err: String(err), namespace: ns }, 'primary handover failed; retrying')
    }).finally(() => {
      // On success the view soon shows the handover; on failure the next check tries again.
      setTimeout(() => { this.sealing.delete(key) }, PRIMARY_CATCHUP_CHECK_INTERVAL_MS * 5).unref()
    })
  }
}
