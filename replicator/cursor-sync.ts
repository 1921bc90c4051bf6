/**
 * Replicated subscriptions: acknowledgements that travel, so a consumer that
 * fails over to another site resumes near where it stopped (duplicates
 * bounded by the lag, never a loss). Individual acknowledgements travel, not
 * only the mark-delete position (Pulsar syncs only the latter).
 *
 * Every REPL_CURSOR_SYNC_INTERVAL_MS, at each site:
 *  1. Send: for each replicated cursor here whose state changed, the entries
 *     acknowledged since the last record are translated into origin
 *     coordinates (origin-runs.ts: this site's own entries are their own
 *     origin; replicated ones carry originSite/originEntryId) and added to the
 *     cursor's record: per origin site, the ranges of origin entry ids this
 *     site's consumers have acknowledged (at most REPL_CURSOR_RANGES_MAX each).
 *     The record is one meta value (space `repl-cursor`, key topic NUL site NUL
 *     cursor), so it travels in the link's control lane like a retained value,
 *     in order, relayed through hubs, never back to where it came from; the
 *     latest value per key is what a site keeps (one record per cursor per
 *     interval, whatever the number of acks).
 *  2. Apply: for each record of another site, the subscription is created
 *     here if absent (same namespace, filter, name and mode; from the
 *     earliest entry), and the named entries that are here are mapped to
 *     local ids and acknowledged. A record that names entries not here yet
 *     (an ack that overtook its entry) stays in the meta space and is applied
 *     again whenever more entries have arrived: nothing is lost, nothing
 *     misapplied (ids are matched by origin, never by local id).
 *
 * Only what a consumer acknowledged, on an entry that was here, is ever
 * claimed; whatever is not claimed (cut by a bound, older history, an entry
 * the map no longer covers) is delivered again after a failover.
 */
import type { Logger } from '../common/log.js'
import { MetaSpace, type Cursor, type Ledger, type MetaValue } from '../store/index.js'
import { firstRanges, flatPairs, intersectInterval, isRanges, sameRanges, subtract, union, type Ranges } from './cursor-ranges.js'
import * as L from './cursor-sync-limits.js'
import { OriginRuns } from './origin-runs.js'

/** A replicated subscription at this site (gateway/dispatch/replicated.ts implements the host). */
export interface ReplicatedSubscriptionRef {
  namespace: string
  filter: string
  name: string
  mode: string
  cursorName: string
  topics: string[]
}

/** What cursor sync needs from the site's dispatcher. */
export interface ReplicatedSubscriptionHost {
  list: () => ReplicatedSubscriptionRef[]
  ensure: (def: { namespace: string, filter: string, name: string, mode: string }) => Promise<void>
  ackRemote: (def: { namespace: string, filter: string, name: string }, topic: string, ids: readonly number[]) => Promise<number>
}

export interface CursorSyncStats {
  /** Cursor records this site wrote (each travels to the namespace's other sites). */
  recordsWritten: number
  /** Entries acknowledged here because a consumer elsewhere acknowledged them. */
  remoteAcksApplied: number
  /** Records of other sites held here. */
  remoteCursors: number
  /**
   * Of those, records not applied in full at the last look (their subscription or topic is not here yet, or the
   * per-interval bound cut them). Every record is applied again whenever more of its topic's entries have arrived.
   */
  remotePending: number
  /** Subscriptions created here because another site has them. */
  subscriptionsCreated: number
  /** Runs of the origin maps (bounded per topic by REPL_CURSOR_MAP_RUNS_MAX). */
  mapRuns: number
}

/** The record of one cursor at one site. */
interface CursorRecord {
  site: string
  topic: string
  namespace: string
  filter: string
  name: string
  mode: string
  seq: number
  /** The writer's cursor when written (its baseline after a restart). */
  md: number
  r: Ranges
  /** Per origin site: acknowledged origin entry ids. */
  o: Record<string, Ranges>
}

interface Baseline { md: number, r: Ranges, o: Record<string, Ranges>, seq: number, written: boolean }
interface Applied { seq: number, scanned: number, done: boolean }

export function cursorRecordKey (topic: string, site: string, cursorName: string): string {
  return `${topic}\u0000${site}\u0000${cursorName}`
}

function recordValue (r: CursorRecord): MetaValue {
  return { v: 1, site: r.site, topic: r.topic, namespace: r.namespace, filter: r.filter, name: r.name, mode: r.mode, seq: r.seq, md: r.md, r: r.r, o: r.o }
}

