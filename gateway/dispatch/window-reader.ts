/**
 * The reading side of one (topic, subscription): where it reads, and the
 * read-ahead window of entries read but not yet handed out, one FIFO per
 * priority level (priority-window.ts).
 *
 * Priority is a property of the queue, so it must hold on a backlog larger
 * than the window. One sweep reads the log in order (`readPos`). A level
 * may fill at most PRIORITY_LEVEL_WINDOW_ENTRIES_MAX of the window; when the
 * sweep finds an entry of a level that is full, that level falls *behind*:
 * `behind[l]` remembers the first of its entries not taken, the sweep drops
 * the level's later entries and goes on looking for other levels (at most
 * PRIORITY_SCAN_AHEAD_ENTRIES_MAX beyond the slowest behind level). When a
 * behind level has room again, a catch-up read from `behind[l]` up to the
 * sweep takes only that level's entries; once it reaches the sweep the level
 * is in step again. Memory stays one window; the price is that entries of a
 * level that fell behind are read twice.
 *
 * key_shared never lets a level fall behind (per-key order must not depend
 * on a level that has not been read yet): its sweep stops where the window
 * is full, and priority reorders only within the window.
 *
 * Delayed entries (shared / key_shared with delayed delivery on) are passed
 * over by whoever reads them for their level (the sweep, or the catch-up of
 * a behind level), counted in `delayedSkipped`, and come back from the
 * ledger's delayed index when due (stream.ts). In-order modes put them in
 * the window: a delayed head holds its level.
 */
import type { Cursor, EntryId, LedgerEntry, MessageProps } from '../../store/index.js'
import { orderingKeyOf, PRIORITY_DEFAULT } from '../message-props.js'
import { PRIORITY_LEVELS } from '../policy/index.js'
import {
  PRIORITY_LEVEL_WINDOW_BYTES_MAX, PRIORITY_LEVEL_WINDOW_ENTRIES_MAX, PRIORITY_SCAN_AHEAD_ENTRIES_MAX, READ_BATCH_ENTRIES_MAX
} from './constants.js'
import { delayedRuns, type IdRun } from './delayed-runs.js'
import { KeyState } from './key-state.js'
import { PriorityWindow } from './priority-window.js'
import type { StreamHost, StreamRef } from './stream-host.js'

export interface WindowEntry { entry: LedgerEntry, key: string }

export function priorityLevelOf (props: MessageProps): number {
  const p = props.priority
  if (p === undefined || !Number.isInteger(p)) return PRIORITY_DEFAULT
  return Math.min(PRIORITY_LEVELS - 1, Math.max(0, p))
}

export class WindowReader {
  /** Next entry id the sweep reads. */
  readPos: number
  reading = false
  /** Bumped by reset: a read started before it is discarded. */
  private epoch = 0
  /** Per level: first entry id not yet taken while the level is behind the sweep; undefined when in step. */
  private readonly behind: Array<number | undefined> = new Array<number | undefined>(PRIORITY_LEVELS).fill(undefined)
  private behindCount = 0
  // Allocated on first use and dropped on reset: an idle (topic, subscription) costs a few hundred bytes.
  private windowObj: PriorityWindow<WindowEntry> | undefined
  /** Entry id -> level, for entries in the window. */
  private windowIdsObj: Map<number, number> | undefined
  private readonly levelBytes = new Array<number>(PRIORITY_LEVELS).fill(0)
  private windowBytes = 0
  private keysObj: KeyState | undefined
  /** Delayed index scanned up to this deliverAt (shared / key_shared). */
  delayScanAfterMs: number
  /** When the next delayed entry of interest is due (undefined: none known). */
  nextDelayedAtMs: number | undefined
  /** Delayed entries passed over and not yet back (stats). */
  private delayedSkipped = 0
  private delayedRunList: IdRun[] | undefined
  private delayedRunNext = 0
  private delayedRunsAtMs = 0

  constructor (
    private readonly host: StreamHost,
    private readonly stream: StreamRef,
    private readonly cursor: Cursor,
    /** Does the entry have a record (handed out, waiting, loading)? Such entries are never queued again. */
    private readonly isHeld: (id: EntryId) => boolean,
    /** Entries were queued. */
    private readonly onQueued: () => void
  ) {
    this.readPos = cursor.markDelete() + 1
    this.delayScanAfterMs = Date.now()
  }

  get window (): PriorityWindow<WindowEntry> { return (this.windowObj ??= new PriorityWindow<WindowEntry>()) }
  private get windowIds (): Map<number, number> { return (this.windowIdsObj ??= new Map()) }
  /** key_shared: per-key window order, key owners, returned keys. */
  get keys (): KeyState { return (this.keysObj ??= new KeyState()) }
  get size (): number { return this.windowObj?.size ?? 0 }
  inWindow (id: EntryId): boolean { return this.windowIdsObj?.has(id) === true }

