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
 * the level's later entries and looks ahead for other levels (at most
 * PRIORITY_SCAN_AHEAD_ENTRIES_MAX beyond the slowest behind level). When a
 * behind level has room again, a catch-up read from `behind[l]` up to the
 * sweep takes only that level's entries; once it reaches the sweep the level
 * is in step again. Memory stays one window; the price is that entries a
 * look-ahead passed are read twice. So that a deep backlog of one level does
 * not pay that everywhere, a look-ahead that found no other level is
 * followed by PRIORITY_PROBE_QUIET_ENTRIES read in log order, the sweep
 * simply stopping where the level's share is full.
 *
 * key_shared never lets a level fall behind (per-key order must not depend
 * on a level that has not been read yet): its sweep stops where the window
 * is full, and priority reorders only within the window.
 *
 * Delayed entries (shared / key_shared with delayed delivery on) are passed
 * over by whoever reads them for their level (the sweep, or the catch-up of
 * a behind level), counted by the DelayedTracker, and come back from the
 * ledger's delayed index when due (stream.ts). In-order modes put them in
 * the window: a delayed head holds its level.
 */
import type { Cursor, EntryId, LedgerEntry, MessageProps } from '../../store/index.js'
import { orderingKeyOf, PRIORITY_DEFAULT } from '../message-props.js'
import { PRIORITY_LEVELS } from '../policy/index.js'
import {
  PRIORITY_LEVEL_WINDOW_BYTES_MAX, PRIORITY_LEVEL_WINDOW_ENTRIES_MAX, PRIORITY_PROBE_QUIET_ENTRIES, PRIORITY_SCAN_AHEAD_ENTRIES_MAX, READ_BATCH_ENTRIES_MAX
} from './constants.js'
import { DelayedTracker } from './delayed-tracker.js'
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
  // Per-level arrays are made when the window first holds something: a million streams of an offline
  // subscription never read (docs/BENCHMARKS.md, million topics).
  private lazyBehind: Array<number | undefined> | undefined
  private get behind (): Array<number | undefined> { return (this.lazyBehind ??= new Array<number | undefined>(PRIORITY_LEVELS).fill(undefined)) }
  private behindCount = 0
  /** A look-ahead is under way (some level is behind), and whether it has found entries of another level. */
  private probeOpen = false
  private probeFound = false
  private probeScanned = 0
  /** Level of the entry the sweep took last (sizes its next read). */
  private lastSweepLevel = PRIORITY_DEFAULT
  /** The sweep may look ahead again (let a full level fall behind) only from this id on. */
  private probeAllowedFrom = 0
  /** The sweep stopped at an entry of this level, whose share of the window was full (no look-ahead now). */
  private sweepBlockedBy: number | undefined
  // Allocated on first use and dropped on reset: an idle (topic, subscription) costs a few hundred bytes.
  private windowObj: PriorityWindow<WindowEntry> | undefined
  /** Entry id -> level, for entries in the window. */
  private windowIdsObj: Map<number, number> | undefined
  private lazyLevelBytes: number[] | undefined
  private get levelBytes (): number[] { return (this.lazyLevelBytes ??= new Array<number>(PRIORITY_LEVELS).fill(0)) }
  private windowBytes = 0
  private keysObj: KeyState | undefined
  /** shared / key_shared: delayed entries passed over, the delayed index scan, runs to jump. */
  readonly delayed: DelayedTracker

  constructor (
    private readonly host: StreamHost,
    private readonly stream: StreamRef,
    private readonly cursor: Cursor,
    /** Which entries have a record (handed out, waiting, loading)? Such entries are never queued again. */
    private readonly held: { has: (id: EntryId) => boolean }
  ) {
    this.readPos = cursor.markDelete() + 1
    this.delayed = new DelayedTracker(host, stream)
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
      this.launch(pos, Math.min(READ_BATCH_ENTRIES_MAX, this.readPos - pos, room.entries, this.levelRoom(l)), room.bytes, l)
      return true
    }
    // While a level is behind, the sweep runs only to look ahead, and never further than the bound.
    if (this.behindCount > 0 && (!this.probeOpen || this.readPos - this.slowestBehind() >= PRIORITY_SCAN_AHEAD_ENTRIES_MAX)) return false
    let maxEntries = Math.min(READ_BATCH_ENTRIES_MAX, room.entries)
    const blocked = this.sweepBlockedBy
    if (blocked !== undefined) {
      if (!this.levelHasRoom(blocked)) return false // take() asks for a read once it has
      this.sweepBlockedBy = undefined
    }
    // In a quiet period what follows is most likely more of the level last taken: read what it
    // has room for, not a batch to throw away. (Otherwise a full batch: if it overflows a level,
    // that starts a look-ahead.)
    if (this.levelled && this.readPos < this.probeAllowedFrom) maxEntries = Math.min(maxEntries, Math.max(1, this.levelRoom(this.lastSweepLevel)))
    maxEntries = this.skipDelayedRuns(maxEntries)
    if (this.readPos >= info.nextEntryId) { this.closeProbe(); return false }
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
      // Nothing where the topic says entries are (trimmed meanwhile, or a damaged index): retry later, never spin.
      if (entries.length === 0) { this.host.readFailed(this.stream, new Error(`read of ${this.stream.topic} from ${from} returned nothing`)); return }
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
      if (this.probeOpen && ++this.probeScanned >= PRIORITY_SCAN_AHEAD_ENTRIES_MAX) this.probeWindowDone()
      if (this.behind[level] !== undefined) { this.readPos = id + 1; continue } // its catch-up takes it
      const r = this.consider(entry, level, now)
      if (r === Considered.full) {
        // key_shared, or a quiet period after a look-ahead that found no other level:
        // stop here and read it again once the level has room.
        if (!this.levelled) break // key_shared: the window is full; read on once it has room
        if (this.behindCount === 0 && this.readPos < this.probeAllowedFrom) {
          this.sweepBlockedBy = level
          break
        }
        this.openProbe()
        this.setBehind(level, id)
      }
      if (r === Considered.queued) {
        queued++
        this.lastSweepLevel = level
        if (this.probeOpen) this.probeFound = true
      }
      this.readPos = id + 1
    }
    if (queued > 0) this.host.markActive(this.stream)
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
    if (queued > 0) this.host.markActive(this.stream)
  }

  /** Decide about one entry read for its level: skip it, queue it, or report the window full. */
  private consider (entry: LedgerEntry, level: number, now: number): Considered {
    const id = entry.entryId
    if (this.cursor.isAcked(id) || this.held.has(id) || this.inWindow(id)) return Considered.skipped
    if (this.host.env.ledger.isCancelled(this.stream.topic, id)) {
      this.host.env.track(this.cursor.ack([id]), 'ack cancelled entry')
      return Considered.skipped
    }
    const deliverAt = entry.props.deliverAt
    if (!this.host.inOrder && this.host.policy.delayedDeliveryEnabled && deliverAt !== undefined && deliverAt > now) {
      this.delayed.passedOver(deliverAt)
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

  /** Entries level l may still take into the window. */
  private levelRoom (l: number): number {
    return Math.max(0, PRIORITY_LEVEL_WINDOW_ENTRIES_MAX - (this.windowObj?.levels[l]?.length ?? 0))
  }

  private levelHasRoom (l: number): boolean {
    return (this.window.levels[l]?.length ?? 0) < PRIORITY_LEVEL_WINDOW_ENTRIES_MAX && (this.levelBytes[l] as number) < PRIORITY_LEVEL_WINDOW_BYTES_MAX
  }

  private setBehind (l: number, pos: EntryId | undefined): void {
    const was = this.behind[l] !== undefined
    this.behind[l] = pos
    this.behindCount += (pos !== undefined ? 1 : 0) - (was ? 1 : 0)
    if (this.behindCount === 0) this.closeProbe()
  }

  /** A level fell behind: the sweep looks ahead for other levels. */
  private openProbe (): void {
    if (this.probeOpen) return
    this.probeOpen = true
    this.probeFound = false
    this.probeScanned = 0
  }

  /**
   * The look-ahead has examined PRIORITY_SCAN_AHEAD_ENTRIES_MAX entries: go on
   * if it found another level among them, else stop looking (the behind
   * levels catch up, then the sweep reads in order for a quiet period).
   */
  private probeWindowDone (): void {
    if (this.probeFound) {
      this.probeFound = false
      this.probeScanned = 0
      return
    }
    this.closeProbe()
  }

  /** The look-ahead ended; if it found no other level, read in order for a while before looking ahead again. */
  private closeProbe (): void {
    if (!this.probeOpen) return
    this.probeOpen = false
    if (!this.probeFound) this.probeAllowedFrom = this.readPos + PRIORITY_PROBE_QUIET_ENTRIES
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

  /** shared / key_shared: jump over runs of pending delayed entries (never while a level is behind). */
  private skipDelayedRuns (maxEntries: number): number {
    if (this.host.inOrder || !this.host.policy.delayedDeliveryEnabled) return maxEntries
    const r = this.delayed.skipRuns(this.readPos, maxEntries, this.behindCount === 0)
    this.readPos = r.readPos
    return r.maxEntries
  }

  // ---- delayed entries -----------------------------------------------------------------------

  /** in-order: a delayed head holds its level until atMs. */
  noteDelayed (atMs: number): void { this.delayed.note(atMs) }

  /** Has the reader of this entry's level already passed over it (so it is counted as pending)? */
  private examined (id: EntryId, level: number): boolean {
    return id < (this.behind[level] ?? this.readPos)
  }

  /** A passed-over delayed entry came back from the delayed index (loaded; its level is now known). */
  delayedReturned (id: EntryId, props: MessageProps): void {
    if (this.examined(id, priorityLevelOf(props))) this.delayed.uncount()
  }

  /** shared / key_shared: due entries the reader has passed over (see DelayedTracker.dueSince). */
  dueDelayed (now: number, maxEntries: number): EntryId[] {
    return this.delayed.dueSince(now, maxEntries, this.readPos).filter((id) => !this.inWindow(id))
  }

  /** A cancelled entry: never deliver it; stop counting it. */
  cancelled (id: EntryId, props: MessageProps | undefined): void {
    const level = this.windowIdsObj?.get(id)
    if (level !== undefined) {
      const fifo = this.window.levels[level]
      if (fifo !== undefined) for (let i = 0; i < fifo.length; i++) if (fifo.at(i)?.entry.entryId === id) { this.take(level, i); break }
      return
    }
    if (props !== undefined && !this.host.inOrder && this.examined(id, priorityLevelOf(props))) this.delayed.uncount()
  }

  delayedPending (now: number): number {
    if (!this.host.inOrder) return this.delayed.pending
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
    if (this.behind[level] !== undefined || this.sweepBlockedBy === level) this.host.wantRead(this.stream)
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
    this.lazyLevelBytes?.fill(0)
    this.keysObj = undefined
    this.lazyBehind?.fill(undefined)
    this.behindCount = 0
    this.probeOpen = false
    this.probeAllowedFrom = 0
    this.sweepBlockedBy = undefined
    this.readPos = this.cursor.markDelete() + 1
    this.delayed.reset()
  }
}

const Considered = { skipped: 0, queued: 1, full: 2 } as const
type Considered = typeof Considered[keyof typeof Considered]
