/**
 * The state of one entry of one (topic, subscription) between being read and
 * being acknowledged. Entries in the read-ahead window have no record yet;
 * a record exists from the first hand-out (or from being found due in the
 * delayed index) until the entry is acknowledged, expired, dead-lettered or
 * the stream rewinds.
 *
 *   window ──pick──▶ delivered ──ack──────────────────────▶ (gone)
 *                      │  ▲  └──nack / ack timeout──▶ waiting (backoff)
 *                      │  └───────────pick─── ready ◀──load── ┘
 *                      └──consumer closes──▶ loading ──▶ ready
 *   any ──redelivery count > maxRedeliveries──▶ dead-lettering ──(copy stored, acked)──▶ (gone)
 *   any ──expired / cancelled──▶ (gone, acknowledged)
 */
import type { LedgerEntry, MessageProps } from '../../store/index.js'
import type { ConsumerImpl } from './consumer.js'
import type { TopicStream } from './stream.js'

export const InflightState = {
  delivered: 'delivered',
  waiting: 'waiting',
  loading: 'loading',
  ready: 'ready',
  deadLettering: 'dead-lettering',
  done: 'done'
} as const
export type InflightState = typeof InflightState[keyof typeof InflightState]

export interface Inflight {
  readonly entryId: number
  readonly stream: TopicStream
  state: InflightState
  /** Ordering key ('' until known: a delayed entry found in the index is loaded before its key is known). */
  key: string
  /** delivered: the consumer holding it. */
  consumer: ConsumerImpl | undefined
  deliveredAtMs: number
  /** Bumped on every state change: heap items carrying an older value are stale. */
  gen: number
  /** Why it was last negatively acknowledged (kept for the dead-letter reason). */
  reason: string | undefined
  /** Returned by a consumer that closed: in key_shared it must go out before later entries of its key. */
  returned: boolean
  /** ready: the loaded entry. */
  entry: LedgerEntry | undefined
  /** Props of the entry once known (result events on ack). */
  props: MessageProps | undefined
  /** dead-lettering: the DLQ copy is stored; only the ack is left (retried on failure, never the append). */
  dlqStored: boolean
}

export function newInflight (stream: TopicStream, entryId: number): Inflight {
  return { entryId, stream, state: InflightState.done, key: '', consumer: undefined, deliveredAtMs: 0, gen: 0, reason: undefined, returned: false, entry: undefined, props: undefined, dlqStored: false }
}
