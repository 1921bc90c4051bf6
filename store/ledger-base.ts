/**
 * The ledger state machine shared by the memory and the file ledger.
 *
 * Every change is a LogRecord. A mutation builds its record, hands it to the
 * subclass (`submit`: assign an lsn, start making it durable), applies it to
 * the in-memory state at once (so entry ids are assigned in call order), and
 * resolves when the subclass says the record is durable. Recovery replays
 * records through the same `applyRecord`, so live and replayed state agree.
 * Entries become visible to readers and listeners only once durable
 * (`committedNext`).
 */
import assert from 'node:assert/strict'
import { CursorHandle, type CursorHost } from './cursor-handle.js'
import { CursorState } from './cursor-state.js'
import { DelayedIndex } from './delayed-index.js'
import { ProducerDedup } from './dedup.js'
import { StoreCode, storeError } from './errors.js'
import { RecordKind, type LogRecord } from './records.js'
import { firstNeededEntry } from './retention.js'
import { TopicState } from './topic-state.js'
import { noteReplicatedEntry } from './origin-marks.js'
import type { LogReadOptions, LogReadResult } from './log-tail.js'
import { APPEND_META_PUTS_MAX, READ_ENTRIES_MAX } from './constants.js'
import type { ResolvedOptions } from './options.js'
import {
  Durability, type AppendInput, type AppendListener, type AppendResult, type Cursor, type CursorOptions,
  type DelayedRef, type EntryId, type Ledger, type LedgerEntry, type LedgerStats, type Lsn, type MessageProps,
  type MetaValue, type ReadOptions, type RecoveryReport, type TopicInfo, type TopicListener, type TopicName
} from './types.js'

/** What the subclass returns for a submitted record. */
export interface Submitted {
  lsn: Lsn
  /** Record bytes on disk including framing (an estimate for memory-backed topics). */
  bytes: number
  /** Resolves when durable per the durability asked for. */
  done: Promise<void>
}

const resolved = Promise.resolve()

export abstract class LedgerBase implements Ledger, CursorHost {
  readonly siteId: string
  protected topicsByName = new Map<TopicName, TopicState>()
  protected topicsById: Array<TopicState | undefined> = []
  protected nextTopicId = 1
  protected meta = new Map<string, Map<string, MetaValue>>()
  protected isOpen = false
  protected isClosed = false
  protected fenced = false
  protected appendsTotal = 0
  /** Bumped whenever the in-memory state is rebuilt (cursor handles re-find their state). */
  stateGeneration = 0
  private readonly appendListeners = new Set<AppendListener>()
  private readonly topicListeners = new Set<TopicListener>()
  private readonly handles = new WeakMap<CursorState, CursorHandle>()
  private timers: NodeJS.Timeout[] = []

  constructor (protected readonly opts: ResolvedOptions) {
    this.siteId = opts.siteId
  }

  // ---- subclass hooks -------------------------------------------------

  /** Assign an lsn and start persisting. `durability` memory means: do not persist. */
  protected abstract submit (rec: LogRecord, durability: Durability): Submitted
  /** Read committed entries [from, to) of a disk-backed topic, honouring maxBytes. */
  protected abstract readStored (t: TopicState, from: EntryId, to: EntryId, maxBytes: number): Promise<LedgerEntry[]>
  /** Encoded size check (throws E_RECORD_TOO_LARGE); the memory ledger estimates. */
  protected abstract recoverState (): Promise<RecoveryReport>
  protected abstract closeStorage (): Promise<void>
  abstract runRetention (): Promise<number>
  abstract checkpoint (): Promise<void>
  abstract lastLsn (): Lsn
  /** Geo-replication: the durable log in lsn order (store/log-tail.ts). */
  abstract readLog (afterLsn: Lsn, opts: LogReadOptions): Promise<LogReadResult>
  protected abstract storageStats (): Pick<LedgerStats, 'segments' | 'diskBytes' | 'fsyncs'>
  /** Whether a topic of this durability keeps its entries in memory. */
  protected abstract memBacked (durability: Durability): boolean

  // ---- lifecycle --------------------------------------------------------

