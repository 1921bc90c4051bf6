/**
 * Runs of replicated records in the log, by the site they came from, so a
 * link back to that site steps over them without reading them.
 *
 * A link never ships a record back to a site it passed (loop prevention:
 * log-tail.ts `skipVia`), and a site that receives from another holds long
 * runs of exactly such records: site b's link back to a walked every entry
 * b applied from a, frame header and route peek each (~0.35–1 µs per entry,
 * session 8), only to leave it out. Each batch the receiver appends is one
 * synchronous run of contiguous frames (ledger-replicated.ts) whose every
 * record names the sender in its replicatedVia; noted here once fsynced, the
 * tail reader of a link to that sender skips the run whole.
 *
 * Exact by construction: a run holds only frames written back to back by one
 * appendReplicated call (no other record between them, one segment), every
 * one a message whose replicatedVia names `site`, which `skipVia` leaves out
 * anyway. A run is noted only once its bytes are fsynced: recovery never
 * takes those back, so their lsns are never reused by other records. Kept in
 * memory only (a restarted site walks as before), bounded per site.
 */
import type { Lsn } from './types.js'

/** Runs kept per site (the newest; one per received batch: a few seconds of a busy link). */
export const VIA_RUNS_PER_SITE_MAX = 4096
/** Sites whose runs are kept (a site has a few neighbours; runs through more are walked as before). */
export const VIA_RUN_SITES_MAX = 64

/** Frames [firstLsn, endLsn) of one segment, each a message whose replicatedVia names the run's site; lastLsn is the last frame's. */
export interface ViaRun { firstLsn: Lsn, lastLsn: Lsn, endLsn: Lsn }

export class ViaRuns {
  private readonly bySite = new Map<string, ViaRun[]>()

  /** A run of frames that came through `site` (ascending lsns across calls); merged into the previous one when it continues it. */
  note (site: string, run: ViaRun): void {
    let runs = this.bySite.get(site)
    if (runs === undefined) {
      if (this.bySite.size >= VIA_RUN_SITES_MAX) return
      runs = []
      this.bySite.set(site, runs)
    }
    const last = runs[runs.length - 1]
    if (last !== undefined && run.firstLsn < last.endLsn) return // not after what is held: never expected, and never trusted
    if (last !== undefined && last.endLsn === run.firstLsn) {
      last.lastLsn = run.lastLsn
      last.endLsn = run.endLsn
      return
    }
    runs.push(run)
    if (runs.length > VIA_RUNS_PER_SITE_MAX) runs.splice(0, runs.length - VIA_RUNS_PER_SITE_MAX / 2)
  }

  /** The runs of `site`, ascending; the reader walks them along with its position. */
  of (site: string): readonly ViaRun[] | undefined {
    return this.bySite.get(site)
  }
}

/** The index of the first run of `runs` that ends after `lsn` (runs.length when none). */
export function firstRunAfter (runs: readonly ViaRun[], lsn: Lsn): number {
  let lo = 0
  let hi = runs.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((runs[mid] as ViaRun).endLsn <= lsn) lo = mid + 1
    else hi = mid
  }
  return lo
}
