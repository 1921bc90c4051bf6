/**
 * One read of the log tail per link, shared by its three lanes.
 *
 * Each lane of a link (control, high, normal: store/origin-marks.ts) keeps
 * its own position and used to read the log on its own, so a record was
 * read, checked and decoded once per lane. The shared tail reads the log
 * with the union of what the lanes want (the link's namespaces and meta
 * spaces) and keeps what it read as contiguous pieces; a lane's read is
 * served from them when they cover its position, and only a read past them
 * (or outside them) reaches the log. Lanes drift apart (the normal lane ships
 * 1,000 entries a turn, the high lane scans ten batches' worth), so pieces
 * behind every lane's position are dropped and the memory held is bounded
 * (REPL_SHARED_TAIL_ITEMS_MAX, REPL_SHARED_TAIL_BYTES_MAX, REPL_SHARED_TAIL_PIECES_MAX): a
 * read that would not fit while a slower lane still needs the pieces is
 * served without being kept (that lane then reads as it did before sharing).
 *
 * A read that would not be kept anyway (the lane runs ahead of what is
 * held: the high and control lanes during a drain) is a lane-only read when
 * the lane says what it ships (`TailWant.alone`): the log tail decodes only
 * those records (store/log-tail.ts `priorities`, records.peekRoute) and walks
 * past the rest at the cost of a frame header and a peek. Before, those reads
 * decoded everything as well and threw it away: each record of a drain was
 * decoded 2.4 times, and what the pieces held long enough reached the old
 * generation (session 8: a third of a drain's CPU was GC).
 *
 * What a lane gets is what its own read of the log would have returned:
 * the records of its kind after its position, in lsn order, within its
 * bounds, and `throughLsn` no further than what was examined. A read that
 * meets a gap (retention took records) is never cached: every lane that
 * reaches the gap reads it itself and reports it.
 */
import type { Ledger, LogItem, LogReadOptions, LogReadResult } from '../store/index.js'
import { REPL_SHARED_TAIL_BYTES_MAX, REPL_SHARED_TAIL_ITEMS_MAX, REPL_SHARED_TAIL_PIECES_MAX } from './constants.js'

/** What the link's lanes want of the log, together (the union of the lanes' filters). */
export interface TailFilter {
  topics: (topic: string) => boolean
  meta: (space: string, key: string) => boolean
}

/** Which records one lane reads: meta records (the control lane) or message and cancel records (the others). */
export const TailKinds = { meta: 'meta', entries: 'entries' } as const
export type TailKinds = typeof TailKinds[keyof typeof TailKinds]

export interface TailWant {
  kinds: TailKinds
  maxItems: number
  maxBytes: number
  maxScanBytes: number
  /** What the lane ships, for a read that is not shared (lane-only); without it such a read is of the union. */
  alone?: LaneOnly
}

/** A lane's own read of the log: its kinds (topics for entries, meta for the control lane), priorities and bounds. */
export interface LaneOnly extends Pick<LogReadOptions, 'topics' | 'meta' | 'priorities'> {
  maxItems: number
  maxBytes: number
}

interface Piece {
  /** The position this piece was read after (exclusive). */
  after: number
  /** The last lsn it examined. */
  through: number
  /** Every record of the union filter in (after, through], lsn order. */
  items: LogItem[]
  payloadBytes: number
  /**
   * What kinds it holds: bit p for messages of priority p, NO_PRIORITY_BIT for those without one, META_BIT,
   * CANCEL_BIT. A lane with nothing of its own in a piece passes it without a look at each item (the control and
   * high lanes passed every item of a normal-priority stream, ~1,000 a batch each).
   */
  kinds: number
}

export interface SharedTailBounds { itemsMax: number, bytesMax: number, piecesMax: number }