  /** Can level l fall behind? Not in key_shared (see the header). */
  private get levelled (): boolean { return !this.host.keyShared }

  // ---- reads ---------------------------------------------------------------------------------

  /** Start one read if there is something to read; false when there is nothing to read now. */
  startRead (): boolean {
    if (this.reading) return true
    const info = this.host.env.ledger.topicInfo(this.stream.topic)
    if (info === undefined) return false
    const room = this.host.windowRoom()
    if (room.entries <= 0 || room.bytes <= 0) return true
    if (this.readPos < info.firstEntryId) this.readPos = info.firstEntryId
    this.readPos = this.skipAcked(this.readPos)
    // Catch up the highest behind level that has room again.
    for (let l = PRIORITY_LEVELS - 1; l >= 0 && this.behindCount > 0; l--) {
      const from = this.behind[l]
      if (from === undefined || !this.levelHasRoom(l)) continue
      const pos = this.skipAcked(Math.max(from, info.firstEntryId))
      if (pos >= this.readPos) { this.setBehind(l, undefined); continue }
      this.behind[l] = pos
      this.launch(pos, Math.min(READ_BATCH_ENTRIES_MAX, this.readPos - pos, room.entries), room.bytes, l)
      return true
    }
    if (this.behindCount > 0 && this.readPos - this.slowestBehind() >= PRIORITY_SCAN_AHEAD_ENTRIES_MAX) return false
    const maxEntries = this.skipDelayedRuns(Math.min(READ_BATCH_ENTRIES_MAX, room.entries))
    if (this.readPos >= info.nextEntryId) return false
    this.launch(this.readPos, maxEntries, room.bytes, -1)
    return true
  }

  /** level -1: the sweep; otherwise the catch-up of that level. */
  private launch (from: EntryId, maxEntries: number, maxBytes: number, level: number): void {
    this.reading = true
    const epoch = this.epoch
    this.host.env.ledger.read(this.stream.topic, from, { maxEntries, maxBytes }).then((entries) => {
      if (epoch !== this.epoch) return
      this.reading = false
      if (level < 0) this.admitSweep(entries)
      else this.admitCatchUp(level, entries)
      this.host.wantRead(this.stream)
      this.host.kick()
    }, (err: unknown) => {
      if (epoch !== this.epoch) return
      this.reading = false
      this.host.readFailed(this.stream, err)
    })
  }

  private admitSweep (entries: readonly LedgerEntry[]): void {
    const now = Date.now()
    let queued = 0
    for (const entry of entries) {
      const id = entry.entryId
      if (id < this.readPos) continue
      const level = priorityLevelOf(entry.props)
      if (this.behind[level] !== undefined) { this.readPos = id + 1; continue } // its catch-up takes it
      const r = this.consider(entry, level, now)
      if (r === Considered.full) {
        if (!this.levelled) break // key_shared: stop here, read it again once there is room
        this.setBehind(level, id)
      }
      if (r === Considered.queued) queued++
      this.readPos = id + 1
    }
    if (queued > 0) this.onQueued()
  }

  private admitCatchUp (level: number, entries: readonly LedgerEntry[]): void {
    const now = Date.now()
    let pos = this.behind[level]
    if (pos === undefined) return
    let queued = 0
    for (const entry of entries) {
      const id = entry.entryId
      if (id < pos) continue
      if (id >= this.readPos) break
      if (priorityLevelOf(entry.props) === level) {
        const r = this.consider(entry, level, now)
        if (r === Considered.full) break
        if (r === Considered.queued) queued++
      }
      pos = id + 1
    }
    this.setBehind(level, pos >= this.readPos ? undefined : pos)
    if (queued > 0) this.onQueued()
  }

  /** Decide about one entry read for its level: skip it, queue it, or report the window full. */
  private consider (entry: LedgerEntry, level: number, now: number): Considered {
    const id = entry.entryId
    if (this.cursor.isAcked(id) || this.isHeld(id) || this.inWindow(id)) return Considered.skipped
    if (this.host.env.ledger.isCancelled(this.stream.topic, id)) {
      this.host.env.track(this.cursor.ack([id]), 'ack cancelled entry')
      return Considered.skipped
    }
    const deliverAt = entry.props.deliverAt
    if (!this.host.inOrder && this.host.policy.delayedDeliveryEnabled && deliverAt !== undefined && deliverAt > now) {
      this.delayedSkipped++
      this.noteDelayed(deliverAt)
      return Considered.skipped
    }
    const bytes = entry.payload.length
    const room = this.host.windowRoom()
    if (room.entries <= 0 || room.bytes < bytes) return Considered.full
    if (this.levelled && ((this.window.levels[level]?.length ?? 0) >= PRIORITY_LEVEL_WINDOW_ENTRIES_MAX ||
        (this.levelBytes[level] as number) + bytes > PRIORITY_LEVEL_WINDOW_BYTES_MAX)) return Considered.full
    const key = this.host.keyShared ? orderingKeyOf(this.stream.topic, entry.props) : ''
    this.window.push(level, { entry, key })
    this.windowIds.set(id, level)
    this.windowBytes += bytes
    this.levelBytes[level] = (this.levelBytes[level] as number) + bytes
    this.host.windowChanged(1, bytes)
    if (this.host.keyShared) this.keys.queued(key, id)
    return Considered.queued
  }

