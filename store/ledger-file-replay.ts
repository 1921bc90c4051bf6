/**
 * Bringing the file ledger's in-memory state back from its directory, and
 * checking later what that skipped. recovery.ts knows segments, frames and
 * checkpoints; this knows topics: it applies the checkpoint's snapshot and
 * every record after it to the state, keeps the entry ids of damaged ranges
 * from reuse (placeholders, quarantine.ts), files the entries of a topic
 * whose naming record was lost under '$lost/topic-<id>', and forgets index
 * entries below the first segment. The background scrub of the sealed
 * segments open did not read is here too (verifySealedSegment does the
 * reading). Apart from ledger-file.ts, which keeps what follows a replay:
 * the writer, the report, fencing.
 */
import * as C from './constants.js'
import type { Snapshot } from './checkpoint.js'
import type { Disk } from './disk/disk.js'
import { StoreCode } from './errors.js'
import type { LedgerState } from './ledger-state.js'
import { trimTopic } from './ledger-trim.js'
import type { DamageTracker } from './quarantine.js'
import { RecordKind, type LogRecord } from './records.js'
import { recoverLog, type RecoveryOutput } from './recovery.js'
import { verifySealedSegment } from './segment-scan.js'
import { lsnOf, segmentName, segmentOfLsn } from './segment.js'
import type { Lsn } from './types.js'

/** What a replay rebuilds, read when it runs (the ledger has just reset its state). */
export interface ReplayHost {
  readonly state: LedgerState
  readonly disk: Disk
  readonly dir: string
  readonly payloadBytesMax: number
  /** Newest publish time per segment, being rebuilt. */
  readonly segmentTimes: Map<number, number>
  /** Damaged ranges of this open (a fresh tracker). */
  readonly damage: DamageTracker
  /** The one door through which a record changes the state (LedgerState.applyRecord). */
  apply: (rec: LogRecord, lsn: Lsn, bytes: number) => void
  noteSegmentTime: (segmentId: number, publishMs: number) => void
}

export interface ReplayOptions {
  repair: boolean
  verifyAll: boolean
  /** After a failed write or fsync: nothing at or after this lsn may survive. */
  cutLsn: number | undefined
}

/**
 * Recover the log and replay it into the state. Lost entries are not yet
 * marked (the caller does it once the damage tracker is finished: `damage.markLost`).
 */
export async function replayLog (h: ReplayHost, o: ReplayOptions): Promise<RecoveryOutput> {
  const state = h.state
  const damage = h.damage
  const onEvent = state.opts.onEvent
  const out = await recoverLog({
    disk: h.disk,
    dir: h.dir,
    repair: o.repair,
    verifyAll: o.verifyAll,
    payloadBytesMax: h.payloadBytesMax,
    cutLsn: o.cutLsn,
    onEvent,
    restore: (s) => { restoreSnapshot(h, s) },
    apply: (rec, lsn, bytes) => {
      if (rec.kind === RecordKind.message) {
        h.noteSegmentTime(segmentOfLsn(lsn), rec.publishTime)
        // Ids missing before this one were in quarantined records: placeholders keep them from reuse.
        const t = state.topicsById[rec.topicId]
        if (damage.any && t !== undefined && rec.entryId > t.index.next) damage.fillGap(t, rec.entryId, lsn)
      }
      if (damage.any && 'topicId' in rec && rec.kind !== RecordKind.topic && state.topicsById[rec.topicId] === undefined) {
        // The record naming this topic was quarantined: keep its entries under a name that says so.
        const name = `${C.LOST_TOPIC_PREFIX}${rec.topicId}`
        h.apply({ kind: RecordKind.topic, topicId: rec.topicId, name }, lsn, bytes)
        onEvent('corrupt-topic-renamed', { code: StoreCode.STORE_CORRUPT, topicId: rec.topicId, name })
      }
      h.apply(rec, lsn, bytes)
    },
    onDamage: (range, payload) => {
      damage.add(range)
      if (payload !== undefined) damage.guess(lsnOf(range.segmentId, range.offset), payload, state.topicsById, state.topicsByName.values())
    },
    onTailCut: (tailLsn, payload) => { damage.retireTail(tailLsn, payload, state.topicsById, state.topicsByName.values()) }
  })
  const placed = damage.finish()
  if (placed.retired > 0) onEvent('tail-entry-retired', { count: placed.retired, reason: 'the record cut off the end of the log may have been acknowledged: its entry id is not given out again' })
  trimBelowFirstSegment(state, out.segmentIds[0] as number)
  return out
}

function restoreSnapshot (h: ReplayHost, s: Snapshot): void {
  const state = h.state
  for (const t of s.topics) {
    state.topicsByName.set(t.name, t)
    state.topicsById[t.id] = t
  }
  state.nextTopicId = s.nextTopicId
  state.meta = s.meta
  for (const [id, ms] of s.segmentTimes) h.segmentTimes.set(id, ms)
}

/**
 * An index entry below the first segment points at a deleted record
 * (a retention pass of an older version checkpointed before it unlinked):
 * forget it, or reads return nothing forever and a cursor at `earliest`
 * pins retention there.
 */
function trimBelowFirstSegment (state: LedgerState, firstSegmentId: number): void {
  const boundary = lsnOf(firstSegmentId, 0)
  let topics = 0
  let entries = 0
  for (const t of state.topicsByName.values()) {
    if (t.mem !== null || t.index.count === 0 || t.index.lsnOf(t.index.first) >= boundary) continue
    const first = t.index.firstAtOrAboveLsn(boundary)
    entries += first - t.index.first
    topics++
    trimTopic(t, first)
  }
  if (topics > 0) state.opts.onEvent('index-trimmed', { reason: 'entries below the first segment', firstSegment: segmentName(firstSegmentId), topics, entries })
}

/** What the scrub checks before each segment, read live (a reopen or close stops it). */
export interface ScrubHost {
  readonly state: LedgerState
  readonly disk: Disk
  readonly dir: string
  readonly payloadBytesMax: number
  readonly segments: readonly number[]
  readonly damage: DamageTracker
  readonly isClosed: boolean
  readonly closing: boolean
}

/** Verify sealed segments skipped at open, one at a time, in the background. */
export async function scrubSegments (h: ScrubHost, ids: number[], generation: number): Promise<void> {
  const onEvent = h.state.opts.onEvent
  for (const id of ids) {
    if (h.isClosed || h.closing || generation !== h.state.stateGeneration) return
    if (!h.segments.includes(id)) continue // retention took it
    try {
      const known = new Set(h.damage.list.filter((d) => d.segmentId === id).map((d) => d.offset))
      const damage = await verifySealedSegment(h.disk, h.dir, id, h.payloadBytesMax, known)
      if (damage !== undefined) onEvent('sealed-segment-corrupt', { segment: segmentName(id), ...damage, foundBy: 'scrub' })
    } catch (err) {
      if (h.segments.includes(id)) onEvent('scrub-failed', { segment: segmentName(id), err: String(err) })
    }
  }
  onEvent('scrub-done', { segments: ids.length })
}
