/**
 * One outbound link: this site's log, shipped to one neighbour site.
 *
 * The link reads the log tail after its position, keeps the records the
 * plan sends to this neighbour, batches them (bounded entries and bytes) and
 * pipelines them: up to REPL_INFLIGHT_BATCHES_MAX batches and
 * REPL_INFLIGHT_BYTES_MAX payload bytes unanswered, each starting right after
 * the one before. Only the remote's answer moves the position; positions are
 * cumulative, so an ok answer also covers earlier batches whose answers were
 * lost. A refusal with a position (an earlier batch was lost or failed, so a
 * later one does not start where the remote stands: apache/pulsar#26113)
 * rewinds the lane to it and drops everything else in flight on that lane;
 * their refusals that follow are ignored. Any other refusal or silence
 * pauses the link with exponential backoff and jitter, drops everything in
 * flight, and it resumes by itself once the remote answers again. After a
 * restart of either side the first batch simply starts at the persisted
 * position and is corrected by the remote's answer.
 *
 * Coalescing: while a lane has a batch in flight, a partial batch it reads is
 * held and grows with the next reads (each continues where the last ended, so
 * nothing is read twice); it goes once the lane's batches in flight are
 * answered, once it reaches REPL_BATCH_COALESCE_ENTRIES_MIN entries or
 * REPL_BATCH_COALESCE_BYTES_MIN bytes, or after REPL_BATCH_COALESCE_MS. A
 * stream of small group commits then ships as a few large batches.
 *
 * Beside it: link-state.ts (the lane state, batches in flight, lag figures),
 * link-read.ts (a lane's read of the shared tail), link-answers.ts (what the
 * remote's answers do to the lanes).
 */
import type { Logger } from '../common/log.js'
import { CommonCode, isFerryError } from '../common/errors.js'
import { LANES, Lane, REPL_OUT_SPACE, laneKey, positionOf, positionValue, type Ledger } from '../store/index.js'
import { decodeAnswer, encodeBatch, encodeBatchCompressed, entryBytesOf, type Batch, type WireItem } from './codec.js'
import type { LinkTransport } from './transport.js'
import { LANE_SCHEDULE, LinkState, lagOf, pendingOf, type InFlight, type LaneState, type LinkFilter, type LinkLimits, type LinkStats } from './link-state.js'
import { LaneReader } from './link-read.js'
import { settleAnswers, type AnswerHost } from './link-answers.js'

export { LinkState, type LinkFilter, type LinkLimits, type LinkStats } from './link-state.js'

export class Link {
  private readonly lanes: LaneState[]
  private turn = 0
  private state: LinkState = LinkState.idle
  private failuresInRow = 0
  private closed = false
  private poked = false
  /** An answer arrived since the loop last looked (wakes a waiting loop). */
  private answered = false
  private wake: (() => void) | undefined
  private running: Promise<void> | undefined
  private lastPersistMs = 0
  /** Requests sent and not settled at the transport (dropped ones included, until they settle). */
  private unsettledBatches = 0
  private unsettledPayloadBytes = 0
  private readonly s: Omit<LinkStats, 'site' | 'state' | 'connected' | 'position' | 'logEndLsn' | 'lagEntries' | 'lagBytes' | 'lagSeconds' | 'behindMoreThanOneRead' | 'backlogAlert' | 'lanes' | 'gaps'> = {
    batchesSent: 0, entryBatchesSent: 0, coalesceHolds: 0, entriesShipped: 0, plainEntriesSent: 0, bytesShipped: 0, rewinds: 0, failures: 0
  }

  /** The lanes' reads, from one read of the log shared by the lanes. */
  private readonly reader: LaneReader
  /** What settling answers reads and changes here (link-answers.ts). */
  private readonly answers: AnswerHost

