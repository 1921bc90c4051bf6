/**
 * One outbound link: this site's log, shipped to one neighbour site.
 *
 * The link reads the log tail after its position, keeps the records the
 * plan sends to this neighbour, batches them (bounded entries and bytes),
 * sends one batch at a time and waits for the answer; only the remote's
 * answer moves the position. A refusal with a position rewinds (or skips
 * ahead) to it; any other refusal or silence pauses the link with
 * exponential backoff and jitter, and it resumes by itself once the remote
 * answers again. After a restart of either side the first batch simply
 * starts at the persisted position and is corrected by the remote's answer.
 */
import type { Logger } from '../common/log.js'
import { CommonCode, FerryError, isFerryError } from '../common/errors.js'
import { LANES, Lane, REPL_OUT_SPACE, laneKey, laneOfPriority, positionOf, positionValue, type Ledger, type LogItem } from '../store/index.js'
import { decodeAnswer, encodeBatch, type Batch, type WireItem } from './codec.js'
import { ReplCode } from './errors.js'
import type { LinkTransport } from './transport.js'
import type * as Limits from './constants.js'

export type LinkLimits = {
  [K in 'REPL_BATCH_ENTRIES_MAX' | 'REPL_BATCH_BYTES_MAX' | 'REPL_SCAN_BYTES_MAX' | 'REPL_REQUEST_TIMEOUT_MS' | 'REPL_BACKOFF_MS_MIN' |
  'REPL_BACKOFF_MS_MAX' | 'REPL_IDLE_POLL_MS' | 'REPL_SKIP_ADVANCE_INTERVAL_MS' | 'REPL_OUT_PERSIST_INTERVAL_MS' | 'REPL_LINK_BACKLOG_BYTES_ALERT']: typeof Limits[K]
}

/** What the link asks the replicator about each record. */
export interface LinkFilter {
  topics: (topic: string) => boolean
  meta: (space: string, key: string) => boolean
  /** Whether this item goes on this link (origin, sites passed, routes). */
  ships: (item: WireItem) => boolean
}

export const LinkState = {
  idle: 'idle',
  shipping: 'shipping',
  /** The remote refused or did not answer; retrying with backoff. */
  paused: 'paused',
  closed: 'closed'
} as const
export type LinkState = typeof LinkState[keyof typeof LinkState]

export interface LinkStats {
  site: string
  state: LinkState
  /** The remote has answered at least once since this link started. */
  connected: boolean
  /** Position the remote holds for the normal lane (sender lsn). */
  position: number
  /** End of this site's durable log. */
  logEndLsn: number
  /** Entries read and not yet acknowledged by the remote (a lower bound when behindMoreThanOneRead). */
  lagEntries: number
  /** Payload bytes of those entries. */
  lagBytes: number
  /** Age of the oldest entry not yet acknowledged, seconds (0 when caught up). */
  lagSeconds: number
  /** More unshipped log than one read holds: the lag figures are lower bounds. */
  behindMoreThanOneRead: boolean
  backlogAlert: boolean
  batchesSent: number
  entriesShipped: number
  bytesShipped: number
  rewinds: number
  failures: number
  /** Records that were gone when the link came to them (retention took them): counted, never silent. */
  gaps: number
  lastError?: { code: string, message: string, atMs: number }
  /** Per lane (0 control, 1 high priority, 2 normal): position and entries read but not acknowledged. */
  lanes: Array<{ lane: number, position: number, lagEntries: number }>
}

/** One lane's progress on a link (positions are per lane: store/origin-marks.ts). */
interface LaneState {
  lane: Lane
  position: number
  scanPos: number
  persisted: number
  connected: boolean
  /** Nothing to read the last time; cleared by a poke (new records). */
  idle: boolean
  lastSkipSentMs: number
  pending: { entries: number, bytes: number, oldestMs: number | undefined, behind: boolean }
}

/**
 * Turns of the lanes when several have something to ship: control first, the
 * high lane four times as often as the normal one, and the normal lane always
 * gets a turn (low priorities progress behind a stream of high ones).
 */
