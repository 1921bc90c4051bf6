/**
 * The receiving end of every link into this site.
 *
 * Steps for one batch (decoded and checked first):
 *  1. Batches of one sender are applied strictly one after the other: a
 *     batch's records are submitted once the previous batch's are (not once
 *     they are durable), so pipelined batches share group commits. A failed
 *     write fences the ledger, which fails every record submitted after it.
 *  2. The batch must start right after the position this site holds for the
 *     sender (`repl-in` mark, store/origin-marks.ts); otherwise it is refused
 *     with E_REPL_POSITION and that position, and the sender rewinds or skips
 *     ahead (apache/pulsar#26113: a retry racing a later success must never
 *     be taken for a duplicate). Dedup is by this position only, never by
 *     producer sequence ids (apache/pulsar#23697): those are stripped.
 *  3. Items are submitted in the sender's order in one synchronous run, so
 *     they share a group commit and a crash keeps a prefix of them; each run
 *     of messages is one submission (Ledger.appendReplicated), visible to
 *     readers only once durable. Every message carries its sender lsn, which
 *     raises the mark in the same record; when the batch ends with records that are not messages, an
 *     explicit mark record follows them. Entry ids are this site's own.
 *  4. The answer (the batch's `through`, now held) goes back once the
 *     batch is durable under the receiving namespace's durability mode, which
 *     implies every earlier batch is (the log is written in order). A
 *     position refusal is answered once everything submitted before it is
 *     durable, so the position it names is held on disk.
 * A refusal for any other reason (full disk, fenced ledger) carries the code;
 * the sender pauses and retries by itself (apache/pulsar#26002).
 */
import { CommonCode, FerryError, isFerryError } from '../common/errors.js'
import type { Logger } from '../common/log.js'
import { Lane, REPL_IN_SPACE, laneKey, laneOfPriority, positionOf, positionValue, type Ledger, type MessageProps, type MetaValue, type PlainRecord, type ReplicatedInput } from '../store/index.js'
import { batchOf, decodeBatchHead, encodeAnswer, type Answer, type Batch, type BatchHead, type CancelItem } from './codec.js'
import { ReplCode } from './errors.js'
import { REPL_CANCEL_SEARCH_ENTRIES_MAX, REPL_VIA_SITES_MAX } from './constants.js'

/** The last batch of a sender: when its records are submitted (the next may go) and durable. */
interface Chain { submitted: Promise<void>, durable: Promise<void> }

/** A submitted batch: `submitted` resolves when the next batch may go; `durable` when its records are on disk; `answer` is what goes back. */
interface Applied { submitted: Promise<void>, durable: Promise<void>, answer: Promise<Answer> }

export interface ReceiverStats {
  batchesApplied: number
  entriesApplied: number
  refusedPosition: number
  refusedOther: number
  cancelsApplied: number
}

export class Receiver {
  private readonly chains = new Map<string, Chain>()
  readonly stats: ReceiverStats = { batchesApplied: 0, entriesApplied: 0, refusedPosition: 0, refusedOther: 0, cancelsApplied: 0 }

  constructor (private readonly ledger: Ledger, private readonly siteId: string, private readonly logger: Logger) {}

  /** Position this site holds for a sender's lane. */
  positionFor (sender: string, lane: Lane = Lane.normal): number {
    return positionOf(this.ledger.getMeta(REPL_IN_SPACE, laneKey(sender, lane)))
  }