/** A record from the meta space (another site's bytes: checked), or undefined (tombstone, unreadable). */
export function parseCursorRecord (v: MetaValue | undefined): CursorRecord | undefined {
  if (v === null || v === undefined || typeof v !== 'object' || Array.isArray(v) || Buffer.isBuffer(v)) return undefined
  const d = v as Record<string, unknown>
  if (d.v !== 1 || d.tombstone === true) return undefined
  const str = (x: unknown): x is string => typeof x === 'string' && x.length > 0
  if (!str(d.site) || !str(d.topic) || !str(d.namespace) || !str(d.filter) || !str(d.name) || !str(d.mode)) return undefined
  if (!Number.isSafeInteger(d.seq) || !Number.isSafeInteger(d.md) || !isRanges(d.r)) return undefined
  if (d.o === null || typeof d.o !== 'object' || Array.isArray(d.o)) return undefined
  const o: Record<string, Ranges> = {}
  for (const [site, ranges] of Object.entries(d.o as Record<string, unknown>)) {
    if (!isRanges(ranges)) return undefined
    o[site] = ranges
  }
  return { site: d.site, topic: d.topic, namespace: d.namespace, filter: d.filter, name: d.name, mode: d.mode, seq: d.seq as number, md: d.md as number, r: d.r, o }
}

/** Let other work run (a tick over many cursors must not hold the event loop). */
async function yieldLoop (): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve))
}

function subKeyOf (d: { namespace: string, filter: string, name: string }): string {
  return `${d.namespace}\u0000${d.filter}\u0000${d.name}`
}

export class CursorSync {
  private readonly maps = new Map<string, OriginRuns>()
  private readonly own = new Map<string, Baseline>()
  private readonly applied = new Map<string, Applied>()
  private readonly ensured = new Set<string>()
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> = Promise.resolve()
  private closed = false
  private readonly s = { recordsWritten: 0, remoteAcksApplied: 0, subscriptionsCreated: 0 }
  private remoteCursors = 0
  private remotePending = 0
  /** Where the next tick starts writing (round robin under REPL_CURSOR_SYNC_CURSORS_PER_TICK_MAX). */
  private turn = 0

  constructor (
    private readonly self: string,
    private readonly ledger: Ledger,
    private readonly host: ReplicatedSubscriptionHost,
    private readonly logger: Logger,
    private readonly intervalMs = L.REPL_CURSOR_SYNC_INTERVAL_MS
  ) {}

  start (): void {
    const schedule = (): void => {
      if (this.closed) return
      this.timer = setTimeout(() => {
        this.running = this.tick().catch((err: unknown) => { this.logger.warn({ err }, 'replicated subscriptions: sync failed; retrying') }).finally(schedule)
      }, this.intervalMs)
      this.timer.unref()
    }
    schedule()
  }

  async close (): Promise<void> {
    this.closed = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    await this.running
  }

  stats (): CursorSyncStats {
    let runs = 0
    for (const m of this.maps.values()) runs += m.runCount
    return { ...this.s, remoteCursors: this.remoteCursors, remotePending: this.remotePending, mapRuns: runs }
  }

  /** One round: send what changed here, apply what arrived. Exposed for tests. */
  async tick (): Promise<void> {
    if (this.closed) return
    const mine: Array<{ key: string, sub: ReplicatedSubscriptionRef, topic: string, cursor: Cursor }> = []
    let n = 0
    for (const sub of this.host.list()) {
      this.ensured.add(subKeyOf(sub))
      for (const topic of sub.topics) {
        const cursor = this.ledger.cursors(topic).find((c) => c.subscription === sub.cursorName)
        if (cursor !== undefined) mine.push({ key: cursorRecordKey(topic, this.self, sub.cursorName), sub, topic, cursor })
        if (++n % L.REPL_CURSOR_SYNC_YIELD_EVERY_CURSORS === 0) await yieldLoop()
      }
    }
    for (const m of mine) this.baselineOf(m.key, m.topic, m.cursor)
    await this.refreshMaps(mine)
    // Round robin from where the last tick stopped, so that a bound reached every tick starves no cursor.
    let written = 0
    const start = mine.length === 0 ? 0 : this.turn % mine.length
    for (let i = 0; i < mine.length; i++) {
      if (written >= L.REPL_CURSOR_SYNC_CURSORS_PER_TICK_MAX || this.closed) { this.turn = start + i; break }
      if (i > 0 && i % L.REPL_CURSOR_SYNC_YIELD_EVERY_CURSORS === 0) await yieldLoop()
      const m = mine[(start + i) % mine.length] as typeof mine[number]
      if (await this.send(m.key, m.sub, m.topic, m.cursor)) written++
    }
    await this.applyRemote(mine)
    await this.forgetGone(new Set(mine.map((m) => m.key)))
  }

