/**
 * Outcomes of an entry other than delivery: already acknowledged, cancelled,
 * expired, or dead-lettered (the redelivery count went past
 * maxRedeliveries). The verdict is taken at every pick, redeliveries
 * included, and expiry once more when the entry reaches the consumer's sink.
 *
 * Dead-lettering appends the copy to the DLQ, then acknowledges the entry on
 * the subscription. The copy carries a producer id made of the subscription
 * and the entry, so the ledger's producer dedup stores it once even when it
 * is appended again: after a crash between the append and the ack, or after
 * an append that failed late. A failed ack after a stored copy is retried
 * (ack only) after the backoff; the entry stays `dead-lettering` meanwhile.
 */
import type { Cursor, EntryId, LedgerEntry, MessageProps } from '../../store/index.js'
import type { NamespacePolicy } from '../policy/index.js'
import { READ_RETRY_MS } from './constants.js'
import { InflightState, type Inflight } from './inflight.js'
import type { InflightTable } from './inflight-table.js'
import { Outcome, type StreamHost, type StreamRef } from './stream-host.js'

export const Verdict = { ok: 0, acked: 1, cancelled: 2, expired: 3, dead: 4 } as const
export type Verdict = typeof Verdict[keyof typeof Verdict]

/** When an entry expires under the policy: the earlier of its own expiresAt and publishTime + messageTtlMs. */
export function expiresAtOf (entry: { publishTime: number, props: MessageProps }, policy: Readonly<NamespacePolicy>): number | undefined {
  const ttl = policy.messageTtlMs
  const byTtl = ttl > 0 ? entry.publishTime + ttl : undefined
  const own = entry.props.expiresAt
  if (own === undefined) return byTtl
  return byTtl === undefined ? own : Math.min(own, byTtl)
}

export class EntryOutcomes {
  constructor (
    private readonly host: StreamHost,
    private readonly stream: StreamRef,
    private readonly cursor: Cursor,
    private readonly table: InflightTable
  ) {}

  verdict (entry: LedgerEntry, rc: number, now: number): Verdict {
    const id = entry.entryId
    if (this.cursor.isAcked(id)) return Verdict.acked
    if (this.host.env.ledger.isCancelled(this.stream.topic, id)) return Verdict.cancelled
    const exp = expiresAtOf(entry, this.host.policy)
    if (exp !== undefined && exp <= now) return Verdict.expired
    const max = this.host.policy.maxRedeliveries
    if (max >= 0 && rc > max) return Verdict.dead
    return Verdict.ok
  }

  backoffMs (rc: number): number {
    const steps = this.host.policy.redeliveryBackoffMs
    return steps[Math.min(Math.max(rc, 0), steps.length - 1)] ?? 0
  }

  dispose (v: Verdict, entry: LedgerEntry, rec: Inflight | undefined, rc: number): void {
    const id = entry.entryId
    switch (v) {
      case Verdict.acked:
        if (rec !== undefined) this.table.release(rec)
        this.table.forgetCount(id)
        return
      case Verdict.cancelled:
        if (rec !== undefined) this.table.release(rec)
        this.table.forgetCount(id)
        this.host.env.track(this.cursor.ack([id]), 'ack cancelled entry')
        return
      case Verdict.expired:
        this.expire(id, entry.props, rec)
        return
      case Verdict.dead:
        this.deadLetter(entry, rec ?? this.table.recordOf(id), rc)
        return
      default:
        return
    }
  }

  /** Acknowledge an expired entry: counted as expired, with its result event. */
  expire (id: EntryId, props: MessageProps, rec: Inflight | undefined): void {
    if (rec !== undefined) this.table.release(rec)
    this.table.forgetCount(id)
    this.host.count(Outcome.expired, 1)
    const topic = this.stream.topic
    this.host.env.track(this.cursor.ack([id]).then(() => {
      this.host.env.emitResult(topic, id, props, this.host.name, 'expired')
      this.host.env.backlogChanged(topic)
    }), 'ack expired entry')
  }

  private deadLetter (entry: LedgerEntry, rec: Inflight, rc: number): void {
    const id = entry.entryId
    this.table.deadLettering(rec)
    rec.props = entry.props
    const reason = rec.reason ?? `redelivered ${rc} times, maxRedeliveries is ${this.host.policy.maxRedeliveries}`
    const work = this.host.env.deadLetter(this.stream.topic, this.host.name, entry, reason).then(() => {
      if (rec.state !== InflightState.deadLettering) return
      rec.dlqStored = true
      this.ackDeadLettered(rec)
    }, (err: unknown) => {
      // The DLQ append failed: keep the entry and try again after the backoff.
      this.host.env.logger.warn({ err, topic: this.stream.topic, entryId: id }, 'dead-letter append failed; will retry')
      if (rec.state === InflightState.deadLettering) this.table.schedule(rec, Date.now() + this.backoffMs(rc), reason)
    })
    this.host.env.track(work, 'dead letter')
  }

  /** The copy is stored: acknowledge the entry; on failure try the ack again after the backoff (never the append). */
  ackDeadLettered (rec: Inflight): void {
    const id = rec.entryId
    const topic = this.stream.topic
    const work = this.cursor.ack([id]).then(() => {
      if (rec.state !== InflightState.deadLettering) return
      this.table.release(rec)
      this.table.forgetCount(id)
      this.host.count(Outcome.deadLettered, 1)
      this.host.env.emitResult(topic, id, rec.props ?? {}, this.host.name, 'dead-lettered')
      this.host.env.backlogChanged(topic)
      this.host.kick()
    }, (err: unknown) => {
      this.host.env.logger.warn({ err, topic, entryId: id }, 'ack after dead-lettering failed; will retry the ack')
      if (rec.state === InflightState.deadLettering) this.host.scheduleRedelivery(this.stream, rec, Date.now() + Math.max(READ_RETRY_MS, this.backoffMs(this.host.policy.maxRedeliveries + 1)))
    })
    this.host.env.track(work, 'ack dead-lettered entry')
  }
}