  async handle (data: Uint8Array): Promise<Uint8Array> {
    // The header is read at once (a compressed batch's items are inflated in its turn), so batches queue in arrival order.
    let head: BatchHead
    try {
      head = decodeBatchHead(data)
      if (head.to !== this.siteId) throw new FerryError(ReplCode.BAD_BATCH, `batch for site ${head.to} reached ${this.siteId}`)
    } catch (err) {
      this.stats.refusedOther++
      return encodeAnswer(refusal(err, -1))
    }
    // Strictly in order per link: this batch's turn comes once the sender's previous batch is submitted.
    const from = head.from
    const prev = this.chains.get(from)
    let release: () => void = () => {}
    const turn = new Promise<void>((resolve) => { release = resolve })
    const chain: Chain = { submitted: turn, durable: prev?.durable ?? Promise.resolve() }
    this.chains.set(from, chain)
    let answer: Answer
    try {
      await prev?.submitted
      let run: Applied
      try {
        // The decoded batch is not kept past its submission: nothing of it stays reachable while it becomes
        // durable (a receiver's pipelined batches did, and the GC copied every one of their objects).
        run = this.apply(await batchOf(head), chain.durable)
      } catch (err) {
        this.stats.refusedOther++
        return encodeAnswer(refusal(err, -1))
      }
      chain.durable = run.durable.then(() => {}, () => {})
      await run.submitted.catch(() => {})
      release()
      answer = await run.answer
    } finally {
      release()
      if (this.chains.get(from) === chain) {
        // Nothing queued behind: drop the entry once it is durable (bounded by senders anyway).
        void chain.durable.then(() => { if (this.chains.get(from) === chain) this.chains.delete(from) })
      }
    }
    return encodeAnswer(answer)
  }

  /** Submit a batch (after the previous one's submission). */
  private apply (b: Batch, before: Promise<void>): Applied {
    // Closures below name these, never `b`: the batch's items must not stay reachable until it is durable.
    const { from, lane, after, through } = b
    const held = this.positionFor(from, lane)
    if (after !== held) {
      this.stats.refusedPosition++
      // Answered once what was submitted before is durable: the position named is held on disk.
      const answer = before.then((): Answer => {
        const p = this.positionFor(from, lane)
        return { ok: false, code: ReplCode.POSITION, message: `position ${p} held for ${from}, batch starts after ${after}`, position: p }
      })
      return { submitted: Promise.resolve(), durable: before, answer }
    }
    const pending: Array<Promise<unknown>> = []
    let submitted: Promise<void> = Promise.resolve()
    let failed: unknown
    let entries = 0
    try {
      let lastMessageLsn = after
      // One synchronous run: every record below is submitted before the first await (one group commit).
      // Runs of messages go to the ledger as one submission each (appendReplicated: one promise per run, not per entry).
      const cancels: CancelItem[] = []
      let run: ReplicatedInput[] = []
      const flush = (): void => {
        if (run.length === 0) return
        const applied = this.ledger.appendReplicated(run)
        applied.catch(() => {}) // observed through `pending`, unless the batch is refused before that
        pending.push(applied)
        run = []
      }
      // The path of an entry that passed no site before the sender (nearly all): one array for the batch.
      const viaSender: readonly string[] = [from]
      const loops = from === this.siteId
      try {
        for (const it of b.items) {
          if (it.kind === 'cancel') {
            cancels.push(it) // after the entries they may refer to (the sender ends a batch at a cancel)
          } else if (it.kind === 'plain') {
            // The sender's own entry as its log holds it (it passed no site before): re-framed by the store.
            if (loops) continue
            if (laneOfPriority(it.priority) !== lane) throw new FerryError(ReplCode.BAD_BATCH, `entry of priority ${String(it.priority)} in a batch of lane ${lane}`)
            run.push({ topic: it.topic, record: it.plain as PlainRecord, originSite: from, replicatedVia: viaSender, replicatedLsn: it.lsn })
            lastMessageLsn = it.lsn
            entries++
          } else if (it.kind === 'message') {
            const passed = it.props.replicatedVia
            const via = passed === undefined || passed.length === 0 ? viaSender : [...passed, from]
            if (via === viaSender ? loops : (via.includes(this.siteId) || via.length > REPL_VIA_SITES_MAX)) continue // loop: never re-apply our own
            // The entry's lane decides which position it raises (origin-marks.ts): it must be the batch's.
            if (laneOfPriority(it.props.priority) !== lane) throw new FerryError(ReplCode.BAD_BATCH, `entry of priority ${String(it.props.priority)} in a batch of lane ${lane}`)
            it.props = replicatedProps(it.props, it.entryId, from, it.lsn, via)
            run.push(it) // the item is this batch's own: it is the input as it is (topic, payload, publishTime, props)
            lastMessageLsn = it.lsn
            entries++
          } else {
            flush() // a meta record keeps its place among the messages
            pending.push(this.ledger.putMeta(it.space, it.key, metaOf(it.value, [...viaOfValue(it.value), from])))
          }
        }
      } finally {
        flush() // what came before a refusal is submitted, as one append at a time did
      }
      const mark = (): void => {
        if (through > lastMessageLsn) pending.push(this.ledger.putMeta(REPL_IN_SPACE, laneKey(from, lane), positionValue(through)))
      }
      if (cancels.length > 0) {
        // Cancels need their entries durable first; the next batch waits for them.
        submitted = (async () => {
          await Promise.all(pending)
          pending.length = 0
          for (const c of cancels) await this.applyCancel(c)
          mark()
        })()
        pending.push(submitted)
      } else {
        mark()
      }
    } catch (err) {
      failed = err
    }
    const durable = failed !== undefined ? Promise.reject(failed) : Promise.all(pending).then(() => {})
    durable.catch(() => {})
    const answer = durable.then((): Answer => {
      this.stats.batchesApplied++
      this.stats.entriesApplied += entries
      return { ok: true, position: through }
    }, async (err: unknown): Promise<Answer> => {
      this.stats.refusedOther++
      this.logger.warn({ from, code: isFerryError(err) ? err.code : undefined, err: String(err) }, 'replication batch refused')
      await before
      return refusal(err, this.positionFor(from, lane))
    })
    return { submitted, durable, answer }
  }

