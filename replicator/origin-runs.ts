/**
 * The origin map of one topic at one site: which local entry ids hold which
 * (originSite, originEntryId), for the entries replicated subscriptions still
 * care about. Entry ids differ between sites; acknowledgements travel in
 * origin coordinates (cursor-sync.ts) and are mapped back here.
 *
 * A link applies one origin's entries of a lane in order, so they arrive as
 * *runs*: consecutive local ids with consecutive origin ids, broken only
 * where another origin's (or this site's own) entries interleave. A run is
 * (localStart, origin, originStart, length). This site's own entries have no
 * run: their origin id is their local id.
 *
 * Bounds: runs cover local ids from `low` (the lowest position any
 * replicated cursor of the topic here still needs) to `scannedThrough` (the
 * map reads the topic's entries, REPL_CURSOR_MAP_SCAN_ENTRIES_PER_TICK per
 * tick); runs below `low` are dropped, and at most REPL_CURSOR_MAP_RUNS_MAX
 * are kept (`full`: scanning pauses until acknowledgements free some).
 * Nothing is persisted: after a restart the map is read again from the
 * cursors' positions.
 */
import type { Ledger } from '../store/index.js'
import { intersectInterval, normalise, type Ranges } from './cursor-ranges.js'
import { REPL_CURSOR_MAP_READ_ENTRIES_MAX, REPL_CURSOR_MAP_RUNS_MAX } from './cursor-sync-limits.js'

interface Run { local: number, origin: string, originStart: number, length: number }

export class OriginRuns {
  private runs: Run[] = []
  /** Local ids below are not covered (no longer needed). */
  low: number
  /** Last local id examined (-1 less than low before the first read). */
  scannedThrough: number

  constructor (readonly topic: string, private readonly self: string, low: number, private readonly runsMax = REPL_CURSOR_MAP_RUNS_MAX) {
    this.low = low
    this.scannedThrough = low - 1
  }

  get runCount (): number { return this.runs.length }
  get full (): boolean { return this.runs.length >= this.runsMax }

  /** Forget runs wholly below `low`; a lower `low` than held cannot be served (those ids were not read). */
  trim (low: number): void {
    if (low <= this.low) return
    this.low = low
    let drop = 0
    while (drop < this.runs.length) {
      const r = this.runs[drop] as Run
      if (r.local + r.length - 1 >= low) break
      drop++
    }
    if (drop > 0) this.runs.splice(0, drop)
    if (this.scannedThrough < low - 1) this.scannedThrough = low - 1
  }

  /** Read the topic's entries after scannedThrough, at most `budget` of them. Returns entries read. */
  async extend (ledger: Ledger, budget: number): Promise<number> {
    let read = 0
    while (read < budget && !this.full) {
      const info = ledger.topicInfo(this.topic)
      if (info === undefined || this.scannedThrough >= info.nextEntryId - 1) break
      const from = Math.max(this.scannedThrough + 1, info.firstEntryId)
      const entries = await ledger.read(this.topic, from, { maxEntries: Math.min(REPL_CURSOR_MAP_READ_ENTRIES_MAX, budget - read) })
      if (entries.length === 0) { this.scannedThrough = Math.max(this.scannedThrough, from - 1); break }
      for (const e of entries) {
        if (e.entryId <= this.scannedThrough) continue
        this.note(e.entryId, e.props.originSite, e.props.originEntryId)
        this.scannedThrough = e.entryId
        if (this.full) break
      }
      read += entries.length
    }
    return read
  }

  private note (local: number, origin: string | undefined, originId: number | undefined): void {
    if (origin === undefined || origin === this.self || originId === undefined) return // own entry: its id is its origin id
    const last = this.runs[this.runs.length - 1]
    if (last !== undefined && last.origin === origin && last.local + last.length === local && last.originStart + last.length === originId) {
      last.length++
      return
    }
    this.runs.push({ local, origin, originStart: originId, length: 1 })
  }

  /** Is local id `id` covered (read, and not below low)? */
  covers (id: number): boolean { return id >= this.low && id <= this.scannedThrough }

  /** Local ranges -> per origin, origin-id ranges (only replicated entries; own entries are not listed). */
  toOrigin (local: Ranges): Map<string, Ranges> {
    const out = new Map<string, number[]>()
    if (local.length === 0) return out
    for (const r of this.runs) {
      const parts = intersectInterval(local, r.local, r.local + r.length - 1)
      if (parts.length === 0) continue
      let list = out.get(r.origin)
      if (list === undefined) { list = []; out.set(r.origin, list) }
      for (let i = 0; i < parts.length; i += 2) {
        list.push((parts[i] as number) - r.local + r.originStart, (parts[i + 1] as number) - r.local + r.originStart)
      }
    }
    for (const [o, l] of out) out.set(o, normalise(l))
    return out
  }

  /** One origin's id ranges -> the local ranges of those entries that are here (and covered). */
  toLocal (origin: string, ids: Ranges): Ranges {
    const out: number[] = []
    if (ids.length === 0) return out
    for (const r of this.runs) {
      if (r.origin !== origin) continue
      const parts = intersectInterval(ids, r.originStart, r.originStart + r.length - 1)
      for (let i = 0; i < parts.length; i += 2) {
        out.push((parts[i] as number) - r.originStart + r.local, (parts[i + 1] as number) - r.originStart + r.local)
      }
    }
    return normalise(out)
  }
}
