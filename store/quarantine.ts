/**
 * Damaged records that recovery sets aside instead of cutting the log there.
 *
 * A torn write can only be the end of the last write, so damage followed by
 * a valid frame is corruption (bit rot, a misdirected write): recovery keeps
 * every valid record after it and quarantines the damaged bytes. Their copy
 * goes to `seg-<id>.log.damaged-<offset, 10 digits>` next to the segment; the
 * segment itself is left as it is. That file is also the memory of the
 * decision: a later open (the segment may be sealed by then) skips a damaged
 * range it finds a copy for, so known damage is reported once and never
 * refuses an open.
 *
 * The entry ids of damaged message records are never given out again:
 *  - a later record of the same topic shows the gap (entry ids are dense); the
 *    missing ids get placeholder index slots inside the damaged range;
 *  - a damaged record with no later record of its topic is attributed from
 *    what is left of its header ([kind, topicId, entryId, ...]): a flipped
 *    byte spoils one field at most, so the topic named by the topic id, and
 *    every topic whose next id is the entry id, get a placeholder for their
 *    next id (a spare placeholder in an innocent topic costs one skipped id).
 * Placeholders, and index entries of a checkpoint that point into a damaged
 * range, are lost entries: tombstoned (the dispatcher acknowledges tombstoned
 * entries as it reads them, so a loss never pins a cursor) and read back as
 * empty entries. Lost entries sit inside the damaged ranges, so the ranges
 * alone identify them, across checkpoints too.
 */
import { LOST_ENTRY_BYTES, QUARANTINE_GUESS_TOPICS_MAX } from './constants.js'
import { segmentName, lsnOf } from './segment.js'
import type { Disk } from './disk/disk.js'
import type { TopicState } from './topic-state.js'

export function quarantineName (segmentId: number, offset: number): string {
  return `${segmentName(segmentId)}.damaged-${String(offset).padStart(10, '0')}`
}

export function parseQuarantineName (name: string): { segmentId: number, offset: number } | undefined {
  const m = /^seg-(\d{10})\.log\.damaged-(\d{10})$/.exec(name)
  return m === null ? undefined : { segmentId: Number(m[1]), offset: Number(m[2]) }
}

/** Copy damaged bytes aside (durable before the log moves on). The caller syncs the directory. */
export async function writeQuarantineFile (disk: Disk, dir: string, segmentId: number, offset: number, bytes: Buffer): Promise<string> {
  const name = quarantineName(segmentId, offset)
  const f = await disk.open(`${dir}/${name}`, true)
  try {
    await f.truncate(0)
    await f.write(bytes, 0)
    await f.datasync()
  } finally {
    await f.close()
  }
  return name
}

/** CBOR array heads of each record kind (records.ts encodes a fixed arity per kind). */
const HEAD_OF_KIND: ReadonlyMap<number, number> = new Map([
  [0, 0x82], [1, 0x83], [3, 0x84], [4, 0x83], [5, 0x84], [6, 0x84], [7, 0x84], [8, 0x84], [9, 0x83], [10, 0x83], [11, 0x82], [12, 0x86]
])

/** A CBOR unsigned integer at b[at]: [value, next position], or undefined. */
function uintAt (b: Buffer, at: number): [number, number] | undefined {
  if (at >= b.length) return undefined
  const x = b[at] as number
  if (x >> 5 !== 0) return undefined
  const ai = x & 31
  if (ai < 24) return [ai, at + 1]
  if (ai === 24 && at + 2 <= b.length) return [b[at + 1] as number, at + 2]
  if (ai === 25 && at + 3 <= b.length) return [b.readUInt16BE(at + 1), at + 3]
  if (ai === 26 && at + 5 <= b.length) return [b.readUInt32BE(at + 1), at + 5]
  if (ai === 27 && at + 9 <= b.length) return [b.readUInt32BE(at + 1) * 2 ** 32 + b.readUInt32BE(at + 5), at + 9]
  return undefined
}

/** What is left of a damaged record's header (payload bytes after the frame header). */
export function guessDamagedRecord (payload: Buffer): { notMessage: boolean, topicId?: number, entryId?: number } {
  if (payload.length < 2) return { notMessage: false }
  const head = payload[0] as number
  const kind = payload[1] as number
  // Head and kind agreeing on another kind: one flipped byte cannot have made a message look like that.
  if (HEAD_OF_KIND.get(kind) === head) return { notMessage: true }
  const t = uintAt(payload, 2)
  const e = t === undefined ? undefined : uintAt(payload, t[1])
  return { notMessage: false, ...(t !== undefined ? { topicId: t[0] } : {}), ...(e !== undefined ? { entryId: e[0] } : {}) }
}

export interface DamagedRange {
  segmentId: number
  offset: number
  bytes: number
  /** Found (and copied aside) by an earlier open. */
  known: boolean
  file: string
}

/** Damaged ranges of one open, and the bookkeeping that keeps lost entry ids from being reused. */
export class DamageTracker {
  /** [startLsn, endLsn) in log order. */
  private readonly ranges: Array<[number, number]> = []
  private readonly guesses: Array<{ t: TopicState, entryId: number, lsn: number, retired?: boolean }> = []
  readonly list: DamagedRange[] = []

  get any (): boolean { return this.ranges.length > 0 }

  add (r: DamagedRange): void {
    this.list.push(r)
    const start = lsnOf(r.segmentId, r.offset)
    this.ranges.push([start, start + r.bytes])
    this.ranges.sort((a, b) => a[0] - b[0])
  }