const DEFAULT_BOUNDS: SharedTailBounds = { itemsMax: REPL_SHARED_TAIL_ITEMS_MAX, bytesMax: REPL_SHARED_TAIL_BYTES_MAX, piecesMax: REPL_SHARED_TAIL_PIECES_MAX }

/** Log reads a lane's call may make: one where its position stands and one to extend past the pieces. */
const LOG_READS_PER_CALL_MAX = 2

const payloadBytesOf = (it: LogItem): number => it.kind === 'message' ? it.payload.length : it.kind === 'plain' ? it.end - it.start : 64
const priorityOfItem = (it: LogItem): number | undefined => it.kind === 'message' ? it.props.priority : it.kind === 'plain' ? it.priority : undefined

/** Piece.kinds bits past the message priorities' (0..9, store/types.ts). */
const PRIORITY_BITS = 10
const NO_PRIORITY_BIT = 1 << PRIORITY_BITS
const META_BIT = 1 << (PRIORITY_BITS + 1)
const CANCEL_BIT = 1 << (PRIORITY_BITS + 2)
/** A message whose priority is not one of 0..9 (never written: the store refuses it): the piece is looked at item by item. */
const OTHER_BIT = 1 << (PRIORITY_BITS + 3)

/** A fresh piece: its payload bytes and kinds in one pass over its items. */
function pieceOf (after: number, through: number, items: LogItem[]): Piece {
  let payloadBytes = 0
  let kinds = 0
  for (const it of items) {
    payloadBytes += payloadBytesOf(it)
    if (it.kind === 'message' || it.kind === 'plain') {
      const p = priorityOfItem(it)
      kinds |= p === undefined ? NO_PRIORITY_BIT : Number.isInteger(p) && p >= 0 && p < PRIORITY_BITS ? 1 << p : OTHER_BIT
    } else kinds |= it.kind === 'meta' ? META_BIT : CANCEL_BIT
  }
  return { after, through, items, payloadBytes, kinds }
}

/** Whether a piece of these kinds may hold a record the lane takes (false: it holds none). */
function mayServe (kinds: number, want: TailWant): boolean {
  if (want.kinds === TailKinds.meta) return (kinds & META_BIT) !== 0
  const priorities = want.alone?.priorities
  if (priorities === undefined) return (kinds & ~META_BIT) !== 0
  if ((kinds & (CANCEL_BIT | OTHER_BIT)) !== 0) return true // cancels go whatever their entry's priority
  if ((kinds & NO_PRIORITY_BIT) !== 0 && priorities(undefined)) return true
  for (let p = 0; p < PRIORITY_BITS; p++) if ((kinds & (1 << p)) !== 0 && priorities(p)) return true
  return false
}
const isKind = (it: LogItem, kinds: TailKinds): boolean => kinds === TailKinds.meta ? it.kind === 'meta' : it.kind !== 'meta'

export class SharedTail {
  private pieces: Piece[] = []
  private itemsHeld = 0
  private bytesHeld = 0
  /** Lane reads served, and reads of the log they needed (tests and profiles: a shared read is one log read for several lanes). */
  readonly counts = { laneReads: 0, logReads: 0, laneOnlyReads: 0 }
  /** Read this site's plain message records as `plain` items (the log's bytes, no decode: LogReadOptions.plain). */
  plain = false

  constructor (
    private readonly ledger: Pick<Ledger, 'readLog'>,
    /** The link's destination: entries that passed it never go back (loop prevention), so reads leave them out. */
    private readonly destination: string,
    private filter: TailFilter,
    private readonly bounds: SharedTailBounds = DEFAULT_BOUNDS
  ) {}

  /** The link's filter changed: what was read under the old one is dropped. */
  setFilter (f: TailFilter): void {
    this.filter = f
    this.clear()
  }

  clear (): void {
    this.pieces = []
    this.itemsHeld = 0
    this.bytesHeld = 0
  }

