/**
 * Replicated entries (replicator/receiver.ts): a batch of them in one
 * submission.
 *
 * The receiving site of a link was its limit (session 4: 12–15 µs of CPU per
 * replicated message against 5–6 for a local publish). Profiled during a
 * drain, the per-entry append path (generic CBOR encode of each record, a
 * promise and a continuation per entry, and the garbage of both) was most of
 * it. Here, per batch:
 *  1. every entry is checked, gets this site's entry id (its topic's next),
 *     and its record is written by hand into a shared chunk
 *     (message-encoder.ts): no per-record buffer, wire array or props object;
 *  2. the records are submitted in input order in one synchronous run with no
 *     promise awaited each (LogWriter.append's group promise goes unused), so they share a group commit and
 *     a crash keeps a prefix of them; each is applied to the state at once,
 *     which raises the link's position (replicatedLsn: origin-marks.ts) in
 *     the same record: exactly-once by origin is unchanged;
 *  3. one barrier after the last record: once it resolves every record of
 *     the batch is durable (the log is written in order), and only then do
 *     the entries become visible to readers and listeners (`committedNext`).
 * A refusal part way (a record too large, too many topics) keeps the prefix
 * submitted before it: the prefix is committed once durable, then the
 * promise rejects with the refusal.
 */
import { StoreCode, storeError } from './errors.js'
import { PlainRecord } from './plain-record.js'
import { RecordKind, decodeRecord, type LogRecord } from './records.js'
import { Durability, type Lsn, type MessageProps, type ReplicatedInput, type ReplicatedMessageInput, type ReplicatedPlainInput } from './types.js'
import type { ViaRun } from './via-runs.js'
import type { Appender } from './ledger-append.js'
import type { LedgerContext } from './ledger-context.js'
import type { MessageEncoder } from './message-encoder.js'
import type { TopicState } from './topic-state.js'

export function appendReplicated (ctx: LedgerContext, appender: Appender, encoder: MessageEncoder, inputs: readonly ReplicatedInput[]): Promise<void> {
  const topics: TopicState[] = []
  const entryIds: number[] = []
  let sync = false
  let written = false
  let refusal: unknown
  const runs = new RunsOfSite()
  try {
    const opts = ctx.state.opts
    for (const given of inputs) {
      const plain = given.record !== undefined ? plainTopic(ctx, given) : undefined
      if (plain !== undefined && given.record !== undefined) {
        // The origin's record as it is, re-framed (plain-record.ts): no decode, no props object, no re-encode.
        const t = plain
        const entryId = t.index.next
        const s = ctx.recordEncoded(plainRecordState(t.id, entryId, given), encoder.plain(t.id, entryId, given.record, given.originSite, given.replicatedVia, given.replicatedLsn), t.durability, false)
        runs.add(given.replicatedVia, s.lsn, s.bytes)
        appender.appendsTotal++
        topics.push(t)
        entryIds.push(entryId)
        if (t.durability === Durability.sync) sync = true
        else written = true
        continue
      }
      const input = given.record === undefined ? given : decodedPlain(given)
      validate(input)
      if (input.payload.length > opts.maxRecordBytes) {
        throw storeError(StoreCode.RECORD_TOO_LARGE, `payload of ${input.payload.length} bytes exceeds maxRecordBytes ${opts.maxRecordBytes}`, { details: { maxRecordBytes: opts.maxRecordBytes } })
      }
      const t = ctx.ensureTopic(input.topic)
      const entryId = t.index.next
      // A replicated payload may be a view of its whole batch (replicator/batch-reader.ts): an entry kept in memory
      // for as long as it lives gets bytes of its own, so it does not keep the batch.
      const payload = t.mem !== null ? Buffer.from(input.payload) : input.payload
      // Likewise a bytes prop (the wire reader's view of the batch, as the payload was).
      const c = input.props.correlationData
      const props = t.mem !== null && c !== undefined ? { ...input.props, correlationData: Buffer.from(c) } : input.props
      const rec: LogRecord = { kind: RecordKind.message, topicId: t.id, entryId, publishTime: input.publishTime, payload, props }
      const body = t.durability === Durability.memory ? EMPTY : encoder.encode(t.id, entryId, input.publishTime, payload, props)
      const s = ctx.recordEncoded(rec, body, t.durability)
      if (t.durability === Durability.memory) runs.end()
      else runs.add(input.props.replicatedVia, s.lsn, s.bytes)
      appender.appendsTotal++
      topics.push(t)
      entryIds.push(entryId)
      if (t.durability === Durability.sync) sync = true
      else if (t.durability === Durability.async) written = true
    }
  } catch (err) {
    refusal = err
  }
  if (topics.length === 0) return refusal === undefined ? Promise.resolve() : Promise.reject(refusal)
  // Sync covers async (written and fsynced); memory topics are durable as applied.
  const durable = sync ? ctx.barrier(Durability.sync) : written ? ctx.barrier(Durability.async) : Promise.resolve()
  return durable.then(() => {
    runs.end()
    for (const [site, run] of runs.done) ctx.noteViaRun(site, run)
    for (let i = 0; i < topics.length; i++) appender.commit(topics[i] as TopicState, entryIds[i] as number)
    if (refusal !== undefined) throw refusal
  })
}