  private levelHasRoom (l: number): boolean {
    return (this.window.levels[l]?.length ?? 0) < PRIORITY_LEVEL_WINDOW_ENTRIES_MAX && (this.levelBytes[l] as number) < PRIORITY_LEVEL_WINDOW_BYTES_MAX
  }

  private setBehind (l: number, pos: EntryId | undefined): void {
    const was = this.behind[l] !== undefined
    this.behind[l] = pos
    this.behindCount += (pos !== undefined ? 1 : 0) - (was ? 1 : 0)
  }

  private slowestBehind (): EntryId {
    let min = this.readPos
    for (const b of this.behind) if (b !== undefined && b < min) min = b
    return min
  }

  /** The first id at or after `pos` that is not acknowledged (mark-delete and individually acked ranges). */
  private skipAcked (pos: EntryId): EntryId {
    const md = this.cursor.markDelete()
    if (pos <= md) pos = md + 1
    // Only walk the ranges when pos sits inside one (ackedRanges() copies them all).
    if (!this.cursor.isAcked(pos)) return pos
    for (const [s, e] of this.cursor.ackedRanges()) {
      if (pos < s) break
      if (pos <= e) pos = e + 1
    }
    return pos
  }

  /**
   * shared / key_shared, while no level is behind: jump over runs of pending
   * delayed entries known from the delayed index (built once per start or
   * reset), and stop a read short of the next run. Returns the entries the
   * read may ask for.
   */
  private skipDelayedRuns (maxEntries: number): number {
    if (this.host.inOrder || !this.host.policy.delayedDeliveryEnabled) return maxEntries
    const now = Date.now()
    const ledger = this.host.env.ledger
    if (this.delayedRunList === undefined) {
      this.delayedRunList = delayedRuns(ledger, this.stream.topic, this.readPos, now)
      this.delayedRunNext = 0
      this.delayedRunsAtMs = now
    }
    const runs = this.delayedRunList
    while (this.delayedRunNext < runs.length) {
      const [first, last] = runs[this.delayedRunNext] as IdRun
      if (last < this.readPos) { this.delayedRunNext++; continue }
      // A behind level must see every entry of its own: read through the run instead.
      if (this.behindCount > 0) return maxEntries
      if (first <= this.readPos) {
        this.delayedSkipped += last - this.readPos + 1
        this.readPos = last + 1
        this.delayedRunNext++
        // Entries of the run that fell due since it was built must come back through the scan:
        // scan again from the build time (a rescan is harmless, handled entries are recognised).
        this.delayScanAfterMs = Math.min(this.delayScanAfterMs, this.delayedRunsAtMs)
        const next = ledger.nextDelayedAfter(this.stream.topic, this.delayScanAfterMs)
        if (next !== undefined) this.noteDelayed(next)
        continue
      }
      return Math.max(1, Math.min(maxEntries, first - this.readPos))
    }
    return maxEntries
  }

  // ---- delayed entries -----------------------------------------------------------------------

  /** A delayed entry waits until atMs: wake the subscription then. */
  noteDelayed (atMs: number): void {
    if (this.nextDelayedAtMs === undefined || atMs < this.nextDelayedAtMs) this.nextDelayedAtMs = atMs
    this.host.delayedAt(this.stream, atMs)
  }

  /** Has the reader of this entry's level already passed over it (so it is counted in delayedSkipped)? */
  private examined (id: EntryId, level: number): boolean {
    return id < (this.behind[level] ?? this.readPos)
  }

  /** A passed-over delayed entry came back from the delayed index (loaded; its level is now known). */
  delayedReturned (id: EntryId, props: MessageProps): void {
    if (this.delayedSkipped > 0 && this.examined(id, priorityLevelOf(props))) this.delayedSkipped--
  }