  /** Records held (tests). */
  held (): { items: number, payloadBytes: number, pieces: number } {
    return { items: this.itemsHeld, payloadBytes: this.bytesHeld, pieces: this.pieces.length }
  }

  /**
   * One lane's read after `after`. `floor` is the lowest position of any lane
   * of the link: pieces at or below it are needed by nobody.
   */
  async read (after: number, want: TailWant, floor: number): Promise<LogReadResult> {
    this.counts.laneReads++
    this.release(floor)
    const out: LogReadResult = { items: [], throughLsn: after, endLsn: 0 }
    let bytes = 0
    let pos = after
    for (let reads = 0; reads < LOG_READS_PER_CALL_MAX; reads++) {
      if (!this.covers(pos)) {
        if (want.alone !== undefined && !this.wouldKeep(pos, floor, want)) {
          await this.readAlone(pos, want.alone, want.maxScanBytes, out, bytes)
          break
        }
        const r = await this.ledger.readLog(pos, { maxItems: want.maxItems, maxBytes: want.maxBytes, maxScanBytes: want.maxScanBytes, topics: this.filter.topics, meta: this.filter.meta, skipVia: this.destination, plain: this.plain })
        this.counts.logReads++
        this.endLsnSeen = Math.max(this.endLsnSeen, r.endLsn)
        if (r.gapToLsn !== undefined) {
          // Records are gone: this lane reports it (on its next call if it was served records before the gap).
          if (out.items.length > 0) break
          this.clear()
          out.gapToLsn = r.gapToLsn
          this.serve({ ...pieceOf(pos, r.throughLsn, r.items), payloadBytes: 0 }, pos, want, out, bytes)
          break
        }
        if (r.throughLsn === pos) break // nothing more in the log
        const piece = pieceOf(pos, r.throughLsn, r.items)
        if (!this.keep(piece, floor)) {
          // No room while slower lanes still need what is held: serve this read alone.
          this.serve(piece, pos, want, out, bytes)
          break
        }
      }
      const r = this.serveHeld(pos, want, out, bytes)
      bytes = r.bytes
      if (r.full) break
      pos = out.throughLsn
    }
    out.endLsn = this.endLsnSeen
    return out
  }

  /**
   * A lane-only read after `pos` (what the lane ships, nothing else decoded),
   * appended to what `out` holds; never kept. A gap is reported as by a
   * shared read (on the lane's next call if `out` holds records already).
   */
  private async readAlone (pos: number, alone: LaneOnly, maxScanBytes: number, out: LogReadResult, bytes: number): Promise<void> {
    const room = alone.maxItems - out.items.length
    if (room <= 0) return
    const { maxItems: _, maxBytes: __, ...filter } = alone
    const r = await this.ledger.readLog(pos, { ...filter, maxItems: room, maxBytes: Math.max(1, alone.maxBytes - bytes), maxScanBytes, skipVia: this.destination, plain: this.plain })
    this.counts.logReads++
    this.counts.laneOnlyReads++
    this.endLsnSeen = Math.max(this.endLsnSeen, r.endLsn)
    if (r.gapToLsn !== undefined) {
      if (out.items.length > 0) return
      this.clear()
      out.gapToLsn = r.gapToLsn
    }
    for (const it of r.items) out.items.push(it)
    out.throughLsn = Math.max(out.throughLsn, r.throughLsn)
  }

  /** Whether a read of the union after `pos` would be held (keep's conditions, with the lane's bounds for the piece's size). */
  private wouldKeep (pos: number, floor: number, want: TailWant): boolean {
    const last = this.pieces[this.pieces.length - 1]
    if (last === undefined) return true
    if (last.through !== pos) {
      const first = this.pieces[0] as Piece
      return !(first.after <= floor && floor < last.through && pos > floor)
    }
    const b = this.bounds
    return this.pieces.length + 1 <= b.piecesMax && this.itemsHeld + want.maxItems <= b.itemsMax && this.bytesHeld + want.maxBytes <= b.bytesMax
  }

