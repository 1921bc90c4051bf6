/**
 * The ledger shared by the memory and the file ledger: lifecycle, the record
 * path, and the Ledger API, each job in its own file:
 *   ledger-state.ts    topic registry and in-memory state
 *   record-apply.ts    how each log record changes the state (live and replay)
 *   ledger-append.ts   append, producer dedup, commit and listeners
 *   ledger-replicated.ts  replicated entries: one submission per batch, encoded by hand
 *   ledger-read.ts     reads of committed entries
 *   ledger-cursors.ts  cursors and their mutations (admission bounds)
 *   ledger-delayed.ts  delayed index queries and cancellation
 *   ledger-meta.ts     the metadata KV (spaces: meta-spaces.ts)
 *   ledger-trim.ts     the in-memory side of retention
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
import { Appender } from './ledger-append.js'
import { appendReplicated } from './ledger-replicated.js'
import { MessageEncoder } from './message-encoder.js'
import { CursorOps } from './ledger-cursors.js'
import { cancelScheduled, delayedBetween, isCancelled, nextDelayedAfter } from './ledger-delayed.js'
import { getMeta, metaEntries, validateMetaKey } from './ledger-meta.js'
import { readEntries, readOneEntry } from './ledger-read.js'
import { LedgerState } from './ledger-state.js'
import { neededFrom, pruneDelayed, trimTopic } from './ledger-trim.js'
import { StoreCode, storeError } from './errors.js'
import { RecordKind, type LogRecord } from './records.js'
import type { LedgerContext, Submitted } from './ledger-context.js'
import type { ResolvedOptions } from './options.js'
import type { LogReadOptions, LogReadResult } from './log-tail.js'
import type { TopicState } from './topic-state.js'
import type { ViaRun } from './via-runs.js'
import {
  Durability, type AppendInput, type AppendListener, type AppendResult, type AppendSink, type Cursor, type CursorOptions,
  type DelayedRef, type EntryId, type Ledger, type LedgerEntry, type LedgerStats, type Lsn,
  type MetaValue, type ReadOptions, type RecoveryReport, type ReplicatedInput, type TopicListener, type TopicName
} from './types.js'

export type { Submitted } from './ledger-context.js'

const resolved = Promise.resolve()

export abstract class LedgerBase extends LedgerState implements Ledger {
  protected isOpen = false
  protected isClosed = false
  protected fenced = false
  private timers: NodeJS.Timeout[] = []
  private readonly ctx: LedgerContext
  private readonly appender: Appender
  private readonly cursorOps: CursorOps
  private readonly replicatedEncoder = new MessageEncoder()

  constructor (opts: ResolvedOptions) {
    super(opts)
    this.ctx = {
      state: this,
      ensureTopic: (name) => this.ensureTopic(name),
      record: (rec, durability) => this.record(rec, durability),
      recordEncoded: (rec, body, durability, cacheEntry = true) => {
        const s = this.submitEncoded(rec, body, durability, cacheEntry)
        this.applyRecord(rec, s.lsn, s.bytes, durability)
        return s
      },
      noteViaRun: (site, run) => { this.noteViaRun(site, run) },
      barrier: async (durability) => { await this.barrier(durability) },
      readStored: async (t, from, to, maxBytes) => await this.readStored(t, from, to, maxBytes),
      checkUsable: () => { this.checkUsable() },
      checkWritable: () => { this.checkWritable() }
    }
    this.appender = new Appender(this.ctx)
    this.cursorOps = new CursorOps(this.ctx)
  }

  // ---- subclass hooks -------------------------------------------------

  /** Assign an lsn and start persisting. `durability` memory means: do not persist. */
  protected abstract submit (rec: LogRecord, durability: Durability): Submitted
  /**
   * A record the caller encoded (replicated entries), without a promise of its own: durable once a barrier
   * submitted after it resolves. Here: the plain submit (the memory ledger does not encode); the file ledger
   * writes `body` as it is.
   */
  protected submitEncoded (rec: LogRecord, _body: Buffer, durability: Durability, _cacheEntry: boolean): { lsn: Lsn, bytes: number } {
    const s = this.submit(rec, durability)
    s.done.catch(() => {}) // its fate reaches the caller through the barrier after it
    return s
  }
  /** repl: a durable run of frames from `site` (via-runs.ts); the memory ledger's log has no frames to skip. */
  protected noteViaRun (_site: string, _run: ViaRun): void {}
  /** Read committed entries [from, to) of a disk-backed topic, honouring maxBytes. */
  protected abstract readStored (t: TopicState, from: EntryId, to: EntryId, maxBytes: number): Promise<LedgerEntry[]>
  protected abstract recoverState (): Promise<RecoveryReport>
  protected abstract closeStorage (): Promise<void>
  /** Resolves once everything submitted so far is durable per `durability`. */
  protected abstract barrier (durability: Durability): Promise<void>
  abstract runRetention (): Promise<number>
  abstract checkpoint (): Promise<void>
  abstract lastLsn (): Lsn
  /** Geo-replication: the durable log in lsn order (store/log-tail.ts). */
  abstract readLog (afterLsn: Lsn, opts: LogReadOptions): Promise<LogReadResult>
  protected abstract storageStats (): Pick<LedgerStats, 'segments' | 'diskBytes' | 'fsyncs'>

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

  // ---- the record path ------------------------------------------------------

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

  /** Submit + apply one record. */
  private record (rec: LogRecord, durability: Durability): Submitted {
    const s = this.submit(rec, durability)
    this.applyRecord(rec, s.lsn, s.bytes, durability)
    return s
  }

  // ---- appends and listeners (ledger-append.ts) ------------------------------

  append (input: AppendInput): Promise<AppendResult> {
    try {
      this.checkWritable()
    } catch (err) {
      return Promise.reject(err)
    }
    return this.appender.appendOne(input)
  }

  appendTo (input: AppendInput, sink: AppendSink): void {
    try {
      this.checkWritable()
    } catch (err) {
      sink.appendFailed(err)
      return
    }
    this.appender.appendTo(input, sink)
  }

  async appendMany (inputs: readonly AppendInput[]): Promise<AppendResult[]> {
    this.checkWritable()
    const pending: Array<Promise<AppendResult>> = []
    for (const input of inputs) pending.push(this.appender.appendOne(input))
    return await Promise.all(pending)
  }

  appendReplicated (inputs: readonly ReplicatedInput[]): Promise<void> {
    try {
      this.checkWritable()
    } catch (err) {
      return Promise.reject(err)
    }
    return appendReplicated(this.ctx, this.appender, this.replicatedEncoder, inputs)
  }

  onAppend (listener: AppendListener): () => void { return this.appender.onAppend(listener) }
  onTopicCreated (listener: TopicListener): () => void { return this.appender.onTopicCreated(listener) }

  // ---- reads (ledger-read.ts) ---------------------------------------------------

  async read (topic: TopicName, fromEntryId: EntryId, opts: ReadOptions): Promise<LedgerEntry[]> {
    return await readEntries(this.ctx, topic, fromEntryId, opts)
  }

  async readOne (topic: TopicName, entryId: EntryId): Promise<LedgerEntry | undefined> {
    return await readOneEntry(this.ctx, topic, entryId)
  }

  // ---- cursors (ledger-cursors.ts) ----------------------------------------------

  async cursor (topic: TopicName, subscription: string, opts: CursorOptions): Promise<Cursor> {
    return await this.cursorOps.cursor(topic, subscription, opts)
  }

  cursors (topic: TopicName): Cursor[] { return this.cursorOps.cursors(topic) }
  cursorBacklog (topic: TopicName, subscription: string): number | undefined { return this.cursorOps.cursorBacklog(topic, subscription) }

  async deleteCursor (topic: TopicName, subscription: string): Promise<void> {
    await this.cursorOps.deleteCursor(topic, subscription)
  }

  // ---- delayed delivery (ledger-delayed.ts) ----------------------------------------

  delayedBetween (topic: TopicName, afterMs: number, upToMs: number, maxEntries: number): DelayedRef[] {
    return delayedBetween(this.ctx, topic, afterMs, upToMs, maxEntries)
  }

  nextDelayedAfter (topic: TopicName, afterMs: number): number | undefined {
    return nextDelayedAfter(this.ctx, topic, afterMs)
  }

  async cancel (topic: TopicName, entryId: EntryId): Promise<boolean> {
    return await cancelScheduled(this.ctx, topic, entryId)
  }

  isCancelled (topic: TopicName, entryId: EntryId): boolean { return isCancelled(this.ctx, topic, entryId) }

  // ---- meta (ledger-meta.ts) ---------------------------------------------------------

  async putMeta (space: string, key: string, value: MetaValue | undefined): Promise<void> {
    this.checkWritable()
    validateMetaKey(space, key)
    const rec: LogRecord = value === undefined
      ? { kind: RecordKind.metaDelete, space, key }
      : { kind: RecordKind.metaPut, space, key, value }
    await this.record(rec, Durability.sync).done
  }

  getMeta (space: string, key: string): MetaValue | undefined { return getMeta(this.meta, space, key) }

  metaEntries (space: string): IterableIterator<[string, MetaValue]> { return metaEntries(this.meta, space) }

  // ---- retention helpers (ledger-trim.ts) ------------------------------------------------

  /** First entry of t that retention must keep (see retention.ts). */
  protected neededFrom (t: TopicState, nowMs: number, firstNotOlderThan: (ms: number) => number): EntryId {
    return neededFrom(this.opts, t, nowMs, firstNotOlderThan)
  }

  /** Forget entries of t below `first` and everything that refers to them. */
  protected trimTopic (t: TopicState, first: EntryId): void { trimTopic(t, first) }

  protected pruneDelayed (t: TopicState): void { pruneDelayed(t) }

  stats (): LedgerStats {
    return { topics: this.topicsByName.size, appends: this.appender.appendsTotal, fenced: this.fenced, ...this.storageStats() }
  }

  protected get resolvedDone (): Promise<void> { return resolved }
}
