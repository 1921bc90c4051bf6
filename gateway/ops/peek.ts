/** Messages as the admin API shows them: id, time, properties and a bounded payload (text when it is UTF-8). */
import { isUtf8 } from 'node:buffer'
import type { Cursor, Ledger, LedgerEntry, TopicName } from '../../store/index.js'
import { PEEK_PAYLOAD_BYTES_MAX } from './constants.js'

/** Entries read per step while looking for unacknowledged ones. */
const PEEK_READ_ENTRIES = 100
/** Read steps per peek: bounds the work when most entries ahead are individually acknowledged. */
const PEEK_READ_STEPS_MAX = 20

export function messageView (e: LedgerEntry): Record<string, unknown> {
  const truncated = e.payload.length > PEEK_PAYLOAD_BYTES_MAX
  const shown = truncated ? e.payload.subarray(0, PEEK_PAYLOAD_BYTES_MAX) : e.payload
  const text = isUtf8(shown) ? shown.toString('utf8') : undefined
  const { correlationData, ...props } = e.props
  return {
    messageId: String(e.entryId),
    publishTime: e.publishTime,
    bytes: e.payload.length,
    truncated,
    ...(text !== undefined ? { payload: text } : { payloadBase64: shown.toString('base64') }),
    props: correlationData !== undefined ? { ...props, correlationData: correlationData.toString('base64') } : props
  }
}

/** Stored entries from `fromId` on (acknowledged or not), at most `max`. */
export async function readFrom (ledger: Ledger, topic: TopicName, fromId: number, max: number): Promise<LedgerEntry[]> {
  const info = ledger.topicInfo(topic)
  if (info === undefined) return []
  return await ledger.read(topic, Math.max(fromId, info.firstEntryId), { maxEntries: max })
}

/** The first `max` entries a cursor has not acknowledged, in order. */
export async function unacked (ledger: Ledger, cursor: Cursor, max: number): Promise<LedgerEntry[]> {
  const info = ledger.topicInfo(cursor.topic)
  if (info === undefined) return []
  const out: LedgerEntry[] = []
  let from = Math.max(cursor.markDelete() + 1, info.firstEntryId)
  for (let step = 0; step < PEEK_READ_STEPS_MAX && out.length < max && from < info.nextEntryId; step++) {
    const batch = await ledger.read(cursor.topic, from, { maxEntries: PEEK_READ_ENTRIES })
    if (batch.length === 0) break
    for (const e of batch) {
      if (!cursor.isAcked(e.entryId) && !ledger.isCancelled(cursor.topic, e.entryId)) out.push(e)
      if (out.length >= max) break
    }
    from = (batch[batch.length - 1] as LedgerEntry).entryId + 1
  }
  return out
}

/** Ids visited per skip, acknowledged ones included: bounds one call when individual acks are dense. */
const SKIP_VISITS_MAX = 1_000_000

/** Entry id of the `count`-th unacknowledged entry (or the last one when fewer), undefined when none. */
export function nthUnacked (ledger: Ledger, cursor: Cursor, count: number): { upTo: number, skipped: number } | undefined {
  const info = ledger.topicInfo(cursor.topic)
  if (info === undefined || count <= 0) return undefined
  let skipped = 0
  let last: number | undefined
  const start = Math.max(cursor.markDelete() + 1, info.firstEntryId)
  const end = Math.min(info.nextEntryId, start + SKIP_VISITS_MAX)
  for (let id = start; id < end && skipped < count; id++) {
    if (cursor.isAcked(id)) continue
    skipped++
    last = id
  }
  return last === undefined ? undefined : { upTo: last, skipped }
}
