/**
 * The reads of a link's lanes (replicator/link.ts): each lane reads the log
 * by itself, for what it ships only (lane-only reads): the control lane meta
 * records, the high and normal lanes the message records of their
 * priorities (and cancels, which go in their entry's lane), within one
 * batch's bounds, after the lane's held batch if it has one; then the
 * replicator's filter decides what goes to this neighbour.
 *
 * The log tail decides a record's lane from its bytes (store/records.ts
 * peekRoute), so a lane decodes only the records it ships: the other lanes
 * walk past them at the cost of a frame header and a peek. Before, the three
 * lanes shared one read of everything (a shared tail of decoded records,
 * bounded): during a drain the lanes drifted apart beyond its bounds, and
 * each record was decoded 2.4 times and its frame checked 2.4 times, the
 * decoded records held long enough to reach the old generation (session 8:
 * a third of a drain's CPU was GC). Blocks read from files are kept for the
 * lanes' next reads by the store (store/read-blocks.ts).
 */
import type { Logger } from '../common/log.js'
import { Lane, laneOfPriority, type Ledger, type LogItem } from '../store/index.js'
import type { WireItem } from './codec.js'
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
  ) {}

  setFilter (f: LinkFilter): void { this.filter = f }

  /**
   * One read of the lane's tail: what it ships, within one batch's bounds,
   * after the lane's held batch if it has one (the read continues where that
   * one's reads ended). `complete`: the batch reached a bound or ends with a
   * cancel, so it goes now. Moves the held batch into the result.
   */
  async read (l: LaneState): Promise<LaneRead> {
    const control = l.lane === Lane.control
    const held = l.held
    l.held = undefined
    const from = held?.readThrough ?? l.scanPos
    const r = await this.ledger.readLog(from, {
      maxItems: this.limits.REPL_BATCH_ENTRIES_MAX,
      maxBytes: this.limits.REPL_BATCH_BYTES_MAX,
      maxScanBytes: this.limits.REPL_SCAN_BYTES_MAX,
      // The link's destination: entries that passed it never go back (loop prevention).
      skipVia: this.site,
      ...(control ? { meta: this.filter.meta } : { topics: this.filter.topics, priorities: l.lane === Lane.high ? isHigh : isNormal })
    })
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
      if (w.kind === 'message' && laneOfPriority(w.props.priority) !== l.lane) continue
      // The read kept to the batch's bounds; with a held batch before it they are checked again.
      const b = w.kind === 'message' ? w.payload.length : 0
      if (items.length >= this.limits.REPL_BATCH_ENTRIES_MAX || (items.length > 0 && bytes + b > this.limits.REPL_BATCH_BYTES_MAX)) { complete = true; break }
      bytes += b
      items.push(w)
      // A cancel ends its batch: the receiver applies it after the entries before it (receiver.ts).
      if (w.kind === 'cancel') { complete = true; break }
    }
    l.behind = r.items.length >= this.limits.REPL_BATCH_ENTRIES_MAX
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
  return it.kind === 'message' || it.kind === 'meta'
}