  /** The state a cursor's next record is computed from: the last record (also after a restart), or a first look. */
  private baselineOf (key: string, topic: string, cursor: Cursor): Baseline {
    let b = this.own.get(key)
    if (b !== undefined) return b
    const stored = parseCursorRecord(this.ledger.getMeta(MetaSpace.replCursor, key))
    if (stored !== undefined && stored.site === this.self) {
      b = { md: stored.md, r: stored.r, o: stored.o, seq: stored.seq, written: true }
    } else {
      // First look: the entries just below the start count as acknowledged (the subscription starts after them),
      // but only entries that are here: ids retention removed are never claimed.
      const first = this.ledger.topicInfo(topic)?.firstEntryId ?? 0
      const md = cursor.markDelete()
      b = { md: Math.max(first - 1, md - L.REPL_CURSOR_HISTORY_ENTRIES_MAX), r: [], o: {}, seq: 0, written: false }
    }
    this.own.set(key, b)
    return b
  }

  /** Bring each topic's origin map to what its cursors need: from the lowest baseline on, read as far as the topic goes. */
  private async refreshMaps (mine: ReadonlyArray<{ key: string, topic: string }>): Promise<void> {
    const lows = new Map<string, number>()
    for (const m of mine) {
      const b = this.own.get(m.key) as Baseline
      const low = b.md + 1
      lows.set(m.topic, Math.min(lows.get(m.topic) ?? low, low))
    }
    for (const topic of this.maps.keys()) if (!lows.has(topic)) this.maps.delete(topic)
    let n = 0
    for (const [topic, low] of lows) {
      if (++n % L.REPL_CURSOR_SYNC_YIELD_EVERY_CURSORS === 0) await yieldLoop()
      let map = this.maps.get(topic)
      if (map === undefined || low < map.low) {
        map = new OriginRuns(topic, this.self, low)
        this.maps.set(topic, map)
      }
      map.trim(low)
      try {
        await map.extend(this.ledger, L.REPL_CURSOR_MAP_SCAN_ENTRIES_PER_TICK)
      } catch (err) {
        // A read that fails (damaged record) stops this topic's map where it is: its acks wait (or are redelivered), the others go on.
        this.logger.warn({ err, topic }, 'replicated subscription: reading the origin map failed; retrying')
      }
    }
  }

  /** Write this cursor's record if it changed. Returns whether it wrote. */
  private async send (key: string, sub: ReplicatedSubscriptionRef, topic: string, cursor: Cursor): Promise<boolean> {
    const b = this.own.get(key) as Baseline
    const md = cursor.markDelete()
    const r = flatPairs(cursor.ackedRanges())
    if (b.written && md === b.md && sameRanges(r, b.r)) return false
    const map = this.maps.get(topic) as OriginRuns
    // What was acknowledged since the last record (everything above the baseline's mark-delete that it did not hold).
    const newly = subtract(union(md > b.md ? [b.md + 1, md] : [], r), b.r)
    const highest = newly.length === 0 ? -1 : newly[newly.length - 1] as number
    // Not read that far yet: wait for the map (next tick), unless it is full and waits for acks itself.
    if (highest > map.scannedThrough && !map.full) return false
    const o: Record<string, Ranges> = { ...b.o }
    // This site's own entries: their origin id is the local id. Ids of replicated entries claimed here name no
    // entry of this origin anywhere (each site numbers its own), so the whole local set goes in as is.
    const first = this.ledger.topicInfo(topic)?.firstEntryId ?? 0
    const ownNew = intersectInterval(newly, first, Number.MAX_SAFE_INTEGER)
    o[this.self] = firstRanges(union(o[this.self] ?? [], ownNew), L.REPL_CURSOR_RANGES_MAX)
    const covered = intersectInterval(newly, map.low, map.scannedThrough)
    for (const [origin, ids] of map.toOrigin(covered)) {
      o[origin] = firstRanges(union(o[origin] ?? [], ids), L.REPL_CURSOR_RANGES_MAX)
    }
    const rec: CursorRecord = { site: this.self, topic, namespace: sub.namespace, filter: sub.filter, name: sub.name, mode: sub.mode, seq: b.seq + 1, md, r: firstRanges(r, L.REPL_CURSOR_RANGES_MAX), o }
    await this.ledger.putMeta(MetaSpace.replCursor, key, recordValue(rec))
    this.own.set(key, { md, r, o, seq: rec.seq, written: true })
    this.s.recordsWritten++
    return true
  }