  constructor (
    readonly site: string,
    private readonly self: string,
    private readonly ledger: Ledger,
    private readonly transport: LinkTransport,
    filter: LinkFilter,
    private readonly limits: LinkLimits,
    private readonly logger: Logger
  ) {
    this.reader = new LaneReader(ledger, site, self, filter, limits, logger)
    const reader = this.reader
    this.answers = {
      site,
      logger,
      get logEndLsn () { return reader.logEndLsn },
      counts: this.s,
      answeredOk: () => { this.failuresInRow = 0 }
    }
    this.lanes = LANES.map((lane) => {
      const p = positionOf(ledger.getMeta(REPL_OUT_SPACE, laneKey(site, lane)))
      return { lane, position: p, scanPos: p, persisted: p, connected: false, probe: true, idle: false, lastSkipSentMs: 0, behind: false, queue: [] }
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

  setFilter (f: LinkFilter): void { this.reader.setFilter(f); this.poke() }

  /** New records may be there. */
  poke (): void {
    this.poked = true
    for (const l of this.lanes) l.idle = false
    this.wakeUp()
  }

  private wakeUp (): void {
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

  private inFlight (): number {
    let n = 0
    for (const l of this.lanes) n += l.queue.length
    return n
  }

  private async loop (): Promise<void> {
    while (!this.closed) {
      try {
        this.poked = false
        this.answered = false
        let moved = this.settle()
        this.releaseHeld()
        moved = await this.fill() || moved
        moved = this.settle() || moved
        await this.persist(false)
        if (moved || this.poked || this.answered) continue
        const heldWaitMs = this.releaseHeld()
        if (heldWaitMs === 0) continue
        if (this.inFlight() > 0) {
          // Wait for an answer (or new records, or a held batch's deadline); the timeout only re-checks.
          this.state = LinkState.shipping
          await this.sleep(Math.min(this.limits.REPL_IDLE_POLL_MS, heldWaitMs ?? Infinity))
          continue
        }
        this.state = LinkState.idle
        // Idle: look again after a while even without a poke (meta and cancel records do not poke).
        await this.sleep(this.limits.REPL_IDLE_POLL_MS)
        for (const l of this.lanes) l.idle = false
      } catch (err) {
        if (this.closed) return
        this.failuresInRow++
        this.s.failures++
        this.state = LinkState.paused
        const code = isFerryError(err) ? err.code : CommonCode.INTERNAL
        this.s.lastError = { code, message: err instanceof Error ? err.message : String(err), atMs: Date.now() }
        if (this.failuresInRow === 1 || this.failuresInRow % 20 === 0) this.logger.warn({ site: this.site, code, failures: this.failuresInRow, err: String(err) }, 'replication link paused')
        // Drop everything in flight: resend from where the remote stands (its answer corrects us if it holds more).
        for (const l of this.lanes) {
          const read = pendingOf(l.queue, l.held)
          if (read.entries > 0) l.dropped = read
          l.queue = []; l.scanPos = l.position; l.idle = false; l.probe = true; l.held = undefined
        }
        await this.sleep(this.backoffMs())
      }
    }
  }

  /** Exponential backoff with full jitter, bounded. */
  private backoffMs (): number {
    const ceiling = Math.min(this.limits.REPL_BACKOFF_MS_MAX, this.limits.REPL_BACKOFF_MS_MIN * 2 ** Math.min(this.failuresInRow - 1, 20))
    return this.limits.REPL_BACKOFF_MS_MIN / 2 + Math.random() * ceiling
  }

  /**
   * Lanes whose held batch may go now (nothing of the lane in flight any
   * more, or its REPL_BATCH_COALESCE_MS passed) get a turn. Returns 0 when
   * some lane was released, else the ms until the next held batch's deadline
   * (undefined: nothing held).
   */
  private releaseHeld (): number | undefined {
    const now = Date.now()
    let waitMs: number | undefined
    for (const l of this.lanes) {
      if (l.held === undefined || !l.idle) continue
      const leftMs = l.held.sinceMs + this.limits.REPL_BATCH_COALESCE_MS - now
      if (l.queue.length < this.limits.REPL_BATCH_COALESCE_INFLIGHT_MIN || leftMs <= 0) { l.idle = false; waitMs = 0; continue }
      if (waitMs === undefined || leftMs < waitMs) waitMs = leftMs
    }
    return waitMs
  }

  /** Whether a partial batch waits for more (coalescing) instead of going now. */
  private holds (l: LaneState, items: readonly WireItem[], payloadBytes: number, sinceMs: number): boolean {
    if (this.limits.REPL_BATCH_COALESCE_MS <= 0 || l.queue.length < this.limits.REPL_BATCH_COALESCE_INFLIGHT_MIN) return false
    if (items.length >= this.limits.REPL_BATCH_COALESCE_ENTRIES_MIN || payloadBytes >= this.limits.REPL_BATCH_COALESCE_BYTES_MIN) return false
    return Date.now() - sinceMs < this.limits.REPL_BATCH_COALESCE_MS
  }

  /** Room for one more full batch in the window (a lone batch always goes). */
  private windowOpen (): boolean {
    if (this.unsettledBatches === 0) return true
    return this.unsettledBatches < this.limits.REPL_INFLIGHT_BATCHES_MAX &&
      this.unsettledPayloadBytes + this.limits.REPL_BATCH_BYTES_MAX <= this.limits.REPL_INFLIGHT_BYTES_MAX
  }

  /** The next lane's turn (weighted), skipping lanes that have nothing to do now. */
  private nextLane (): LaneState | undefined {
    for (let i = 0; i < LANE_SCHEDULE.length; i++) {
      const lane = LANE_SCHEDULE[this.turn % LANE_SCHEDULE.length] as Lane
      this.turn++
      const l = this.lanes[lane] as LaneState
      if (l.connected && !l.probe ? !l.idle : l.queue.length === 0) return l
    }
    return undefined
  }

  /** Send batches while the window has room and some lane has something. Returns whether anything moved. */
  private async fill (): Promise<boolean> {
    let moved = false
    // Bounded work per call: a lane that only skips records moves without sending.
    for (let i = 0; i < LANE_SCHEDULE.length * 4 && !this.closed && this.windowOpen(); i++) {
      const l = this.nextLane()
      if (l === undefined) break
      if (await this.stepLane(l)) moved = true
    }
    return moved
  }

  /** Where the remote will stand once everything in flight on the lane is applied. */
  private sentThrough (l: LaneState): number {
    const last = l.queue[l.queue.length - 1]
    return last === undefined ? l.position : last.through
  }

  /** One read of one lane and at most one batch. Returns whether anything moved. */
  private async stepLane (l: LaneState): Promise<boolean> {
    if (!l.connected) {
      // Handshake: an empty batch at our position; the answer (ok or a position refusal) is where the remote stands.
      this.dispatch(l, { from: this.self, to: this.site, lane: l.lane, after: l.position, through: l.position, items: [] })
      return true
    }
    const sinceMs = l.held?.sinceMs ?? Date.now()
    const { items, payloadBytes, complete, throughLsn } = await this.reader.read(l, this.lanes)
    if (l.probe) {
      // After a failure: an empty batch first. What the read found is what waits (the lag while paused); it is read again once answered.
      const entries = items.filter((it) => it.kind === 'message' || it.kind === 'plain')
      if (entries.length > 0) l.dropped = { entries: entries.length, payloadBytes: entries.reduce((n, it) => n + entryBytesOf(it), 0), oldestMs: entries.reduce<number | undefined>((m, it) => (it.kind === 'message' || it.kind === 'plain') && (m === undefined || it.publishTime < m) ? it.publishTime : m, undefined) }
      this.dispatch(l, { from: this.self, to: this.site, lane: l.lane, after: l.position, through: l.position, items: [] })
      return true
    }
    if (items.length > 0) {
      if (!complete && this.holds(l, items, payloadBytes, sinceMs)) {
        // Idle until a poke (more records), an answer or the deadline (releaseHeld).
        l.held = { items, payloadBytes, readThrough: throughLsn, sinceMs }
        l.idle = true
        this.s.coalesceHolds++
        return false
      }
      const last = items[items.length - 1] as WireItem
      // The batch covers every record up to its last item; the ones after it are read again next time.
      this.dispatch(l, { from: this.self, to: this.site, lane: l.lane, after: this.sentThrough(l), through: last.lsn, items })
      l.scanPos = last.lsn
      return true
    }
    if (throughLsn > l.scanPos) {
      // Only records this lane skips: move on, and tell the remote now and then.
      l.scanPos = throughLsn
      this.maybeAdvance(l)
      return true
    }
    l.idle = true
    if (l.queue.length === 0) l.dropped = undefined // everything read is acknowledged
    return this.maybeAdvance(l)
  }

  /**
   * Tell the remote how far this lane skipped, at most every
   * REPL_SKIP_ADVANCE_INTERVAL_MS (each costs a remote fsync). Every lane's
   * remote position must reach the log end (failover catch-up compares them
   * with the old primary's log end: topology/catch-up.ts), so any skip counts.
   */
  private maybeAdvance (l: LaneState): boolean {
    if (l.queue.length > 0 || l.scanPos <= l.position || Date.now() - l.lastSkipSentMs < this.limits.REPL_SKIP_ADVANCE_INTERVAL_MS) return false
    l.lastSkipSentMs = Date.now()
    this.dispatch(l, { from: this.self, to: this.site, lane: l.lane, after: l.position, through: l.scanPos, items: [] })
    return true
  }

  /** With compression on, each batch's request goes out after the previous one's (compression finishes out of order). */
  private issued: Promise<unknown> = Promise.resolve()

  /** Send a batch without waiting: its outcome is noted on it and wakes the loop. */
  private dispatch (l: LaneState, b: Batch): void {
    this.state = LinkState.shipping
    const compressMin = this.limits.REPL_COMPRESS_BATCH_BYTES_MIN
    const data = compressMin > 0 ? undefined : encodeBatch(b)
    let entries = 0
    let payloadBytes = 0
    let oldest: number | undefined
    for (const it of b.items) {
      if (it.kind !== 'message' && it.kind !== 'plain') continue
      if (it.kind === 'plain') this.s.plainEntriesSent++
      entries++
      payloadBytes += entryBytesOf(it)
      if (oldest === undefined || it.publishTime < oldest) oldest = it.publishTime
    }
    const f: InFlight = { after: b.after, through: b.through, empty: b.items.length === 0, entries, payloadBytes, wireBytes: data?.length ?? 0, oldestMs: oldest }
    l.queue.push(f)
    this.unsettledBatches++
    this.unsettledPayloadBytes += payloadBytes
    this.s.batchesSent++
    if (entries > 0) this.s.entryBatchesSent++
    const timeoutMs = f.empty ? Math.min(this.limits.REPL_EMPTY_BATCH_TIMEOUT_MS, this.limits.REPL_REQUEST_TIMEOUT_MS) : this.limits.REPL_REQUEST_TIMEOUT_MS
    let reply: Promise<Uint8Array>
    if (data !== undefined) {
      reply = this.transport.request(this.site, data, timeoutMs)
    } else {
      // Deflated on the thread pool (codec.ts); requests still leave in dispatch order, which the receiver relies on.
      const before = this.issued
      const sent = encodeBatchCompressed(b, compressMin).then(async (bytes) => {
        await before
        f.wireBytes = bytes.length
        return { reply: this.transport.request(this.site, bytes, timeoutMs) }
      })
      this.issued = sent.catch(() => undefined)
      reply = sent.then(async (s) => await s.reply)
    }
    reply.then(
      (reply) => { try { f.outcome = { answer: decodeAnswer(reply) } } catch (err) { f.outcome = { err } } },
      (err: unknown) => { f.outcome = { err } }
    ).finally(() => {
      this.unsettledBatches--
      this.unsettledPayloadBytes -= payloadBytes
      this.answered = true
      this.wakeUp()
    })
  }

  /** Take the answers that arrived (link-answers.ts). Returns whether anything moved; throws (pausing the link) on a failure. */
  private settle (): boolean { return settleAnswers(this.lanes, this.answers) }

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
    const lag = lagOf(this.lanes)
    const normal = this.lanes[Lane.normal] as LaneState
    return {
      site: this.site,
      state: this.state,
      connected: this.lanes.every((l) => l.connected),
      position: normal.position,
      logEndLsn: this.reader.logEndLsn,
      lagEntries: lag.entries,
      lagBytes: lag.bytes,
      lagSeconds: lag.oldestMs === undefined ? 0 : Math.max(0, (Date.now() - lag.oldestMs) / 1000),
      behindMoreThanOneRead: lag.behind,
      backlogAlert: lag.bytes > this.limits.REPL_LINK_BACKLOG_BYTES_ALERT,
      lanes: lag.lanes,
      gaps: this.reader.gaps,
      ...this.s
    }
  }
}
