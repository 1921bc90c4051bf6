/**
 * A link's state and its figures (replicator/link.ts): the limits it runs
 * by, what it asks the replicator about records, the per-lane state, the
 * batches in flight and the held (coalescing) batch, and the lag they add up to.
 */
import { Lane } from '../store/index.js'
import { entryBytesOf, type Answer, type WireItem } from './codec.js'

export type LinkLimits = {
  [K in 'REPL_BATCH_ENTRIES_MAX' | 'REPL_BATCH_BYTES_MAX' | 'REPL_SCAN_BYTES_MAX' | 'REPL_REQUEST_TIMEOUT_MS' | 'REPL_EMPTY_BATCH_TIMEOUT_MS' | 'REPL_BACKOFF_MS_MIN' |
  'REPL_BACKOFF_MS_MAX' | 'REPL_IDLE_POLL_MS' | 'REPL_SKIP_ADVANCE_INTERVAL_MS' | 'REPL_OUT_PERSIST_INTERVAL_MS' | 'REPL_LINK_BACKLOG_BYTES_ALERT' |
  'REPL_INFLIGHT_BATCHES_MAX' | 'REPL_INFLIGHT_BYTES_MAX' | 'REPL_COMPRESS_BATCH_BYTES_MIN' | 'REPL_BATCH_COALESCE_MS' |
  'REPL_BATCH_COALESCE_ENTRIES_MIN' | 'REPL_BATCH_COALESCE_BYTES_MIN' | 'REPL_BATCH_COALESCE_INFLIGHT_MIN' | 'REPL_SHIP_PLAIN_RECORDS']: number // (constants.ts; number, not the literal, so tests can shorten them)
}

/** What the link asks the replicator about each record. */
export interface LinkFilter {
  topics: (topic: string) => boolean
  meta: (space: string, key: string) => boolean
  /** Whether this item goes on this link (origin, sites passed, routes). */
  ships: (item: WireItem) => boolean
}

export const LinkState = {
  idle: 'idle',
  shipping: 'shipping',
  /** The remote refused or did not answer; retrying with backoff. */
  paused: 'paused',
  closed: 'closed'
} as const
export type LinkState = typeof LinkState[keyof typeof LinkState]

export interface LinkStats {
  site: string
  state: LinkState
  /** The remote has answered at least once since this link started. */
  connected: boolean
  /** Position the remote holds for the normal lane (sender lsn). */
  position: number
  /** End of this site's durable log. */
  logEndLsn: number
  /** Entries read and not yet acknowledged by the remote (a lower bound when behindMoreThanOneRead). */
  lagEntries: number
  /** Payload bytes of those entries. */
  lagBytes: number
  /** Age of the oldest entry not yet acknowledged, seconds (0 when caught up). */
  lagSeconds: number
  /** More unshipped log than one read holds: the lag figures are lower bounds. */
  behindMoreThanOneRead: boolean
  backlogAlert: boolean
  batchesSent: number
  /** Batches that carried entries (entriesShipped / entryBatchesSent: entries per batch, what coalescing raises). */
  entryBatchesSent: number
  /** Partial batches held for more entries while a batch of their lane was in flight (each time a read added to one). */
  coalesceHolds: number
  entriesShipped: number
  /** Entries sent as the log holds them (plain records: REPL_SHIP_PLAIN_RECORDS), resends included. */
  plainEntriesSent: number
  bytesShipped: number
  rewinds: number
  failures: number
  /** Records that were gone when the link came to them (retention took them): counted, never silent. */
  gaps: number
  lastError?: { code: string, message: string, atMs: number }
  /** Per lane (0 control, 1 high priority, 2 normal): position and entries read but not acknowledged. */
  lanes: Array<{ lane: number, position: number, lagEntries: number }>
}

/** A batch sent and not yet settled (answered, covered by a later answer, or dropped). */
export interface InFlight {
  after: number
  through: number
  /** Empty batch: a handshake or a skip advance. */
  empty: boolean
  entries: number
  payloadBytes: number
  wireBytes: number
  oldestMs: number | undefined
  outcome?: { answer: Answer } | { err: unknown }
}

