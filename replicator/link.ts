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
import { REPL_OUT_SPACE, positionOf, positionValue, type Ledger, type LogItem } from '../store/index.js'
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
  /** Position the remote holds (sender lsn). */
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
}

export class Link {
  private position: number
  private scanPos: number
  private state: LinkState = LinkState.idle
  private failuresInRow = 0
  private closed = false
  private wake: (() => void) | undefined
  private running: Promise<void> | undefined
  private lastSkipSentMs = 0
  private lastPersistMs = 0
  private persistedPosition: number
  private pending: { entries: number, bytes: number, oldestMs: number | undefined, behind: boolean } = { entries: 0, bytes: 0, oldestMs: undefined, behind: false }
  private readonly s: Omit<LinkStats, 'site' | 'state' | 'connected' | 'position' | 'logEndLsn' | 'lagEntries' | 'lagBytes' | 'lagSeconds' | 'behindMoreThanOneRead' | 'backlogAlert'> = {
    batchesSent: 0, entriesShipped: 0, bytesShipped: 0, rewinds: 0, failures: 0, gaps: 0
  }

  private logEndLsn = 0
  /** True once the remote has answered (the first step is an empty batch: a handshake that learns its position). */
  private connected = false

  constructor (
    readonly site: string,
    private readonly self: string,
    private readonly ledger: Ledger,
    private readonly transport: LinkTransport,
    private filter: LinkFilter,
    private readonly limits: LinkLimits,
    private readonly logger: Logger
  ) {
    this.position = positionOf(ledger.getMeta(REPL_OUT_SPACE, site))
    this.persistedPosition = this.position
    this.scanPos = this.position
  }

  /** Start shipping. A new link first records its position, so retention holds what it has not shipped. */
  async start (): Promise<void> {
    if (this.ledger.getMeta(REPL_OUT_SPACE, this.site) === undefined) await this.ledger.putMeta(REPL_OUT_SPACE, this.site, positionValue(this.position))
    this.running = this.loop().catch((err) => { this.logger.error({ site: this.site, err }, 'replication link stopped') })
  }

  setFilter (f: LinkFilter): void { this.filter = f; this.poke() }

  /** New records may be there. */
  poke (): void { const w = this.wake; this.wake = undefined; w?.() }