  /** Forget the ranges of a deleted segment. */
  dropSegment (segmentId: number): void {
    const lo = lsnOf(segmentId, 0)
    const hi = lsnOf(segmentId + 1, 0)
    for (let i = this.ranges.length - 1; i >= 0; i--) {
      const r = this.ranges[i] as [number, number]
      if (r[0] >= lo && r[0] < hi) this.ranges.splice(i, 1)
    }
    for (let i = this.list.length - 1; i >= 0; i--) if ((this.list[i] as DamagedRange).segmentId === segmentId) this.list.splice(i, 1)
  }

  /** True when entry `entryId` of t (at lsn) lost its record: a placeholder, or inside a damaged range. */
  isLostEntry (t: TopicState, entryId: number, lsn: number): boolean {
    return t.index.bytesOf(entryId) === LOST_ENTRY_BYTES || this.isLost(lsn)
  }

  isLost (lsn: number): boolean {
    for (const [s, e] of this.ranges) {
      if (lsn < s) return false
      if (lsn < e) return true
    }
    return false
  }

  /**
   * A damaged record at or after the replay point, in log order: note which
   * topics' next entry it may have been (applied by finish() if nothing later
   * takes that id).
   */
  guess (startLsn: number, payload: Buffer, topicsById: ReadonlyArray<TopicState | undefined>, topics: Iterable<TopicState>): void {
    if (payload.every((b) => b === 0)) return // preallocated zeros: never a record
    const g = guessDamagedRecord(payload)
    if (g.notMessage) return
    const named = g.topicId === undefined ? undefined : topicsById[g.topicId]
    if (named !== undefined && named.mem === null && (g.entryId === undefined || g.entryId === named.index.next)) {
      this.guesses.push({ t: named, entryId: named.index.next, lsn: startLsn })
      return // header intact: this was the named topic's next entry
    }
    if (named !== undefined && named.mem === null) this.guesses.push({ t: named, entryId: named.index.next, lsn: startLsn })
    if (g.entryId === undefined) return
    let n = 0
    for (const t of topics) {
      if (t === named || t.mem !== null || t.index.next !== g.entryId) continue
      this.guesses.push({ t, entryId: g.entryId, lsn: startLsn })
      if (++n >= QUARANTINE_GUESS_TOPICS_MAX) break
    }
  }

  /**
   * Before a message record is applied: ids between its topic's next and its
   * own were in damaged records; give them placeholders in the last damaged
   * range before it. False when there is a gap but no damage to explain it.
   */
  fillGap (t: TopicState, entryId: number, recordLsn: number): boolean {
    const missing = entryId - t.index.next
    if (missing <= 0) return true
    const last = this.lastRangeBefore(recordLsn)
    if (last === undefined) return false
    const prevLsn = t.index.count > 0 ? t.index.lsnOf(t.index.next - 1) : -1
    const base = Math.max(last[1] - missing, prevLsn + 1)
    if (base + missing > recordLsn) return false
    for (let i = 0; i < missing; i++) {
      t.index.push(base + i, LOST_ENTRY_BYTES)
      t.cancelled ??= new Set()
      t.cancelled.add(entryId - missing + i)
    }
    return true
  }

  private lastRangeBefore (lsn: number): [number, number] | undefined {
    let found: [number, number] | undefined
    for (const r of this.ranges) if (r[1] <= lsn) found = r
    return found
  }

  /**
   * The log ends in a bad frame at tailLsn that is cut off: a torn write
   * (never acknowledged) or the last record damaged after its fsync (it was).
   * The two look alike, so its entry id is retired either way: a placeholder
   * just below tailLsn (no record starts there; new records start at tailLsn).
   */
  retireTail (tailLsn: number, payload: Buffer, topicsById: ReadonlyArray<TopicState | undefined>, topics: Iterable<TopicState>): void {
    const before = this.guesses.length
    this.guess(tailLsn - 1, payload, topicsById, topics)
    for (let i = before; i < this.guesses.length; i++) (this.guesses[i] as { retired?: boolean }).retired = true
  }

  /** After replay: guessed ids nothing later took get tombstoned placeholders. Returns how many (lost, retired at the tail). */
  finish (): { lost: number, retired: number } {
    let lost = 0
    let retired = 0
    for (const g of this.guesses) {
      if (g.t.index.next !== g.entryId) continue
      const prev = g.t.index.count > 0 ? g.t.index.lsnOf(g.t.index.next - 1) : -1
      if (!(g.lsn > prev)) continue
      g.t.index.push(g.lsn, LOST_ENTRY_BYTES)
      g.t.cancelled ??= new Set()
      g.t.cancelled.add(g.entryId)
      if (g.retired === true) retired++
      else lost++
    }
    this.guesses.length = 0
    return { lost, retired }
  }

  /** Tombstone every entry that lies in a damaged range; returns them. */
  markLost (topics: Iterable<TopicState>): Array<{ topic: string, entryId: number }> {
    const out: Array<{ topic: string, entryId: number }> = []
    if (this.ranges.length === 0) return out
    for (const t of topics) {
      if (t.mem !== null || t.index.count === 0) continue
      for (const [s, e] of this.ranges) {
        if (t.index.lsnOf(t.index.next - 1) < s) continue
        for (let id = t.index.firstAtOrAboveLsn(s); id < t.index.next && t.index.lsnOf(id) < e; id++) {
          t.cancelled ??= new Set()
          t.cancelled.add(id)
          out.push({ topic: t.name, entryId: id })
        }
      }
    }
    return out
  }
}