const LANE_SCHEDULE: readonly Lane[] = [Lane.control, Lane.high, Lane.high, Lane.high, Lane.high, Lane.normal]

export class Link {
  private readonly lanes: LaneState[]
  private turn = 0
  private state: LinkState = LinkState.idle
  private failuresInRow = 0
  private closed = false
  private poked = false
  private wake: (() => void) | undefined
  private running: Promise<void> | undefined
  private lastPersistMs = 0
  private readonly s: Omit<LinkStats, 'site' | 'state' | 'connected' | 'position' | 'logEndLsn' | 'lagEntries' | 'lagBytes' | 'lagSeconds' | 'behindMoreThanOneRead' | 'backlogAlert' | 'lanes'> = {
    batchesSent: 0, entriesShipped: 0, bytesShipped: 0, rewinds: 0, failures: 0, gaps: 0
  }

  private logEndLsn = 0

  constructor (
    readonly site: string,
    private readonly self: string,
    private readonly ledger: Ledger,
    private readonly transport: LinkTransport,
    private filter: LinkFilter,
    private readonly limits: LinkLimits,
    private readonly logger: Logger
  ) {
    this.lanes = LANES.map((lane) => {
      const p = positionOf(ledger.getMeta(REPL_OUT_SPACE, laneKey(site, lane)))
      return { lane, position: p, scanPos: p, persisted: p, connected: false, idle: false, lastSkipSentMs: 0, pending: { entries: 0, bytes: 0, oldestMs: undefined, behind: false } }
    })
  }

  /** Start shipping. A new link first records its positions, so retention holds what it has not shipped. */
  async start (): Promise<void> {
    for (const l of this.lanes) {
      const key = laneKey(this.site, l.lane)
      if (this.ledger.getMeta(REPL_OUT_SPACE, key) === undefined) await this.ledger.putMeta(REPL_OUT_SPACE, key, positionValue(l.position))
    }
    this.running = this.loop().catch((err) => { this.logger.error({ site: this.site, err }, 'replication link stopped') })
  }

  setFilter (f: LinkFilter): void { this.filter = f; this.poke() }