  /**
   * Cancel the local copy of a scheduled entry, found by its origin. Only
   * entries still waiting for their deliverAt can be cancelled, so the search
   * is over the topic's delayed index (bounded). Idempotent: a repeated cancel
   * finds the entry cancelled already and writes nothing.
   */
  private async applyCancel (c: CancelItem): Promise<void> {
    if (c.originSite === this.siteId) { await this.ledger.cancel(c.topic, c.originEntryId); return }
    for (const ref of this.ledger.delayedBetween(c.topic, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, REPL_CANCEL_SEARCH_ENTRIES_MAX)) {
      const e = await this.ledger.readOne(c.topic, ref.entryId)
      if (e?.props.originSite === c.originSite && e.props.originEntryId === c.originEntryId) {
        await this.ledger.cancel(c.topic, ref.entryId)
        this.stats.cancelsApplied++
        return
      }
    }
  }
}

/**
 * The props of a replicated entry: the sender's, without producer ids (dedup is by position only), with its
 * origin (the first site it was published at) and the sites it passed. The sender's object is this batch's own
 * (decoded from the wire for this call), so it is completed in place instead of copied.
 */
function replicatedProps (props: MessageProps, entryId: number, from: string, lsn: number, via: readonly string[]): MessageProps {
  let p = props
  if (p.producerId !== undefined || p.producerSeq !== undefined) {
    const { producerId: _pid, producerSeq: _seq, ...rest } = p
    p = rest
  }
  p.originSite ??= from
  p.originEntryId ??= entryId
  p.replicatedVia = via
  p.replicatedLsn = lsn
  return p
}

function refusal (err: unknown, position: number): Answer {
  const code = isFerryError(err) ? err.code : CommonCode.INTERNAL
  return { ok: false, code, message: err instanceof Error ? err.message : String(err), position }
}

/** Sites a replicated meta value passed (kept inside the value: meta records have no props). */
export function viaOfValue (v: MetaValue | undefined): string[] {
  if (v === null || v === undefined || typeof v !== 'object' || Array.isArray(v) || Buffer.isBuffer(v)) return []
  const via = (v as { replicatedVia?: unknown }).replicatedVia
  return Array.isArray(via) ? via.filter((s): s is string => typeof s === 'string') : []
}

/**
 * A replicated meta value: the sender's value with the sites it passed; a
 * delete becomes a tombstone value (a plain delete could not say where it
 * came from, and would travel back). Retained messages refer to the entry id
 * at their origin; here it is -1 (not an entry of this site).
 */
function metaOf (v: MetaValue | undefined, via: string[]): MetaValue {
  if (v === null || v === undefined || typeof v !== 'object' || Array.isArray(v) || Buffer.isBuffer(v)) {
    return { tombstone: true, replicatedVia: via }
  }
  const out: Record<string, MetaValue | undefined> = { ...(v as Record<string, MetaValue | undefined>), replicatedVia: via }
  if (typeof out.entryId === 'number') out.entryId = -1
  return out as MetaValue
}
