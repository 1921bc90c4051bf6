/**
 * Appends: validation, producer dedup, the message record (with the meta puts
 * that travel inside it), and commit: an entry becomes visible to readers and
 * listeners only once durable (`committedNext`).
 *
 * `appendTo` sends the outcome to the caller's AppendSink. The appends that
 * share one durability promise (a log group's, store/log-queue.ts; the
 * resolved promise of memory topics) wait in one batch (`Waiting`) with one
 * reaction on it: per append, four array slots, no promise or closure
 * (fanin, issue 11). Once the promise resolves, the batch commits every
 * entry, then calls every sink, in append order (as when each append had its
 * own reaction: listeners, then the callers). `appendOne` is the promise over
 * appendTo, for the callers that want one.
 */
import { StoreCode, storeError } from './errors.js'
import { APPEND_WAITING_KEPT_ENTRIES_MAX, APPEND_WAITING_SPARE_MAX } from './constants.js'
import { validateAppendMeta } from './ledger-meta.js'
import { RecordKind, type LogRecord } from './records.js'
import type { LedgerContext } from './ledger-context.js'
import type { TopicState } from './topic-state.js'
import { Durability, type AppendInput, type AppendListener, type AppendResult, type AppendSink, type EntryId, type Lsn, type MessageProps, type TopicListener } from './types.js'

/**
 * Appends waiting on one durability promise, in append order; reused once settled (its reactions made once).
 * The arrays keep their length when emptied (`count` says how much is in use; emptying one with `length = 0`
 * gives its backing store back, and it is grown again per batch): the slots of a settled batch hold nothing.
 */
class Waiting {
  done: Promise<void> | null = null
  count = 0
  readonly sinks: Array<AppendSink | null> = []
  readonly topics: Array<TopicState | null> = []
  readonly entryIds: EntryId[] = []
  readonly lsns: Lsn[] = []
  readonly onDone: () => void
  readonly onFail: (err: unknown) => void

  constructor (appender: Appender) {
    this.onDone = () => { appender.settle(this, undefined, false) }
    this.onFail = (err) => { appender.settle(this, err, true) }
  }

  add (sink: AppendSink, t: TopicState, entryId: EntryId, lsn: Lsn): void {
    const i = this.count++
    if (i < this.sinks.length) {
      this.sinks[i] = sink
      this.topics[i] = t
      this.entryIds[i] = entryId
      this.lsns[i] = lsn
      return
    }
    this.sinks.push(sink)
    this.topics.push(t)
    this.entryIds.push(entryId)
    this.lsns.push(lsn)
  }

  /** Empty it: the sinks and topics are no longer referenced. */
  clear (): void {
    for (let i = 0; i < this.count; i++) { this.sinks[i] = null; this.topics[i] = null }
    this.done = null
    this.count = 0
  }
}

/** appendOne's sink: the promise's two functions and the topic of its result. */
class PromiseSink implements AppendSink {
  constructor (private readonly topic: string, private readonly resolve: (r: AppendResult) => void, private readonly reject: (err: unknown) => void) {}
  appended (entryId: EntryId, lsn: Lsn, duplicate: boolean): void { this.resolve({ topic: this.topic, entryId, lsn, duplicate }) }
  appendFailed (err: unknown): void { this.reject(err) }
}

export class Appender {
  appendsTotal = 0
  /**
   * Listeners as arrays, replaced (not changed) on subscribe and unsubscribe: commit() runs per entry, and a
   * for-of over a Set allocates an iterator each time (2.1 of 74 MB sampled in bench:store's paced phase).
   * A listener removed during a commit's calls is still called for that entry, as with the Set's snapshot.
   */
  private appendListeners: readonly AppendListener[] = []
  private topicListeners: readonly TopicListener[] = []
  /** The batch of the newest durability promise: appends with the same promise join it. */
  private waiting: Waiting | null = null
  private readonly spare: Waiting[] = []

  constructor (private readonly ctx: LedgerContext) {}

  onAppend (listener: AppendListener): () => void {
    this.appendListeners = [...this.appendListeners, listener]
    return once(() => { this.appendListeners = without(this.appendListeners, listener) })
  }

  onTopicCreated (listener: TopicListener): () => void {
    this.topicListeners = [...this.topicListeners, listener]
    return once(() => { this.topicListeners = without(this.topicListeners, listener) })
  }

  /** The promise form of appendTo. */
  appendOne (input: AppendInput): Promise<AppendResult> {
    return new Promise((resolve, reject) => { this.appendTo(input, new PromiseSink(input.topic, resolve, reject)) })
  }