const EMPTY = Buffer.alloc(0)

/**
 * The runs of contiguous frames this call wrote whose records came from the same sender (the last site of their
 * replicatedVia: receiver.ts appends it), for the log tail to skip on the link back (via-runs.ts). A frame not
 * right after the previous one (a dictionary record or a pad between, a new segment) starts a new run.
 */
class RunsOfSite {
  readonly done: Array<[string, ViaRun]> = []
  private site: string | undefined
  private run: ViaRun | undefined

  add (via: readonly string[] | undefined, lsn: Lsn, bytes: number): void {
    const site = via?.[via.length - 1]
    const run = this.run
    if (run !== undefined && site === this.site && lsn === run.endLsn) {
      run.lastLsn = lsn
      run.endLsn = lsn + bytes
      return
    }
    this.end()
    if (site === undefined) return
    this.site = site
    this.run = { firstLsn: lsn, lastLsn: lsn, endLsn: lsn + bytes }
  }

  end (): void {
    if (this.run !== undefined && this.site !== undefined) this.done.push([this.site, this.run])
    this.run = undefined
    this.site = undefined
  }
}

/**
 * The topic of a plain input when the record goes to the log as it is: a checked plain record (only
 * plain-record.ts makes one) for a topic whose entries live in the log alone. A topic kept in memory (memory
 * durability, the memory ledger) keeps entries as objects: undefined, and the input is decoded first.
 */
function plainTopic (ctx: LedgerContext, input: ReplicatedPlainInput): TopicState | undefined {
  if (!(input.record instanceof PlainRecord)) throw storeError(StoreCode.BAD_ARGUMENT, 'a plain input needs a record checked by plainRecordOf')
  const payloadBytes = input.record.payloadEnd - input.record.payloadAt
  const max = ctx.state.opts.maxRecordBytes
  if (payloadBytes > max) throw storeError(StoreCode.RECORD_TOO_LARGE, `payload of ${payloadBytes} bytes exceeds maxRecordBytes ${max}`, { details: { maxRecordBytes: max } })
  const t = ctx.ensureTopic(input.topic)
  return t.mem === null && t.durability !== Durability.memory ? t : undefined
}

/**
 * What applying a plain record changes in the state (record-apply.ts): its entry, the link's position (route and
 * priority), a deliverAt. Only what that needs, in one object for every plain record: applying one keeps nothing
 * of it (a topic of the log alone: no entry object in memory, no producer ids), and it goes in with `cacheEntry`
 * false (the tail cache does not keep it as the entry: readers decode the frame).
 */
function plainRecordState (topicId: number, entryId: number, input: ReplicatedPlainInput): LogRecord {
  const r = input.record
  const props = scratchProps
  props.originSite = input.originSite
  props.originEntryId = r.entryId
  props.replicatedVia = input.replicatedVia
  props.replicatedLsn = input.replicatedLsn
  props.priority = r.priority
  props.deliverAt = r.deliverAt
  const rec = scratchRecord
  rec.topicId = topicId
  rec.entryId = entryId
  rec.publishTime = r.publishTime
  return rec
}

const scratchProps: MessageProps = { originSite: undefined, originEntryId: undefined, replicatedVia: undefined, replicatedLsn: undefined, priority: undefined, deliverAt: undefined }
const scratchRecord: Extract<LogRecord, { kind: typeof RecordKind.message }> = { kind: RecordKind.message, topicId: 0, entryId: 0, publishTime: 0, payload: EMPTY, props: scratchProps }

/**
 * A plain input as a decoded one (what the decoded path receives), for a topic kept in memory: decoded from a
 * copy of its bytes, so neither the payload nor a bytes prop (correlationData) keeps the batch they came in.
 */
function decodedPlain (input: ReplicatedPlainInput): ReplicatedMessageInput {
  const rec = decodeRecord(Buffer.from(input.record.bytes()))
  if (rec.kind !== RecordKind.message) throw storeError(StoreCode.BAD_ARGUMENT, 'a plain record is a message record')
  const props: MessageProps = { ...rec.props, originSite: input.originSite, originEntryId: rec.entryId, replicatedVia: input.replicatedVia, replicatedLsn: input.replicatedLsn }
  return { topic: input.topic, payload: rec.payload, publishTime: rec.publishTime, props }
}

function validate (input: ReplicatedMessageInput): void {
  if (!Buffer.isBuffer(input.payload)) throw storeError(StoreCode.BAD_ARGUMENT, 'payload must be a Buffer')
  if (typeof input.publishTime !== 'number' || !Number.isFinite(input.publishTime)) throw storeError(StoreCode.BAD_ARGUMENT, 'publishTime must be a finite number')
  const p = input.props.priority
  if (p !== undefined && (!Number.isInteger(p) || p < 0 || p > 9)) throw storeError(StoreCode.BAD_ARGUMENT, 'priority must be an integer 0..9')
  if (input.props.producerId !== undefined || input.props.producerSeq !== undefined) {
    throw storeError(StoreCode.BAD_ARGUMENT, 'replicated entries carry no producer ids (replication dedups by position)')
  }
}
