/**
 * Appends: validation, producer dedup, the message record (with the meta puts
 * that travel inside it), and commit: an entry becomes visible to readers and
 * listeners only once durable (`committedNext`).
 */
import { StoreCode, storeError } from './errors.js'
import { validateAppendMeta } from './ledger-meta.js'
import { RecordKind, type LogRecord } from './records.js'
import type { LedgerContext } from './ledger-context.js'
import type { TopicState } from './topic-state.js'
import { Durability, type AppendInput, type AppendListener, type AppendResult, type EntryId, type MessageProps, type TopicListener } from './types.js'

export class Appender {
  appendsTotal = 0
  private readonly appendListeners = new Set<AppendListener>()
  private readonly topicListeners = new Set<TopicListener>()

  constructor (private readonly ctx: LedgerContext) {}

  onAppend (listener: AppendListener): () => void {
    this.appendListeners.add(listener)
    return () => { this.appendListeners.delete(listener) }
  }

  onTopicCreated (listener: TopicListener): () => void {
    this.topicListeners.add(listener)
    return () => { this.topicListeners.delete(listener) }
  }

  appendOne (input: AppendInput): Promise<AppendResult> {
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
      const t = ctx.ensureTopic(input.topic)
      const props = input.props ?? {}
      if (props.producerId !== undefined && props.producerSeq !== undefined && t.dedup !== null) {
        const original = t.dedup.check(props.producerId, props.producerSeq)
        if (original !== undefined) return this.duplicateResult(t, original)
      }
      const entryId = t.index.next
      const rec: LogRecord = { kind: RecordKind.message, topicId: t.id, entryId, publishTime: input.publishTime ?? opts.nowMs(), payload: input.payload, props }
      if (meta !== undefined) rec.meta = meta
      const s = ctx.record(rec, t.durability)
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
    await this.ctx.barrier(t.durability)
    const lsn = entryId >= 0 && t.index.has(entryId) ? t.index.lsnOf(entryId) : -1
    return { topic: t.name, entryId, lsn, duplicate: true }
  }

  /** Entry is durable: make it visible and tell the listeners (also for ledger-replicated.ts). */
  commit (t: TopicState, entryId: EntryId): void {
    if (entryId < t.committedNext) return
    const wasEmpty = t.committedNext === 0
    t.committedNext = entryId + 1
    const name = t.name
    // A listener's failure is its own business. The calls are inline, not through a closure per listener (every append).
    if (wasEmpty) for (const l of this.topicListeners) { try { l(name) } catch { /* its own business */ } }
    for (const l of this.appendListeners) { try { l(name, entryId) } catch { /* its own business */ } }
  }
}

function validateInput (input: AppendInput): void {
  if (!Buffer.isBuffer(input.payload)) throw storeError(StoreCode.BAD_ARGUMENT, 'payload must be a Buffer')
  validateAppendMeta(input.meta)
  const p: MessageProps | undefined = input.props
  if (p?.priority !== undefined && (!Number.isInteger(p.priority) || p.priority < 0 || p.priority > 9)) {
    throw storeError(StoreCode.BAD_ARGUMENT, 'priority must be an integer 0..9')
  }
}