  /** Apply every other site's records: create missing subscriptions, acknowledge the entries named that are here. */
  private async applyRemote (mine: ReadonlyArray<{ sub: ReplicatedSubscriptionRef, topic: string, cursor: Cursor }>): Promise<void> {
    let count = 0
    let pending = 0
    const seen = new Set<string>()
    const byRef = new Map(mine.map((m) => [`${m.topic}\u0000${subKeyOf(m.sub)}`, m]))
    let n = 0
    for (const [key, value] of [...this.ledger.metaEntries(MetaSpace.replCursor)]) {
      if (this.closed) return
      if (++n % L.REPL_CURSOR_SYNC_YIELD_EVERY_CURSORS === 0) await yieldLoop()
      const rec = parseCursorRecord(value)
      if (rec === undefined || rec.site === this.self) continue
      count++
      seen.add(key)
      const sk = subKeyOf(rec)
      if (!this.ensured.has(sk)) {
        try {
          await this.host.ensure(rec)
        } catch (err) {
          // E.g. a namespace this site does not have (yet): the record waits, applied once the subscription can exist.
          this.logger.debug({ err, subscription: rec.name, namespace: rec.namespace }, 'replicated subscription not created here yet')
          pending++
          continue
        }
        this.ensured.add(sk)
        this.s.subscriptionsCreated++
        pending++
        continue // its cursors materialise; applied next tick
      }
      const here = byRef.get(`${rec.topic}\u0000${sk}`)
      const map = this.maps.get(rec.topic)
      if (here === undefined || map === undefined) { pending++; continue } // the topic (or its cursor) is not here yet
      const last = this.applied.get(key)
      if (last !== undefined && last.seq === rec.seq && last.scanned === map.scannedThrough && last.done) continue
      let done = false
      try {
        done = await this.applyOne(rec, here.cursor, map)
      } catch (err) {
        // One record that cannot be applied now (ledger refusing, subscription going) must not stall the others.
        this.logger.warn({ err, key: key.replace(/\u0000/g, ' '), site: rec.site }, 'replicated subscription: applying a cursor record failed; retrying')
      }
      if (!done) pending++
      this.applied.set(key, { seq: rec.seq, scanned: map.scannedThrough, done })
    }
    for (const key of this.applied.keys()) if (!seen.has(key)) this.applied.delete(key)
    this.remoteCursors = count
    this.remotePending = pending
  }

  /** Acknowledge here what one record names. Returns false when something it names could not be applied yet. */
  private async applyOne (rec: CursorRecord, cursor: Cursor, map: OriginRuns): Promise<boolean> {
    const end = (this.ledger.topicInfo(rec.topic)?.nextEntryId ?? 0) - 1
    const from = cursor.markDelete() + 1
    if (end < from) return true
    let local: Ranges = []
    let complete = true
    for (const [origin, ids] of Object.entries(rec.o)) {
      if (origin === this.self) {
        local = union(local, intersectInterval(ids, from, end))
        if (ids.length > 0 && (ids[ids.length - 1] as number) > end) complete = false // named, not here yet (cannot be: our own)
      } else {
        local = union(local, map.toLocal(origin, ids))
        complete &&= map.scannedThrough >= end
      }
    }
    const todo = subtract(intersectInterval(local, from, end), flatPairs(cursor.ackedRanges()))
    const ids: number[] = []
    for (let i = 0; i < todo.length && ids.length < L.REPL_CURSOR_APPLY_IDS_MAX; i += 2) {
      for (let id = todo[i] as number; id <= (todo[i + 1] as number) && ids.length < L.REPL_CURSOR_APPLY_IDS_MAX; id++) ids.push(id)
    }
    let truncated = false
    let total = 0
    for (let i = 0; i < todo.length; i += 2) total += (todo[i + 1] as number) - (todo[i] as number) + 1
    truncated = total > ids.length
    if (ids.length > 0) this.s.remoteAcksApplied += await this.host.ackRemote(rec, rec.topic, ids)
    // Entries named that are not here yet stay named in the record: it is applied again as the map reads further.
    return complete && !truncated
  }

  /** A replicated subscription deleted here: its record goes (a tombstone travels; the other sites keep their subscriptions). */
  private async forgetGone (current: Set<string>): Promise<void> {
    for (const key of [...this.own.keys()]) {
      if (current.has(key)) continue
      const b = this.own.get(key) as Baseline
      this.own.delete(key)
      if (b.written) await this.ledger.putMeta(MetaSpace.replCursor, key, undefined)
    }
  }
}