  /**
   * shared / key_shared: due entries of the delayed index since the last
   * scan, at most maxEntries (whole milliseconds, so the scan always
   * advances), that the sweep has passed. Entries the sweep has not reached
   * are left to it.
   */
  dueDelayed (now: number, maxEntries: number): EntryId[] {
    const ledger = this.host.env.ledger
    const topic = this.stream.topic
    let refs = ledger.delayedBetween(topic, this.delayScanAfterMs, now, maxEntries)
    let scannedTo = now
    if (refs.length >= maxEntries) {
      const last = (refs[refs.length - 1] as { deliverAt: number }).deliverAt
      if ((refs[0] as { deliverAt: number }).deliverAt === last) {
        // Every ref shares one millisecond: take that millisecond whole so the scan always advances.
        refs = ledger.delayedBetween(topic, last - 1, last, Number.MAX_SAFE_INTEGER)
        scannedTo = last
      } else {
        // Stop before the last millisecond seen: it may continue past the batch.
        let i = refs.length - 1
        while (i > 0 && (refs[i] as { deliverAt: number }).deliverAt === last) i--
        scannedTo = (refs[i] as { deliverAt: number }).deliverAt
        refs = refs.slice(0, i + 1)
      }
    }
    const out: EntryId[] = []
    for (const ref of refs) if (ref.entryId < this.readPos && !this.inWindow(ref.entryId)) out.push(ref.entryId)
    this.delayScanAfterMs = scannedTo
    const next = ledger.nextDelayedAfter(topic, this.delayScanAfterMs)
    this.nextDelayedAtMs = next
    // Nothing pending any more: nothing passed over can be outstanding.
    if (next === undefined) this.delayedSkipped = 0
    return out
  }

  /** in-order: the alarm for a delayed head fired; the next pick checks the heads again. */
  clearHold (): void { this.nextDelayedAtMs = undefined }

  /** A cancelled entry: never deliver it; stop counting it. */
  cancelled (id: EntryId, props: MessageProps | undefined): void {
    const level = this.windowIdsObj?.get(id)
    if (level !== undefined) {
      const fifo = this.window.levels[level]
      if (fifo !== undefined) for (let i = 0; i < fifo.length; i++) if (fifo.at(i)?.entry.entryId === id) { this.take(level, i); break }
      return
    }
    if (props !== undefined && this.delayedSkipped > 0 && !this.host.inOrder && this.examined(id, priorityLevelOf(props))) this.delayedSkipped--
  }

  delayedPending (now: number): number {
    if (!this.host.inOrder) return this.delayedSkipped
    let n = 0
    for (const fifo of this.windowObj?.levels ?? []) for (const we of fifo) if ((we.entry.props.deliverAt ?? 0) > now) n++
    return n
  }

  // ---- the window ------------------------------------------------------------------------------

  /** Take the i-th entry of a level out of the window. */
  take (level: number, i: number): WindowEntry {
    const we = this.window.removeAt(level, i) as WindowEntry
    const id = we.entry.entryId
    const bytes = we.entry.payload.length
    this.windowIds.delete(id)
    this.windowBytes -= bytes
    this.levelBytes[level] = (this.levelBytes[level] as number) - bytes
    this.host.windowChanged(-1, -bytes)
    if (this.host.keyShared) this.keys.unqueued(we.key, id)
    if (this.behind[level] !== undefined) this.host.wantRead(this.stream)
    return we
  }

  /**
   * The lowest entry id not yet handed out: unread, behind, or waiting in the
   * window. Everything unacknowledged below it has been handed out.
   */
  lowestNotHandedOut (): EntryId {
    let min = this.slowestBehind()
    for (const fifo of this.windowObj?.levels ?? []) {
      const head = fifo.peek()
      if (head !== undefined && head.entry.entryId < min) min = head.entry.entryId
    }
    return min
  }

  /** Entries up to upTo were skipped (backlog eviction): read on after them. */
  skippedTo (upTo: EntryId): void {
    if (this.readPos <= upTo) this.readPos = upTo + 1
    for (let l = 0; l < PRIORITY_LEVELS; l++) {
      const b = this.behind[l]
      if (b !== undefined && b <= upTo) this.setBehind(l, upTo + 1 >= this.readPos ? undefined : upTo + 1)
    }
  }

  /** Forget the window and every position; read again from the cursor's mark-delete position. */
  reset (): void {
    this.epoch++
    this.reading = false
    this.host.windowChanged(-this.size, -this.windowBytes)
    this.windowObj = undefined
    this.windowIdsObj = undefined
    this.windowBytes = 0
    this.levelBytes.fill(0)
    this.keysObj = undefined
    this.behind.fill(undefined)
    this.behindCount = 0
    this.readPos = this.cursor.markDelete() + 1
    this.delayScanAfterMs = Date.now()
    this.nextDelayedAtMs = undefined
    this.delayedSkipped = 0
    this.delayedRunList = undefined
  }
}

const Considered = { skipped: 0, queued: 1, full: 2 } as const
type Considered = typeof Considered[keyof typeof Considered]
