/**
 * The reads of a link's lanes (replicator/link.ts): each from the link's
 * shared tail (shared-tail.ts), kept to what the lane ships to this neighbour
 * (the replicator's filter, the lane of each entry's priority), within one
 * batch's bounds, after the lane's held batch if it has one. A lane ahead of
 * what the shared tail holds reads lane-only (its kinds and priorities: the
 * log tail decodes nothing else).
 */
import type { Logger } from '../common/log.js'
import { Lane, laneOfPriority, type Ledger, type LogItem } from '../store/index.js'
import { entryBytesOf, priorityOf, type WireItem } from './codec.js'
import { REPL_HIGH_LANE_READ_FACTOR } from './constants.js'
import { SharedTail, TailKinds } from './shared-tail.js'
import type { LaneState, LinkFilter, LinkLimits } from './link-state.js'

const isHigh = (priority: number | undefined): boolean => laneOfPriority(priority) === Lane.high
const isNormal = (priority: number | undefined): boolean => laneOfPriority(priority) === Lane.normal

/** One read of a lane. */
export interface LaneRead {
  /** What the lane ships, its held batch's items first. */
  items: WireItem[]
  payloadBytes: number
  /** The batch reached a bound or ends with a cancel: it goes now (it is never held). */
  complete: boolean
  /** Where the read ended (records examined, kept or not). */
  throughLsn: number
}

export class LaneReader {
  private readonly tail: SharedTail
  /** End of this site's durable log at the last read. */
  logEndLsn = 0
  /** Records that were gone when a lane came to them (retention took them). */
  gaps = 0

  constructor (
    private readonly ledger: Ledger,
    private readonly site: string,
    private readonly self: string,
    private filter: LinkFilter,
    private readonly limits: LinkLimits,
    private readonly logger: Logger
  ) {
    this.tail = new SharedTail(ledger, site, filter)
    this.tail.plain = limits.REPL_SHIP_PLAIN_RECORDS > 0
  }

  setFilter (f: LinkFilter): void { this.filter = f; this.tail.setFilter(f) }

  /**
   * One read of the lane's tail: what it ships, within one batch's bounds,
   * after the lane's held batch if it has one (the read continues where that
   * one's reads ended). `complete`: the batch reached a bound or ends with a
   * cancel, so it goes now. Moves the held batch into the result.
   */
  async read (l: LaneState, lanes: readonly LaneState[]): Promise<LaneRead> {
    const control = l.lane === Lane.control
    const factor = l.lane === Lane.high ? REPL_HIGH_LANE_READ_FACTOR : 1
    const held = l.held
    l.held = undefined
    const from = held?.readThrough ?? l.scanPos
    let floor = l.scanPos
    for (const o of lanes) floor = Math.min(floor, o.scanPos)
    const r = await this.tail.read(from, {
      kinds: control ? TailKinds.meta : TailKinds.entries,
      maxItems: this.limits.REPL_BATCH_ENTRIES_MAX * factor,
      maxBytes: this.limits.REPL_BATCH_BYTES_MAX * factor,
      maxScanBytes: this.limits.REPL_SCAN_BYTES_MAX,
      // Read by itself (not shared): one batch of the lane's own records (the scan bound limits the walk past the others).
      alone: {
        maxItems: this.limits.REPL_BATCH_ENTRIES_MAX,
        maxBytes: this.limits.REPL_BATCH_BYTES_MAX,
        ...(control ? { meta: this.filter.meta } : { topics: this.filter.topics, priorities: l.lane === Lane.high ? isHigh : isNormal })
      }
    }, floor)
    this.logEndLsn = r.endLsn
    if (r.gapToLsn !== undefined) {
      this.gaps++
      this.logger.error({ site: this.site, lane: l.lane, from, to: r.gapToLsn }, 'replication link: records gone before they were shipped')
    }
    const items: WireItem[] = held?.items ?? []
    let bytes = held?.payloadBytes ?? 0
    let complete = false
    for (const it of r.items) {
      const w = isWire(it) ? it : await this.cancelItem(it, l.lane)
      if (w === undefined || !this.filter.ships(w)) continue
      if ((w.kind === 'message' || w.kind === 'plain') && laneOfPriority(priorityOf(w)) !== l.lane) continue
      // The batch bounds hold whatever the read returned (the high lane reads more than a batch).
      const b = entryBytesOf(w)
      if (items.length >= this.limits.REPL_BATCH_ENTRIES_MAX || (items.length > 0 && bytes + b > this.limits.REPL_BATCH_BYTES_MAX)) { complete = true; break }
      bytes += b
      items.push(w)
      // A cancel ends its batch: the receiver applies it after the entries before it (receiver.ts).
      if (w.kind === 'cancel') { complete = true; break }
    }
    l.behind = r.items.length >= this.limits.REPL_BATCH_ENTRIES_MAX * factor
    return { items, payloadBytes: bytes, complete, throughLsn: r.throughLsn }
  }

  /** A cancel record names a local entry id; the wire names the entry by its origin. It travels in its entry's lane. */
  private async cancelItem (it: LogItem, lane: Lane): Promise<WireItem | undefined> {
    if (it.kind !== 'cancel') return undefined
    const e = await this.ledger.readOne(it.topic, it.entryId)
    if (e === undefined || laneOfPriority(e.props.priority) !== lane) return undefined // gone (retention), or another lane's
    return { kind: 'cancel', lsn: it.lsn, topic: it.topic, originSite: e.props.originSite ?? this.self, originEntryId: e.props.originEntryId ?? it.entryId }
  }
}

function isWire (it: LogItem): it is Exclude<WireItem, { kind: 'cancel' }> {
  return it.kind === 'message' || it.kind === 'meta' || it.kind === 'plain'
}