  async open (): Promise<RecoveryReport> {
    assert.ok(!this.isOpen, 'open is called once')
    if (this.isClosed) throw storeError(StoreCode.STORE_CLOSED, 'ledger is closed')
    const report = await this.recoverState()
    this.isOpen = true
    this.startTimers()
    return report
  }

  private startTimers (): void {
    if (this.opts.retentionIntervalMs > 0) {
      this.timers.push(setInterval(() => { this.runRetention().catch((err) => this.opts.onEvent('retention-failed', { err })) }, this.opts.retentionIntervalMs).unref())
    }
    if (this.opts.checkpointIntervalMs > 0) {
      this.timers.push(setInterval(() => { this.checkpoint().catch((err) => this.opts.onEvent('checkpoint-failed', { err })) }, this.opts.checkpointIntervalMs).unref())
    }
  }

  async close (): Promise<void> {
    if (this.isClosed) return
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    await this.closeStorage()
    this.isClosed = true
    this.isOpen = false
  }

  protected checkUsable (): void {
    if (!this.isOpen || this.isClosed) throw storeError(StoreCode.STORE_CLOSED, 'ledger is not open')
  }

  protected checkWritable (): void {
    this.checkUsable()
    if (this.fenced) throw storeError(StoreCode.FENCED, 'ledger is fenced after a failed write or fsync; it is recovering')
  }

  /** Forget every piece of in-memory state (before a reopen from disk). */
  protected resetState (): void {
    this.stateGeneration++
    this.topicsByName = new Map()
    this.topicsById = []
    this.nextTopicId = 1
    this.meta = new Map()
  }

  // ---- topics -----------------------------------------------------------

  protected topicState (name: TopicName): TopicState | undefined {
    return this.topicsByName.get(name)
  }

  /** Get or create the state of a topic; a new durable topic gets a dictionary record. */
  protected ensureTopic (name: TopicName): TopicState {
    const existing = this.topicsByName.get(name)
    if (existing !== undefined) return existing
    if (this.topicsByName.size >= this.opts.maxTopics) {
      throw storeError(StoreCode.TOO_MANY_TOPICS, `ledger holds ${this.opts.maxTopics} topics already`, { details: { maxTopics: this.opts.maxTopics } })
    }
    if (typeof name !== 'string' || name.length === 0) throw storeError(StoreCode.BAD_ARGUMENT, 'topic name must be a non-empty string')
    const durability = this.opts.policyOf(name).durability
    const rec: LogRecord = { kind: RecordKind.topic, topicId: this.nextTopicId, name }
    if (durability === Durability.memory) {
      this.applyRecord(rec, 0, 0, durability)
    } else {
      const s = this.submit(rec, durability)
      this.applyRecord(rec, s.lsn, s.bytes, durability)
      s.done.catch(() => {}) // the record's fate is shared by the records that follow it
    }
    return this.topicsByName.get(name) as TopicState
  }

  topicInfo (topic: TopicName): TopicInfo | undefined {
    const t = this.topicsByName.get(topic)
    if (t === undefined || t.committedNext === 0) return undefined
    return {
      topic,
      durability: t.durability,
      firstEntryId: Math.min(t.index.first, t.committedNext),
      nextEntryId: t.committedNext,
      storedBytes: t.index.bytesBetween(t.index.first, t.committedNext)
    }
  }

  * topics (): IterableIterator<TopicName> {
    for (const t of this.topicsByName.values()) if (t.committedNext > 0) yield t.name
  }

  onAppend (listener: AppendListener): () => void {
    this.appendListeners.add(listener)
    return () => { this.appendListeners.delete(listener) }
  }

  onTopicCreated (listener: TopicListener): () => void {
    this.topicListeners.add(listener)
    return () => { this.topicListeners.delete(listener) }
  }

  // ---- records -> state ---------------------------------------------------