  /**
   * The durable log end as the last read of the log saw it (a lane served
   * from memory reports it; every position served lies before it).
   */
  private endLsnSeen = 0

  /** Whether the held pieces hold the records right after `pos`. */
  private covers (pos: number): boolean {
    const first = this.pieces[0]
    const last = this.pieces[this.pieces.length - 1]
    return first !== undefined && last !== undefined && first.after <= pos && pos < last.through
  }

  /** Drop pieces every lane has passed. */
  private release (floor: number): void {
    let n = 0
    while (n < this.pieces.length && (this.pieces[n] as Piece).through <= floor) n++
    if (n === 0) return
    for (const p of this.pieces.splice(0, n)) { this.itemsHeld -= p.items.length; this.bytesHeld -= p.payloadBytes }
  }

  /** Hold a freshly read piece when it fits: after the held ones (contiguous), or instead of them. Returns whether it is held. */
  private keep (piece: Piece, floor: number): boolean {
    const last = this.pieces[this.pieces.length - 1]
    const contiguous = last !== undefined && last.through === piece.after
    if (!contiguous) {
      // Outside what is held: start over from it unless a slower lane still reads the held pieces.
      const first = this.pieces[0]
      if (first !== undefined && first.after <= floor && floor < (last as Piece).through && piece.after > floor) return false
      this.clear()
    }
    const b = this.bounds
    if (this.pieces.length > 0 && (this.pieces.length + 1 > b.piecesMax || this.itemsHeld + piece.items.length > b.itemsMax || this.bytesHeld + piece.payloadBytes > b.bytesMax)) return false
    this.pieces.push(piece)
    this.itemsHeld += piece.items.length
    this.bytesHeld += piece.payloadBytes
    return true
  }

  /** Serve from the held pieces, starting after `pos`. Returns whether the lane's bounds were reached. */
  private serveHeld (pos: number, want: TailWant, out: LogReadResult, bytes: number): { full: boolean, bytes: number } {
    let i = 0
    while (i < this.pieces.length && (this.pieces[i] as Piece).through <= pos) i++
    for (; i < this.pieces.length; i++) {
      const r = this.serve(this.pieces[i] as Piece, pos, want, out, bytes)
      bytes = r.bytes
      if (r.full) return r
      pos = out.throughLsn
    }
    return { full: false, bytes }
  }

  /** Serve one piece's records after `pos` of the lane's kinds (and priorities); throughLsn moves to the piece's end unless the bounds stop it first. */
  private serve (p: Piece, pos: number, want: TailWant, out: LogReadResult, bytes: number): { full: boolean, bytes: number } {
    // First item after pos (binary search: items are in lsn order).
    let lo = 0
    let hi = p.items.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((p.items[mid] as LogItem).lsn <= pos) lo = mid + 1
      else hi = mid
    }
    // A lane that says what it ships gets only its own entries, within its own bounds (as its lane-only read would).
    const priorities = want.alone?.priorities
    const maxItems = priorities !== undefined ? (want.alone as LaneOnly).maxItems : want.maxItems
    for (let k = mayServe(p.kinds, want) ? lo : p.items.length; k < p.items.length; k++) {
      const it = p.items[k] as LogItem
      if (!isKind(it, want.kinds)) continue
      if (priorities !== undefined && (it.kind === 'message' || it.kind === 'plain') && !priorities(priorityOfItem(it))) continue
      if (out.items.length >= maxItems) return { full: true, bytes }
      const b = payloadBytesOf(it)
      if (out.items.length > 0 && bytes + b > want.maxBytes) return { full: true, bytes }
      bytes += b
      out.items.push(it)
      out.throughLsn = it.lsn
    }
    if (out.items.length >= maxItems) return { full: true, bytes }
    out.throughLsn = Math.max(out.throughLsn, p.through)
    return { full: false, bytes }
  }
}
