/**
 * One retention pass of the file ledger: which segments nothing needs any
 * more, and deleting them in the order that makes a crash at any step safe.
 * The in-memory side (a topic's floor, trimming its index) is ledger-trim.ts;
 * this is the part that works on segment files, apart from ledger-file.ts
 * because it is a procedure of its own that the ledger runs one at a time.
 *
 * The order:
 *  1. the floor: per topic the first entry it must keep, from the
 *     acknowledgements submitted so far;
 *  2. a barrier makes every one of them durable (a failed fsync aborts the
 *     pass): the floor rests on durable acknowledgements only;
 *  3. the indexes forget the entries of the segments about to go;
 *  4. a checkpoint records that: no checkpoint left after step 5 has an
 *     index entry pointing into a deleted segment;
 *  5. segments are unlinked oldest first, the directory synced after each,
 *     so a crash leaves a shorter prefix deleted, never a gap.
 * Recovery still trims an index that points below the first segment and
 * finishes a pass that left a gap (recovery.ts), for logs written before.
 */
import type { Disk } from './disk/disk.js'
import { StoreCode, errnoCode, storeError } from './errors.js'
import type { LedgerState } from './ledger-state.js'
import { neededFrom, pruneDelayed, trimTopic } from './ledger-trim.js'
import type { LogWriter } from './log-writer.js'
import { replicationFloorLsn } from './origin-marks.js'
import type { DamageTracker } from './quarantine.js'
import { lsnOf, segmentName } from './segment.js'
import type { TopicState } from './topic-state.js'
import type { LedgerEntry } from './types.js'

/** What a retention pass works on: the ledger's state and its segment files. */
export interface RetentionHost {
  readonly state: LedgerState
  readonly disk: Disk
  readonly dir: string
  readonly writer: LogWriter
  /** The log's segment ids, oldest first (the pass replaces the array as it deletes). */
  segments: number[]
  /** Newest publish time seen in each segment. */
  readonly segmentTimes: Map<number, number>
  readonly damage: DamageTracker
  readonly isClosed: boolean
  checkpoint: (force: boolean) => Promise<void>
  /** Close the read handle of a segment about to be deleted. */
  closeSegment: (id: number) => Promise<void>
}

/** Run one pass; resolves with the number of segments deleted. */
export async function retentionPass (h: RetentionHost): Promise<number> {
  const w = h.writer
  const state = h.state
  const generation = state.stateGeneration
  const now = state.opts.nowMs()
  // 1. The floor.
  let neededLsn = w.tailLsn
  // Geo-replication: keep every record a link has not shipped yet (store/origin-marks.ts).
  const replFloor = replicationFloorLsn(state.meta)
  if (replFloor !== undefined) neededLsn = Math.min(neededLsn, replFloor + 1)
  const boundaryCache = new Map<number, number>()
  /** Lsn where the first segment holding an entry not older than ms starts. */
  const notOlderLsn = (ms: number): number => {
    let lsn = boundaryCache.get(ms)
    if (lsn === undefined) {
      lsn = Number.POSITIVE_INFINITY
      for (const id of h.segments) {
        if ((h.segmentTimes.get(id) ?? Number.NEGATIVE_INFINITY) >= ms) { lsn = lsnOf(id, 0); break }
      }
      boundaryCache.set(ms, lsn)
    }
    return lsn
  }
  const memKeep: Array<[TopicState, number]> = []
  for (const t of state.topicsByName.values()) {
    if (t.index.count === 0) continue
    if (t.mem !== null) {
      const mem = t.mem
      memKeep.push([t, neededFrom(state.opts, t, now, (ms) => {
        let i = 0
        while (i < mem.length && (mem[i] as LedgerEntry).publishTime < ms) i++
        return t.index.first + i
      })])
      continue
    }
    const keep = neededFrom(state.opts, t, now, (ms) => t.index.firstAtOrAboveLsn(notOlderLsn(ms)))
    if (keep < t.index.next) neededLsn = Math.min(neededLsn, t.index.lsnOf(keep))
  }
  // Memory topics: acknowledgements of memory cursors are never on disk; nothing to wait for.
  for (const [t, keep] of memKeep) trimTopic(t, keep)
  const doomed: number[] = []
  for (let i = 0; i + 1 < h.segments.length; i++) {
    const id = h.segments[i] as number
    if (id === w.activeSegmentId || lsnOf(h.segments[i + 1] as number, 0) > neededLsn) break
    doomed.push(id)
  }
  if (doomed.length > 0) {
    // 2. Durable acknowledgements only.
    await w.barrier(true)
    if (generation !== state.stateGeneration || h.writer !== w) throw storeError(StoreCode.FENCED, 'ledger reopened during retention')
    // 3. Forget what the doomed segments hold.
    const boundary = lsnOf((doomed[doomed.length - 1] as number) + 1, 0)
    for (const t of state.topicsByName.values()) {
      if (t.mem === null && t.index.count > 0 && t.index.lsnOf(t.index.first) < boundary) trimTopic(t, t.index.firstAtOrAboveLsn(boundary))
    }
  }
  // 4. Old segments may only go once a checkpoint holds every state they carry, trimmed indexes included.
  await h.checkpoint(doomed.length > 0)
  // 5. Oldest first, one directory sync each.
  let deleted = 0
  for (const id of doomed) {
    if (h.isClosed || generation !== state.stateGeneration) break
    await h.closeSegment(id)
    h.segments = h.segments.filter((x) => x !== id)
    try {
      await h.disk.unlink(`${h.dir}/${segmentName(id)}`)
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') {
        h.segments.unshift(id) // still there: the next pass tries again
        throw err
      }
    }
    // Copies of its quarantined damage go with it (recovery ignores copies of missing segments).
    for (const d of h.damage.list.filter((x) => x.segmentId === id)) await h.disk.unlink(`${h.dir}/${d.file}`).catch(() => {})
    h.damage.dropSegment(id)
    h.segmentTimes.delete(id)
    await h.disk.syncDir(h.dir)
    deleted++
  }
  if (deleted > 0) state.opts.onEvent('retention', { segmentsDeleted: deleted, firstSegment: h.segments[0] })
  for (const t of state.topicsByName.values()) pruneDelayed(t)
  return deleted
}