  /**
   * Apply one record to the in-memory state. Used live and by recovery.
   * Idempotent for replay over a fuzzy checkpoint: a known topic or entry is
   * skipped, acks and deletes are idempotent, a cursor create restarts the
   * cursor (its later records follow it in the log). Delivery counts may count
   * a delivery twice (the safe direction).
   */
  protected applyRecord (rec: LogRecord, lsn: Lsn, bytes: number, durability?: Durability): void {
    switch (rec.kind) {
      case RecordKind.pad:
      case RecordKind.checkpoint:
        return
      case RecordKind.topic: {
        if (this.topicsById[rec.topicId] !== undefined) return // already in the (fuzzy) checkpoint
        // Replayed topics were persistent when created; a policy changed to memory since does not make them volatile.
        const policyDurability = this.opts.policyOf(rec.name).durability
        const d = durability ?? (policyDurability === Durability.memory ? Durability.sync : policyDurability)
        const t = new TopicState(rec.name, rec.topicId, d, this.memBacked(d))
        this.topicsByName.set(rec.name, t)
        this.topicsById[rec.topicId] = t
        this.nextTopicId = Math.max(this.nextTopicId, rec.topicId + 1)
        return
      }
      case RecordKind.message: {
        const t = this.topicById(rec.topicId)
        // Meta first and always, even when the entry itself is skipped below: replay
        // re-applies every put after the checkpoint's replay point in log order,
        // which makes the (fuzzy) snapshot's meta exact (last writer wins per key).
        if (rec.meta !== undefined) for (const m of rec.meta) this.applyMeta(m.space, m.key, m.value)
        if (rec.entryId < t.index.next) return // replay of an entry the (fuzzy) checkpoint already holds
        if (rec.entryId !== t.index.next) throw storeError(StoreCode.STORE_CORRUPT, `entry ${t.name}#${rec.entryId} follows #${t.index.next - 1}: entry ids must be dense`)
        t.index.push(lsn, bytes)
        if (t.mem !== null) {
          t.mem.push({ topic: t.name, entryId: rec.entryId, lsn, publishTime: rec.publishTime, payload: rec.payload, props: rec.props })
        }
        const p = rec.props
        // Geo-replication: a replicated entry raises its link's mark in the same record (store/origin-marks.ts).
        if (p.replicatedLsn !== undefined) noteReplicatedEntry(this.meta, p)
        if (p.producerId !== undefined && p.producerSeq !== undefined) {
          t.dedup ??= new ProducerDedup()
          t.dedup.record(p.producerId, p.producerSeq, rec.entryId)
        }
        if (p.deliverAt !== undefined && p.deliverAt > rec.publishTime) {
          t.delayed ??= new DelayedIndex()
          t.delayed.add(rec.entryId, p.deliverAt)
        }
        return
      }
      case RecordKind.cursorCreate: {
        const t = this.topicById(rec.topicId)
        t.cursors ??= new Map()
        t.cursors.set(rec.sub, new CursorState(rec.sub, true, rec.markDelete))
        return
      }
      case RecordKind.cursorDelete: {
        const t = this.topicById(rec.topicId)
        t.cursors?.delete(rec.sub)
        return
      }
      case RecordKind.ack: {
        const c = this.cursorOf(rec.topicId, rec.sub)
        if (c !== undefined) for (const id of rec.ids) c.ackOne(id)
        return
      }
      case RecordKind.ackCumulative: {
        this.cursorOf(rec.topicId, rec.sub)?.ackCumulative(rec.upTo)
        return
      }
      case RecordKind.deliveries: {
        const c = this.cursorOf(rec.topicId, rec.sub)
        if (c !== undefined) for (const id of rec.ids) c.recordDelivery(id)
        return
      }
      case RecordKind.handedOut: {
        this.cursorOf(rec.topicId, rec.sub)?.applyHandOut(rec)
        return
      }
      case RecordKind.metaPut:
        this.applyMeta(rec.space, rec.key, rec.value)
        return
      case RecordKind.metaDelete:
        this.applyMeta(rec.space, rec.key, undefined)
        return
      case RecordKind.cancel: {
        const t = this.topicById(rec.topicId)
        t.cancelled ??= new Set()
        t.cancelled.add(rec.entryId)
        return
      }
    }
  }

  /** Set (or, with undefined, delete) one key of the metadata KV. */
  private applyMeta (spaceName: string, key: string, value: MetaValue | undefined): void {
    let space = this.meta.get(spaceName)
    if (value === undefined) {
      space?.delete(key)
      if (space?.size === 0) this.meta.delete(spaceName)
      return
    }
    if (space === undefined) { space = new Map(); this.meta.set(spaceName, space) }
    space.set(key, value)
  }