  async close (): Promise<void> {
    this.closed = true
    this.state = LinkState.closed
    this.poke()
    await this.running
    await this.persist(true).catch(() => {})
  }

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
        const progressed = await this.step()
        this.failuresInRow = 0
        if (!progressed) {
          this.state = LinkState.idle
          await this.persist(false)
          await this.sleep(this.limits.REPL_IDLE_POLL_MS)
        }
      } catch (err) {
        if (this.closed) return
        this.failuresInRow++
        this.s.failures++
        this.state = LinkState.paused
        const code = isFerryError(err) ? err.code : CommonCode.INTERNAL
        this.s.lastError = { code, message: err instanceof Error ? err.message : String(err), atMs: Date.now() }
        if (this.failuresInRow === 1 || this.failuresInRow % 20 === 0) this.logger.warn({ site: this.site, code, failures: this.failuresInRow, err: String(err) }, 'replication link paused')
        await this.sleep(this.backoffMs())
      }
    }
  }

  /** Exponential backoff with full jitter, bounded. */
  private backoffMs (): number {
    const ceiling = Math.min(this.limits.REPL_BACKOFF_MS_MAX, this.limits.REPL_BACKOFF_MS_MIN * 2 ** Math.min(this.failuresInRow - 1, 20))
    return this.limits.REPL_BACKOFF_MS_MIN / 2 + Math.random() * ceiling
  }

  /** One read and at most one batch. Returns whether anything moved. */
  private async step (): Promise<boolean> {
    if (!this.connected) {
      // Handshake: an empty batch at our position; the answer (ok or a position refusal) is where the remote stands.
      await this.send({ from: this.self, to: this.site, after: this.position, through: this.position, items: [] })
      return true
    }
    const r = await this.ledger.readLog(this.scanPos, {
      maxItems: this.limits.REPL_BATCH_ENTRIES_MAX,
      maxBytes: this.limits.REPL_BATCH_BYTES_MAX,
      maxScanBytes: this.limits.REPL_SCAN_BYTES_MAX,
      topics: this.filter.topics,
      meta: this.filter.meta
    })
    this.logEndLsn = r.endLsn
    if (r.gapToLsn !== undefined) {
      this.s.gaps++
      this.logger.error({ site: this.site, from: this.scanPos, to: r.gapToLsn }, 'replication link: records gone before they were shipped')
    }
    const items: WireItem[] = []
    for (const it of r.items) {
      const w = isWire(it) ? it : await this.cancelItem(it)
      if (w === undefined || !this.filter.ships(w)) continue
      items.push(w)
      // A cancel ends its batch: the receiver applies it after the entries before it (receiver.ts).
      if (w.kind === 'cancel') break
    }
    const behind = r.items.length >= this.limits.REPL_BATCH_ENTRIES_MAX
    if (items.length > 0) {
      const last = items[items.length - 1] as WireItem
      this.notePending(items, behind)
      // The batch covers every record up to its last item; the ones after it are read again next time.
      await this.send({ from: this.self, to: this.site, after: this.position, through: last.lsn, items })
      return true
    }
    this.pending = { entries: 0, bytes: 0, oldestMs: undefined, behind: false }
    if (r.throughLsn > this.scanPos) {
      // Only records this link skips: move on, and tell the remote now and then.
      this.scanPos = r.throughLsn
      if (Date.now() - this.lastSkipSentMs >= this.limits.REPL_SKIP_ADVANCE_INTERVAL_MS) {
        this.lastSkipSentMs = Date.now()
        await this.send({ from: this.self, to: this.site, after: this.position, through: this.scanPos, items: [] })
      }
      return true
    }
    if (this.scanPos > this.position && Date.now() - this.lastSkipSentMs >= this.limits.REPL_SKIP_ADVANCE_INTERVAL_MS) {
      this.lastSkipSentMs = Date.now()
      await this.send({ from: this.self, to: this.site, after: this.position, through: this.scanPos, items: [] })
      return true
    }
    return false
  }

  /** A cancel record names a local entry id; the wire names the entry by its origin (and carries the sites it passed). */
  private async cancelItem (it: LogItem): Promise<WireItem | undefined> {
    if (it.kind !== 'cancel') return undefined
    const e = await this.ledger.readOne(it.topic, it.entryId)
    if (e === undefined) return undefined // gone (retention): nothing left to cancel anywhere it was shipped from here
    return { kind: 'cancel', lsn: it.lsn, topic: it.topic, originSite: e.props.originSite ?? this.self, originEntryId: e.props.originEntryId ?? it.entryId }
  }

  private notePending (items: WireItem[], behind: boolean): void {
    let bytes = 0
    let entries = 0
    let oldest: number | undefined
    for (const it of items) {
      if (it.kind !== 'message') continue
      entries++
      bytes += it.payload.length
      if (oldest === undefined || it.publishTime < oldest) oldest = it.publishTime
    }
    this.pending = { entries, bytes, oldestMs: oldest, behind }
  }

  private async send (b: Batch): Promise<void> {
    this.state = LinkState.shipping
    const data = encodeBatch(b)
    const reply = decodeAnswer(await this.transport.request(this.site, data, this.limits.REPL_REQUEST_TIMEOUT_MS))
    this.s.batchesSent++
    this.connected = true
    if (reply.ok) {
      this.position = reply.position
      this.scanPos = Math.max(this.scanPos, reply.position)
      if (b.items.length > 0) this.scanPos = reply.position
      let entries = 0
      for (const it of b.items) if (it.kind === 'message') entries++
      this.s.entriesShipped += entries
      this.s.bytesShipped += data.length
      this.pending = { entries: 0, bytes: 0, oldestMs: undefined, behind: this.pending.behind }
      await this.persist(false)
      return
    }
    if (reply.code === ReplCode.POSITION) {
      // The remote holds another position: continue right after it (rewind after a lost batch, skip ahead after our restart).
      if (reply.position >= this.logEndLsn && reply.position > this.position) {
        throw new FerryError(ReplCode.AHEAD, `site ${this.site} holds position ${reply.position}, beyond this site's log end ${this.logEndLsn}`)
      }
      this.s.rewinds++
      this.logger.info({ site: this.site, from: this.position, to: reply.position }, 'replication link repositioned by the remote')
      this.position = reply.position
      this.scanPos = reply.position
      return
    }
    throw new FerryError(reply.code, `site ${this.site} refused a batch: ${reply.message}`)
  }

  private async persist (force: boolean): Promise<void> {
    if (this.position === this.persistedPosition) return
    if (!force && Date.now() - this.lastPersistMs < this.limits.REPL_OUT_PERSIST_INTERVAL_MS) return
    this.lastPersistMs = Date.now()
    const p = this.position
    await this.ledger.putMeta(REPL_OUT_SPACE, this.site, positionValue(p))
    this.persistedPosition = p
  }

  stats (): LinkStats {
    const now = Date.now()
    const lagSeconds = this.pending.oldestMs === undefined ? 0 : Math.max(0, (now - this.pending.oldestMs) / 1000)
    return {
      site: this.site,
      state: this.state,
      connected: this.connected,
      position: this.position,
      logEndLsn: this.logEndLsn,
      lagEntries: this.pending.entries,
      lagBytes: this.pending.bytes,
      lagSeconds,
      behindMoreThanOneRead: this.pending.behind,
      backlogAlert: this.pending.bytes > this.limits.REPL_LINK_BACKLOG_BYTES_ALERT,
      ...this.s
    }
  }
}

function isWire (it: LogItem): it is Exclude<WireItem, { kind: 'cancel' }> {
  return it.kind === 'message' || it.kind === 'meta'
}