  /** New records may be there. */
  poke (): void {
    this.poked = true
    for (const l of this.lanes) l.idle = false
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  async close (): Promise<void> {
    this.closed = true
    this.state = LinkState.closed
    this.poke()
    await this.running
    await this.persist(true).catch(() => {})
  }

  /** The keys of this link's outbound positions (the replicator removes them when the link goes). */
  static positionKeys (site: string): string[] { return LANES.map((lane) => laneKey(site, lane)) }

  private async sleep (ms: number): Promise<void> {
    if (this.closed) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.wake = undefined; resolve() }, ms)
      this.wake = () => { clearTimeout(timer); resolve() }
    })
  }

  private async loop (): Promise<void> {
    while (!this.closed) {
      try {
        this.poked = false
        const progressed = await this.step()
        this.failuresInRow = 0
        if (!progressed && !this.poked) {
          this.state = LinkState.idle
          await this.persist(false)
          // Idle: look again after a while even without a poke (meta and cancel records do not poke).
          await this.sleep(this.limits.REPL_IDLE_POLL_MS)
          for (const l of this.lanes) l.idle = false
        }
      } catch (err) {
        if (this.closed) return
        this.failuresInRow++
        this.s.failures++
        this.state = LinkState.paused
        const code = isFerryError(err) ? err.code : CommonCode.INTERNAL
        this.s.lastError = { code, message: err instanceof Error ? err.message : String(err), atMs: Date.now() }
        if (this.failuresInRow === 1 || this.failuresInRow % 20 === 0) this.logger.warn({ site: this.site, code, failures: this.failuresInRow, err: String(err) }, 'replication link paused')
        for (const l of this.lanes) l.idle = false
        await this.sleep(this.backoffMs())
      }
    }
  }

  /** Exponential backoff with full jitter, bounded. */
  private backoffMs (): number {
    const ceiling = Math.min(this.limits.REPL_BACKOFF_MS_MAX, this.limits.REPL_BACKOFF_MS_MIN * 2 ** Math.min(this.failuresInRow - 1, 20))
    return this.limits.REPL_BACKOFF_MS_MIN / 2 + Math.random() * ceiling
  }

  /** The next lane's turn (weighted), skipping lanes with nothing to read. */
  private nextLane (): LaneState | undefined {
    for (let i = 0; i < LANE_SCHEDULE.length; i++) {
      const lane = LANE_SCHEDULE[this.turn % LANE_SCHEDULE.length] as Lane
      this.turn++
      const l = this.lanes[lane] as LaneState
      if (!l.idle || !l.connected) return l
    }
    return undefined
  }

  /** One read of one lane and at most one batch. Returns whether anything moved. */
  private async step (): Promise<boolean> {
    const l = this.nextLane()
    if (l === undefined) return false
    if (!l.connected) {
      // Handshake: an empty batch at our position; the answer (ok or a position refusal) is where the remote stands.
      await this.send(l, { from: this.self, to: this.site, lane: l.lane, after: l.position, through: l.position, items: [] })
      return true
    }
    const control = l.lane === Lane.control
    const r = await this.ledger.readLog(l.scanPos, {
      maxItems: this.limits.REPL_BATCH_ENTRIES_MAX,
      maxBytes: this.limits.REPL_BATCH_BYTES_MAX,
      maxScanBytes: this.limits.REPL_SCAN_BYTES_MAX,
      ...(control ? { meta: this.filter.meta } : { topics: this.filter.topics })
    })
    this.logEndLsn = r.endLsn
    if (r.gapToLsn !== undefined) {
      this.s.gaps++
      this.logger.error({ site: this.site, lane: l.lane, from: l.scanPos, to: r.gapToLsn }, 'replication link: records gone before they were shipped')
    }
    const items: WireItem[] = []
    for (const it of r.items) {
      const w = isWire(it) ? it : await this.cancelItem(it, l.lane)
      if (w === undefined || !this.filter.ships(w)) continue
      if (w.kind === 'message' && laneOfPriority(w.props.priority) !== l.lane) continue
      items.push(w)
      // A cancel ends its batch: the receiver applies it after the entries before it (receiver.ts).
      if (w.kind === 'cancel') break
    }
    const behind = r.items.length >= this.limits.REPL_BATCH_ENTRIES_MAX
    if (items.length > 0) {
      const last = items[items.length - 1] as WireItem
      this.notePending(l, items, behind)
      // The batch covers every record up to its last item; the ones after it are read again next time.
      await this.send(l, { from: this.self, to: this.site, lane: l.lane, after: l.position, through: last.lsn, items })
      return true
    }
    l.pending = { entries: 0, bytes: 0, oldestMs: undefined, behind: false }
    if (r.throughLsn > l.scanPos) {
      // Only records this lane skips: move on, and tell the remote now and then.
      l.scanPos = r.throughLsn
      await this.maybeAdvance(l)
      return true
    }
    l.idle = true
    return await this.maybeAdvance(l)
  }

  /** Tell the remote how far this lane skipped, at most every REPL_SKIP_ADVANCE_INTERVAL_MS (each costs a remote fsync). */
  private async maybeAdvance (l: LaneState): Promise<boolean> {
    if (l.scanPos <= l.position || Date.now() - l.lastSkipSentMs < this.limits.REPL_SKIP_ADVANCE_INTERVAL_MS) return false
    l.lastSkipSentMs = Date.now()
    await this.send(l, { from: this.self, to: this.site, lane: l.lane, after: l.position, through: l.scanPos, items: [] })
    return true
  }

  /** A cancel record names a local entry id; the wire names the entry by its origin. It travels in its entry's lane. */
  private async cancelItem (it: LogItem, lane: Lane): Promise<WireItem | undefined> {
    if (it.kind !== 'cancel') return undefined
    const e = await this.ledger.readOne(it.topic, it.entryId)
    if (e === undefined || laneOfPriority(e.props.priority) !== lane) return undefined // gone (retention), or another lane's
    return { kind: 'cancel', lsn: it.lsn, topic: it.topic, originSite: e.props.originSite ?? this.self, originEntryId: e.props.originEntryId ?? it.entryId }
  }

  private notePending (l: LaneState, items: WireItem[], behind: boolean): void {
    let bytes = 0
    let entries = 0
    let oldest: number | undefined
    for (const it of items) {
      if (it.kind !== 'message') continue
      entries++
      bytes += it.payload.length
      if (oldest === undefined || it.publishTime < oldest) oldest = it.publishTime
    }
    l.pending = { entries, bytes, oldestMs: oldest, behind }
  }

  private async send (l: LaneState, b: Batch): Promise<void> {
    this.state = LinkState.shipping
    const data = encodeBatch(b)
    const reply = decodeAnswer(await this.transport.request(this.site, data, this.limits.REPL_REQUEST_TIMEOUT_MS))
    this.s.batchesSent++
    l.connected = true
    if (reply.ok) {
      l.position = reply.position
      l.scanPos = b.items.length > 0 ? reply.position : Math.max(l.scanPos, reply.position)
      let entries = 0
      for (const it of b.items) if (it.kind === 'message') entries++
      this.s.entriesShipped += entries
      this.s.bytesShipped += data.length
      l.pending = { entries: 0, bytes: 0, oldestMs: undefined, behind: l.pending.behind }
      await this.persist(false)
      return
    }
    if (reply.code === ReplCode.POSITION) {
      // The remote holds another position: continue right after it (rewind after a lost batch, skip ahead after our restart).
      if (reply.position >= this.logEndLsn && reply.position > l.position && this.logEndLsn > 0) {
        throw new FerryError(ReplCode.AHEAD, `site ${this.site} holds position ${reply.position}, beyond this site's log end ${this.logEndLsn}`)
      }
      this.s.rewinds++
      this.logger.info({ site: this.site, lane: l.lane, from: l.position, to: reply.position }, 'replication link repositioned by the remote')
      l.position = reply.position
      l.scanPos = reply.position
      l.idle = false
      return
    }
    throw new FerryError(reply.code, `site ${this.site} refused a batch: ${reply.message}`)
  }

  private async persist (force: boolean): Promise<void> {
    if (this.lanes.every((l) => l.position === l.persisted)) return
    if (!force && Date.now() - this.lastPersistMs < this.limits.REPL_OUT_PERSIST_INTERVAL_MS) return
    this.lastPersistMs = Date.now()
    for (const l of this.lanes) {
      if (l.position === l.persisted) continue
      const p = l.position
      await this.ledger.putMeta(REPL_OUT_SPACE, laneKey(this.site, l.lane), positionValue(p))
      l.persisted = p
    }
  }

  stats (): LinkStats {
    const now = Date.now()
    let entries = 0
    let bytes = 0
    let oldest: number | undefined
    let behind = false
    for (const l of this.lanes) {
      entries += l.pending.entries
      bytes += l.pending.bytes
      behind ||= l.pending.behind
      if (l.pending.oldestMs !== undefined && (oldest === undefined || l.pending.oldestMs < oldest)) oldest = l.pending.oldestMs
    }
    const normal = this.lanes[Lane.normal] as LaneState
    return {
      site: this.site,
      state: this.state,
      connected: this.lanes.every((l) => l.connected),
      position: normal.position,
      logEndLsn: this.logEndLsn,
      lagEntries: entries,
      lagBytes: bytes,
      lagSeconds: oldest === undefined ? 0 : Math.max(0, (now - oldest) / 1000),
      behindMoreThanOneRead: behind,
      backlogAlert: bytes > this.limits.REPL_LINK_BACKLOG_BYTES_ALERT,
      lanes: this.lanes.map((l) => ({ lane: l.lane, position: l.position, lagEntries: l.pending.entries })),
      ...this.s
    }
  }
}

function isWire (it: LogItem): it is Exclude<WireItem, { kind: 'cancel' }> {
  return it.kind === 'message' || it.kind === 'meta'
}