  protected topicById (id: number): TopicState {
    const t = this.topicsById[id]
    if (t === undefined) throw storeError(StoreCode.STORE_CORRUPT, `record names unknown topic id ${id}`)
    return t
  }

  private cursorOf (topicId: number, sub: string): CursorState | undefined {
    return this.topicById(topicId).cursors?.get(sub)
  }

  /** Submit + apply one record of topic t; memory topics and non-durable state skip the log. */
  private record (rec: LogRecord, durability: Durability): Submitted {
    const s = this.submit(rec, durability)
    this.applyRecord(rec, s.lsn, s.bytes, durability)
    return s
  }

  // ---- append -------------------------------------------------------------

  append (input: AppendInput): Promise<AppendResult> {
    try {
      this.checkWritable()
    } catch (err) {
      return Promise.reject(err)
    }
    return this.appendOne(input)
  }

  async appendMany (inputs: readonly AppendInput[]): Promise<AppendResult[]> {
    this.checkWritable()
    const pending: Array<Promise<AppendResult>> = []
    for (const input of inputs) pending.push(this.appendOne(input))
    return await Promise.all(pending)
  }

  private appendOne (input: AppendInput): Promise<AppendResult> {
    try {
      validateInput(input)
      if (input.payload.length > this.opts.maxRecordBytes) {
        // Refused before the topic is created; the exact encoded size is checked again on submit.
        throw storeError(StoreCode.RECORD_TOO_LARGE, `payload of ${input.payload.length} bytes exceeds maxRecordBytes ${this.opts.maxRecordBytes}`, { details: { maxRecordBytes: this.opts.maxRecordBytes } })
      }
      const meta = input.meta
      if (meta !== undefined && meta.length > 0) {
        // Metadata must be durable: a memory topic's record never reaches the log.
        const durability = this.topicsByName.get(input.topic)?.durability ?? this.opts.policyOf(input.topic).durability
        if (durability === Durability.memory) throw storeError(StoreCode.BAD_ARGUMENT, `meta cannot travel with a message of memory-durability topic ${input.topic}: use putMeta`)
      }
      const t = this.ensureTopic(input.topic)
      const props = input.props ?? {}
      if (props.producerId !== undefined && props.producerSeq !== undefined && t.dedup !== null) {
        const original = t.dedup.check(props.producerId, props.producerSeq)
        if (original !== undefined) return this.duplicateResult(t, original)
      }
      const entryId = t.index.next
      const rec: LogRecord = { kind: RecordKind.message, topicId: t.id, entryId, publishTime: input.publishTime ?? this.opts.nowMs(), payload: input.payload, props }
      if (meta !== undefined && meta.length > 0) rec.meta = meta
      const s = this.record(rec, t.durability)
      this.appendsTotal++
      return s.done.then(() => {
        this.commit(t, entryId)
        return { topic: t.name, entryId, lsn: s.lsn, duplicate: false }
      })
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** A duplicate resolves once the original is durable (a barrier through the log). */
  private async duplicateResult (t: TopicState, entryId: EntryId): Promise<AppendResult> {
    await this.barrier(t.durability)
    const lsn = entryId >= 0 && t.index.has(entryId) ? t.index.lsnOf(entryId) : -1
    return { topic: t.name, entryId, lsn, duplicate: true }
  }

  /** Resolves once everything submitted so far is durable per `durability`. */
  protected abstract barrier (durability: Durability): Promise<void>

  /** Entry is durable: make it visible and tell the listeners. */
  private commit (t: TopicState, entryId: EntryId): void {
    if (entryId < t.committedNext) return
    const wasEmpty = t.committedNext === 0
    t.committedNext = entryId + 1
    if (wasEmpty) for (const l of this.topicListeners) safeCall(() => l(t.name))
    for (const l of this.appendListeners) safeCall(() => l(t.name, entryId))
  }

  /** After recovery every replayed entry is committed. */
  protected commitAllRecovered (): void {
    for (const t of this.topicsByName.values()) t.committedNext = t.index.next
  }

  // ---- read -----------------------------------------------------------------

  async read (topic: TopicName, fromEntryId: EntryId, opts: ReadOptions): Promise<LedgerEntry[]> {
    this.checkUsable()
    const t = this.topicsByName.get(topic)
    if (t === undefined) return []
    const from = Math.max(fromEntryId, t.index.first)
    const maxEntries = Math.min(Math.max(1, opts.maxEntries), READ_ENTRIES_MAX)
    const to = Math.min(t.committedNext, from + maxEntries)
    if (to <= from) return []
    const maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY
    if (t.mem !== null) {
      const out: LedgerEntry[] = []
      let bytes = 0
      for (let id = from; id < to; id++) {
        const e = t.mem[id - t.index.first] as LedgerEntry
        if (out.length > 0 && bytes + e.payload.length > maxBytes) break
        bytes += e.payload.length
        out.push(e)
      }
      return out
    }
    return await this.readStored(t, from, to, maxBytes)
  }

  async readOne (topic: TopicName, entryId: EntryId): Promise<LedgerEntry | undefined> {
    const t = this.topicsByName.get(topic)
    if (t === undefined || entryId < t.index.first || entryId >= t.committedNext) return undefined
    const [e] = await this.read(topic, entryId, { maxEntries: 1 })
    return e?.entryId === entryId ? e : undefined
  }

  // ---- cursors ----------------------------------------------------------------

  async cursor (topic: TopicName, subscription: string, opts: CursorOptions): Promise<Cursor> {
    this.checkWritable()
    const t = this.ensureTopic(topic)
    const existing = t.cursors?.get(subscription)
    if (existing !== undefined) {
      // Its creation may still be on its way to the disk.
      if (existing.durable && t.durability !== Durability.memory) await this.barrier(t.durability)
      return this.handleOf(t, existing)
    }
    const markDelete = this.startPosition(t, opts)
    if (opts.durable && t.durability !== Durability.memory) {
      const s = this.record({ kind: RecordKind.cursorCreate, topicId: t.id, sub: subscription, markDelete }, t.durability)
      await s.done
    } else {
      t.cursors ??= new Map()
      t.cursors.set(subscription, new CursorState(subscription, opts.durable, markDelete))
    }
    const c = t.cursors?.get(subscription)
    assert.ok(c !== undefined, 'cursor exists once created')
    return this.handleOf(t, c)
  }

  private startPosition (t: TopicState, opts: CursorOptions): EntryId {
    switch (opts.start.kind) {
      case 'latest': return t.index.next - 1
      case 'earliest': return t.index.first - 1
      case 'afterLsn': return t.index.lastAtOrBelowLsn(opts.start.lsn)
    }
  }

  private handleOf (t: TopicState, c: CursorState): CursorHandle {
    let h = this.handles.get(c)
    if (h === undefined) { h = new CursorHandle(this, t, c); this.handles.set(c, h) }
    return h
  }

  cursors (topic: TopicName): Cursor[] {
    const t = this.topicsByName.get(topic)
    if (t?.cursors == null) return []
    return [...t.cursors.values()].map((c) => this.handleOf(t, c))
  }

  async deleteCursor (topic: TopicName, subscription: string): Promise<void> {
    this.checkWritable()
    const t = this.topicsByName.get(topic)
    const c = t?.cursors?.get(subscription)
    if (t === undefined || c === undefined) return
    if (c.durable && t.durability !== Durability.memory) {
      await this.record({ kind: RecordKind.cursorDelete, topicId: t.id, sub: subscription }, t.durability).done
    } else {
      t.cursors?.delete(subscription)
    }
  }

  lookupCursor (topic: TopicName, sub: string): { t: TopicState, c: CursorState } | undefined {
    const t = this.topicsByName.get(topic)
    const c = t?.cursors?.get(sub)
    return t === undefined || c === undefined ? undefined : { t, c }
  }

  private cursorLive (t: TopicState, c: CursorState): boolean {
    return t.cursors?.get(c.sub) === c
  }

  /** Route a cursor mutation: durable cursors of persistent topics go through the log. */
  private async cursorMutation (t: TopicState, c: CursorState, rec: LogRecord, applyLocal: () => void): Promise<void> {
    this.checkWritable()
    if (!this.cursorLive(t, c)) return
    if (c.durable && t.durability !== Durability.memory) {
      await this.record(rec, t.durability).done
    } else {
      applyLocal()
    }
  }

  private async cursorBarrier (t: TopicState, c: CursorState): Promise<void> {
    this.checkWritable()
    if (c.durable && t.durability !== Durability.memory) await this.barrier(t.durability)
  }

  async cursorAck (t: TopicState, c: CursorState, ids: readonly EntryId[]): Promise<void> {
    const valid = ids.filter((id) => Number.isInteger(id) && id > c.markDelete && id < t.index.next && !c.isAcked(id))
    // Nothing new: an earlier mutation may still be on its way to the disk; wait for it.
    if (valid.length === 0) return await this.cursorBarrier(t, c)
    this.admitRanges(t, c, valid)
    await this.cursorMutation(t, c, { kind: RecordKind.ack, topicId: t.id, sub: c.sub, ids: valid }, () => { for (const id of valid) c.ackOne(id) })
  }

  /**
   * The range bound is enforced here, before the record is submitted, and
   * never in applyRecord: a record in the log must always replay.
   */
  private admitRanges (t: TopicState, c: CursorState, valid: EntryId[]): void {
    const max = this.opts.maxCursorAckRanges
    if (c.rangeCount + valid.length <= max) return // cannot exceed: skip the exact count
    const sorted = [...new Set(valid)].sort((a, b) => a - b)
    const after = c.rangeCount + c.rangesAddedBy(sorted)
    if (after <= max || after <= c.rangeCount) return // within the bound, or no worse than now
    throw storeError(StoreCode.CURSOR_RANGES_FULL,
      `cursor ${t.name} / ${c.sub} would hold ${after} acknowledged ranges (maxCursorAckRanges ${max}); acknowledge the oldest unacknowledged entries (mark-delete is at ${c.markDelete}) first`,
      { details: { topic: t.name, subscription: c.sub, ranges: c.rangeCount, maxCursorAckRanges: max, markDelete: c.markDelete } })
  }

  async cursorAckCumulative (t: TopicState, c: CursorState, upTo: EntryId): Promise<void> {
    const bounded = Math.min(upTo, t.index.next - 1)
    if (!Number.isInteger(bounded) || bounded <= c.markDelete) return await this.cursorBarrier(t, c)
    await this.cursorMutation(t, c, { kind: RecordKind.ackCumulative, topicId: t.id, sub: c.sub, upTo: bounded }, () => c.ackCumulative(bounded))
  }

  async cursorDeliveries (t: TopicState, c: CursorState, ids: readonly EntryId[]): Promise<void> {
    const valid = ids.filter((id) => Number.isInteger(id) && id > c.markDelete && id < t.index.next)
    // One record per batch, O(1) when delivery is in order: the new watermark, what was handed out again, what was skipped.
    const h = valid.length === 0 ? undefined : c.planHandOut(valid)
    if (h === undefined) return await this.cursorBarrier(t, c)
    await this.cursorMutation(t, c, { kind: RecordKind.handedOut, topicId: t.id, sub: c.sub, upTo: h.upTo, again: h.again, skipped: h.skipped }, () => c.applyHandOut(h))
  }

  // ---- delayed delivery ---------------------------------------------------------

  private delayedSkip (t: TopicState): (entryId: number) => boolean {
    return (id) => id < t.index.first || id >= t.committedNext || (t.cancelled?.has(id) ?? false)
  }

  delayedBetween (topic: TopicName, afterMs: number, upToMs: number, maxEntries: number): DelayedRef[] {
    const t = this.topicsByName.get(topic)
    if (t?.delayed == null) return []
    return t.delayed.between(afterMs, upToMs, maxEntries, this.delayedSkip(t))
  }

  nextDelayedAfter (topic: TopicName, afterMs: number): number | undefined {
    const t = this.topicsByName.get(topic)
    if (t?.delayed == null) return undefined
    return t.delayed.nextAfter(afterMs, this.delayedSkip(t))
  }

  async cancel (topic: TopicName, entryId: EntryId): Promise<boolean> {
    this.checkWritable()
    const t = this.topicsByName.get(topic)
    if (t === undefined) return false
    if (t.cancelled?.has(entryId) === true) {
      await this.barrier(t.durability) // the tombstone may still be on its way
      return false
    }
    const e = await this.readOne(topic, entryId)
    const deliverAt = e?.props.deliverAt
    if (e === undefined || deliverAt === undefined || deliverAt <= this.opts.nowMs()) return false
    if (t.cancelled?.has(entryId) === true) return false
    const s = this.record({ kind: RecordKind.cancel, topicId: t.id, entryId }, t.durability)
    await s.done
    return true
  }

  isCancelled (topic: TopicName, entryId: EntryId): boolean {
    return this.topicsByName.get(topic)?.cancelled?.has(entryId) ?? false
  }

  // ---- meta -------------------------------------------------------------------------

  async putMeta (space: string, key: string, value: MetaValue | undefined): Promise<void> {
    this.checkWritable()
    validateMetaKey(space, key)
    const rec: LogRecord = value === undefined
      ? { kind: RecordKind.metaDelete, space, key }
      : { kind: RecordKind.metaPut, space, key, value }
    await this.record(rec, Durability.sync).done
  }

  getMeta (space: string, key: string): MetaValue | undefined {
    return this.meta.get(space)?.get(key)
  }

  * metaEntries (space: string): IterableIterator<[string, MetaValue]> {
    const m = this.meta.get(space)
    if (m !== undefined) yield * m.entries()
  }

  // ---- retention helpers ------------------------------------------------------------

  /** First entry of t that retention must keep (see retention.ts). */
  protected neededFrom (t: TopicState, nowMs: number, firstNotOlderThan: (ms: number) => number): EntryId {
    return firstNeededEntry(t, this.opts.policyOf(t.name), nowMs, firstNotOlderThan)
  }

  /** Forget entries of t below `first` and everything that refers to them. */
  protected trimTopic (t: TopicState, first: EntryId): void {
    if (first <= t.index.first) return
    const dropped = Math.min(first, t.index.next) - t.index.first
    t.index.trimTo(first)
    if (t.mem !== null) t.mem.splice(0, dropped)
    if (t.cancelled !== null) for (const id of t.cancelled) if (id < first) t.cancelled.delete(id)
    this.pruneDelayed(t)
  }

  protected pruneDelayed (t: TopicState): void {
    if (t.delayed === null) return
    t.delayed.prune((id) => id < t.index.first || t.ackedByAll(id) || (t.cancelled?.has(id) ?? false))
    if (t.delayed.size === 0) t.delayed = null
  }

  stats (): LedgerStats {
    return { topics: this.topicsByName.size, appends: this.appendsTotal, fenced: this.fenced, ...this.storageStats() }
  }

  protected get resolvedDone (): Promise<void> { return resolved }
}

function safeCall (f: () => void): void {
  try { f() } catch { /* a listener's failure is its own business */ }
}

function validateInput (input: AppendInput): void {
  if (!Buffer.isBuffer(input.payload)) throw storeError(StoreCode.BAD_ARGUMENT, 'payload must be a Buffer')
  const meta = input.meta
  if (meta !== undefined) {
    if (!Array.isArray(meta)) throw storeError(StoreCode.BAD_ARGUMENT, 'meta must be an array of { space, key, value }')
    if (meta.length > APPEND_META_PUTS_MAX) {
      throw storeError(StoreCode.BAD_ARGUMENT, `an append carries at most ${APPEND_META_PUTS_MAX} meta puts, got ${meta.length}`, { details: { appendMetaPutsMax: APPEND_META_PUTS_MAX } })
    }
    for (const m of meta) validateMetaKey(m.space, m.key)
  }
  const p: MessageProps | undefined = input.props
  if (p?.priority !== undefined && (!Number.isInteger(p.priority) || p.priority < 0 || p.priority > 9)) {
    throw storeError(StoreCode.BAD_ARGUMENT, 'priority must be an integer 0..9')
  }
}

function validateMetaKey (space: unknown, key: unknown): void {
  if (typeof space !== 'string' || space.length === 0) throw storeError(StoreCode.BAD_ARGUMENT, 'meta space must be a non-empty string')
  if (typeof key !== 'string') throw storeError(StoreCode.BAD_ARGUMENT, 'meta key must be a string')
}
