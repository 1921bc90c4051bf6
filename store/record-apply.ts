/**
 * Records -> state: how each log record changes the in-memory ledger state.
 * The same function runs live (right after a record is submitted) and at
 * recovery, so live and replayed state agree.
 *
 * Idempotent for replay over a fuzzy checkpoint: a known topic or entry is
 * skipped, acks and deletes are idempotent, a cursor create restarts the
 * cursor (its later records follow it in the log), a hand-out watermark only
 * moves forward, meta puts re-apply in log order (last writer wins). Ids
 * handed out again may be counted twice (the safe direction).
 *
 * Never enforces an admission bound (ranges, sizes): a record that reached
 * the log must always replay, or the ledger would never open again.
 */
import { resetCursorState } from './cursor-reset.js'
import { CursorState } from './cursor-state.js'
import { DelayedIndex } from './delayed-index.js'
import { ProducerDedup } from './dedup.js'
import { StoreCode, storeError } from './errors.js'
import { applyMeta } from './ledger-meta.js'
import { noteReplicatedEntry } from './origin-marks.js'
import { RecordKind, type LogRecord } from './records.js'
import { TopicState } from './topic-state.js'
import { Durability, type Lsn } from './types.js'
import type { LedgerState } from './ledger-state.js'

export function applyRecord (s: LedgerState, rec: LogRecord, lsn: Lsn, bytes: number, durability?: Durability): void {
  switch (rec.kind) {
    case RecordKind.pad:
    case RecordKind.checkpoint:
      return
    case RecordKind.topic: {
      if (s.topicsById[rec.topicId] !== undefined) return // already in the (fuzzy) checkpoint
      // Replayed topics were persistent when created; a policy changed to memory since does not make them volatile.
      const policyDurability = s.opts.policyOf(rec.name).durability
      const d = durability ?? (policyDurability === Durability.memory ? Durability.sync : policyDurability)
      const t = new TopicState(rec.name, rec.topicId, d, s.keepsInMemory(d))
      s.topicsByName.set(rec.name, t)
      s.topicsById[rec.topicId] = t
      s.nextTopicId = Math.max(s.nextTopicId, rec.topicId + 1)
      return
    }
    case RecordKind.message: {
      const t = s.topicById(rec.topicId)
      // Meta first and always, even when the entry itself is skipped below: replay
      // re-applies every put after the checkpoint's replay point in log order,
      // which makes the (fuzzy) snapshot's meta exact (last writer wins per key).
      if (rec.meta !== undefined) for (const m of rec.meta) applyMeta(s.meta, m.space, m.key, m.value)
      // Geo-replication: a replicated entry raises its link's position in the same record (store/origin-marks.ts); monotonic, so replay is safe.
      if (rec.props.replicatedLsn !== undefined) noteReplicatedEntry(s.meta, rec.props)
      if (rec.entryId < t.index.next) return // replay of an entry the (fuzzy) checkpoint already holds
      if (rec.entryId !== t.index.next) throw storeError(StoreCode.STORE_CORRUPT, `entry ${t.name}#${rec.entryId} follows #${t.index.next - 1}: entry ids must be dense`)
      t.index.push(lsn, bytes)
      if (t.mem !== null) {
        t.mem.push({ topic: t.name, entryId: rec.entryId, lsn, publishTime: rec.publishTime, payload: rec.payload, props: rec.props })
      }
      const p = rec.props
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
      const t = s.topicById(rec.topicId)
      // An existing cursor starts over in place (a rewind, cursor-reset.ts): handles keep the live state.
      const existing = t.cursor(rec.sub)
      if (existing?.durable === true) resetCursorState(existing, rec.markDelete)
      else t.putCursor(new CursorState(rec.sub, true, rec.markDelete))
      return
    }
    case RecordKind.cursorDelete:
      s.topicById(rec.topicId).removeCursor(rec.sub)
      return
    case RecordKind.ack: {
      const c = s.cursorOf(rec.topicId, rec.sub)
      if (c !== undefined) for (const id of rec.ids) c.ackOne(id)
      return
    }
    case RecordKind.ackCumulative:
      s.cursorOf(rec.topicId, rec.sub)?.ackCumulative(rec.upTo)
      return
    case RecordKind.deliveries: {
      const c = s.cursorOf(rec.topicId, rec.sub)
      if (c !== undefined) for (const id of rec.ids) c.recordDelivery(id)
      return
    }
    case RecordKind.handedOut:
      s.cursorOf(rec.topicId, rec.sub)?.applyHandOut(rec)
      return
    case RecordKind.metaPut:
      applyMeta(s.meta, rec.space, rec.key, rec.value)
      return
    case RecordKind.metaDelete:
      applyMeta(s.meta, rec.space, rec.key, undefined)
      return
    case RecordKind.cancel: {
      const t = s.topicById(rec.topicId)
      t.cancelled ??= new Set()
      t.cancelled.add(rec.entryId)
    }
  }
}