  /** Append one message; its outcome goes to `sink` (AppendSink: once, `appended` never before this returns). */
  appendTo (input: AppendInput, sink: AppendSink): void {
    let t: TopicState
    let entryId: EntryId
    let done: Promise<void>
    let lsn: Lsn
    try {
      const ctx = this.ctx
      const state = ctx.state
      validateInput(input)
      const opts = state.opts
      if (input.payload.length > opts.maxRecordBytes) {
        // Refused before the topic is created; the exact encoded size is checked again on submit.
        throw storeError(StoreCode.RECORD_TOO_LARGE, `payload of ${input.payload.length} bytes exceeds maxRecordBytes ${opts.maxRecordBytes}`, { details: { maxRecordBytes: opts.maxRecordBytes } })
      }
      const meta = input.meta !== undefined && input.meta.length > 0 ? input.meta : undefined
      if (meta !== undefined) {
        // Metadata must be durable: a memory topic's record never reaches the log.
        const durability = state.topicState(input.topic)?.durability ?? opts.policyOf(input.topic).durability
        if (durability === Durability.memory) throw storeError(StoreCode.BAD_ARGUMENT, `meta cannot travel with a message of memory-durability topic ${input.topic}: use putMeta`)
      }
      t = ctx.ensureTopic(input.topic)
      const props = input.props ?? {}
      if (props.producerId !== undefined && props.producerSeq !== undefined && t.dedup !== null) {
        const original = t.dedup.check(props.producerId, props.producerSeq)
        if (original !== undefined) { this.duplicateTo(t, original, sink); return }
      }
      entryId = t.index.next
      const rec: LogRecord = { kind: RecordKind.message, topicId: t.id, entryId, publishTime: input.publishTime ?? opts.nowMs(), payload: input.payload, props }
      if (meta !== undefined) rec.meta = meta
      const s = ctx.record(rec, t.durability)
      done = s.done
      lsn = s.lsn
    } catch (err) {
      sink.appendFailed(err)
      return
    }
    this.appendsTotal++
    let w = this.waiting
    if (w === null || w.done !== done) {
      w = this.spare.pop() ?? new Waiting(this)
      w.done = done
      this.waiting = w
      done.then(w.onDone, w.onFail)
    }
    w.add(sink, t, entryId, lsn)
  }

  /** A batch's promise settled: commit its entries, then tell its sinks (`failed`: the error for each). */
  settle (w: Waiting, err: unknown, failed: boolean): void {
    // Appends from here on (a sink may append again) make a batch of their own: this one is being emptied.
    if (this.waiting === w) this.waiting = null
    const n = w.count
    if (!failed) for (let i = 0; i < n; i++) this.commit(w.topics[i] as TopicState, w.entryIds[i] as EntryId)
    let thrown: { err: unknown } | undefined
    for (let i = 0; i < n; i++) {
      const sink = w.sinks[i] as AppendSink
      // A sink must not throw; if one does, the others are still told, and the error is not swallowed.
      try {
        if (failed) sink.appendFailed(err)
        else sink.appended(w.entryIds[i] as EntryId, w.lsns[i] as Lsn, false)
      } catch (e) { thrown ??= { err: e } }
    }
    w.clear()
    if (w.sinks.length <= APPEND_WAITING_KEPT_ENTRIES_MAX && this.spare.length < APPEND_WAITING_SPARE_MAX) this.spare.push(w)
    if (thrown !== undefined) throw thrown.err
  }

  /** A duplicate is answered once the original is durable (a barrier through the log). */
  private duplicateTo (t: TopicState, entryId: EntryId, sink: AppendSink): void {
    this.ctx.barrier(t.durability).then(() => {
      const lsn = entryId >= 0 && t.index.has(entryId) ? t.index.lsnOf(entryId) : -1
      sink.appended(entryId, lsn, true)
    }, (err: unknown) => { sink.appendFailed(err) })
  }

  /** Entry is durable: make it visible and tell the listeners (also for ledger-replicated.ts). */
  commit (t: TopicState, entryId: EntryId): void {
    if (entryId < t.committedNext) return
    const wasEmpty = t.committedNext === 0
    t.committedNext = entryId + 1
    const name = t.name
    // A listener's failure is its own business. The calls are inline, not through a closure per listener (every append).
    if (wasEmpty) {
      const tl = this.topicListeners
      for (let i = 0; i < tl.length; i++) { try { (tl[i] as TopicListener)(name) } catch { /* its own business */ } }
    }
    const al = this.appendListeners
    for (let i = 0; i < al.length; i++) { try { (al[i] as AppendListener)(name, entryId) } catch { /* its own business */ } }
  }
}

/** A copy of `list` without its first `item`: listener lists are replaced, never changed (a commit may be iterating one). */
function without<T> (list: readonly T[], item: T): readonly T[] {
  const i = list.indexOf(item)
  return i < 0 ? list : [...list.slice(0, i), ...list.slice(i + 1)]
}

/** `fn` on the first call only (an unsubscribe is idempotent: a second call must not remove another subscription of the same function). */
function once (fn: () => void): () => void {
  let done = false
  return () => { if (!done) { done = true; fn() } }
}

function validateInput (input: AppendInput): void {
  if (!Buffer.isBuffer(input.payload)) throw storeError(StoreCode.BAD_ARGUMENT, 'payload must be a Buffer')
  validateAppendMeta(input.meta)
  const p: MessageProps | undefined = input.props
  if (p?.priority !== undefined && (!Number.isInteger(p.priority) || p.priority < 0 || p.priority > 9)) {
    throw storeError(StoreCode.BAD_ARGUMENT, 'priority must be an integer 0..9')
  }
}