/** A partial batch waiting for more entries while a batch of its lane is in flight (coalescing). */
export interface Held {
  items: WireItem[]
  payloadBytes: number
  /** The next read continues after this lsn (what the reads so far examined). */
  readThrough: number
  /** When the first of its reads was made: it goes REPL_BATCH_COALESCE_MS after at the latest. */
  sinceMs: number
}

/** One lane's progress on a link (positions are per lane: store/origin-marks.ts). */
export interface LaneState {
  lane: Lane
  /** Where the remote stands (its last answer). */
  position: number
  /** Next read continues after this lsn. */
  scanPos: number
  persisted: number
  connected: boolean
  /**
   * After a failure the lane first sends an empty batch (short timeout) and
   * pipelines again only once it is answered: while NATS gateways re-form a
   * whole window of batches could otherwise lose its replies and wait the
   * full request timeout.
   */
  probe: boolean
  /** Nothing to read the last time; cleared by a poke (new records). */
  idle: boolean
  lastSkipSentMs: number
  /** The last read was full: more log than one read is waiting (lag figures are lower bounds). */
  behind: boolean
  /** Batches sent on this lane, oldest first; each starts right after the one before. */
  queue: InFlight[]
  /**
   * What the batches dropped by the last failure held: still read and not
   * acknowledged, so the lag shows it while the link is paused (probes carry
   * no entries). Cleared once entries are acknowledged again or the remote
   * repositions the lane.
   */
  dropped?: { entries: number, payloadBytes: number, oldestMs: number | undefined }
  /** Read, not sent yet: waits for more while a batch of this lane is in flight (coalescing). Only with a non-empty queue. */
  held?: Held
}

/**
 * Turns of the lanes when several have something to ship: control first, the
 * high lane four times as often as the normal one, and the normal lane always
 * gets a turn (low priorities progress behind a stream of high ones).
 */
export const LANE_SCHEDULE: readonly Lane[] = [Lane.control, Lane.high, Lane.high, Lane.high, Lane.high, Lane.normal]

/** Entries, payload bytes and the oldest publish time of batches in flight. */
export function pendingOf (queue: readonly InFlight[], held?: Held): { entries: number, payloadBytes: number, oldestMs: number | undefined } {
  let entries = 0
  let payloadBytes = 0
  let oldestMs: number | undefined
  for (const f of queue) {
    entries += f.entries
    payloadBytes += f.payloadBytes
    if (f.oldestMs !== undefined && (oldestMs === undefined || f.oldestMs < oldestMs)) oldestMs = f.oldestMs
  }
  for (const it of held?.items ?? []) {
    if (it.kind !== 'message' && it.kind !== 'plain') continue
    entries++
    payloadBytes += entryBytesOf(it)
    if (oldestMs === undefined || it.publishTime < oldestMs) oldestMs = it.publishTime
  }
  return { entries, payloadBytes, oldestMs }
}

/** What the lanes have read and not had acknowledged, together and per lane (LinkStats' lag figures). */
export function lagOf (lanes: readonly LaneState[]): { entries: number, bytes: number, oldestMs: number | undefined, behind: boolean, lanes: LinkStats['lanes'] } {
  let entries = 0
  let bytes = 0
  let oldestMs: number | undefined
  let behind = false
  const perLane: LinkStats['lanes'] = []
  for (const l of lanes) {
    const queued = pendingOf(l.queue, l.held)
    const p = queued.entries === 0 && l.dropped !== undefined ? l.dropped : queued
    bytes += p.payloadBytes
    if (p.oldestMs !== undefined && (oldestMs === undefined || p.oldestMs < oldestMs)) oldestMs = p.oldestMs
    entries += p.entries
    behind ||= l.behind && l.queue.length > 0
    perLane.push({ lane: l.lane, position: l.position, lagEntries: p.entries })
  }
  return { entries, bytes, oldestMs, behind, lanes: perLane }
}
