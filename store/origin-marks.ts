/**
 * Replication positions, kept in the ledger's metadata so that checkpoints
 * and replay carry them like any other state. O(sites), never O(topics).
 *
 * - `repl-in` / sender site -> { lsn }: the position this site holds for the
 *   link from that sender: the lsn (in the sender's log) of the last record
 *   of that link applied here. It is the high-water mark of idempotent
 *   apply: a batch must start right after it (apache/pulsar#26113), and it
 *   moves only forward.
 *
 *   It is durable in the same group commit as the entries it covers because
 *   it is *derived from them*: every replicated message record carries
 *   `replicatedLsn` and `replicatedVia` (the sender is the last site), and
 *   applying such a record (live or in replay) raises the mark. A crash that
 *   keeps a prefix of a batch keeps exactly the mark of that prefix; there is
 *   no separate mark record that could survive without its entries, or be
 *   lost while they survive. A batch that covers only records the link skips
 *   (nothing to ship) advances the mark by an explicit meta record.
 *
 * - `repl-out` / destination site -> { lsn }: how far this site knows a link
 *   has been applied remotely (the remote's answer). The retention floor:
 *   segments holding records after the lowest of these are kept, so TTL and
 *   retention never delete what a link has not shipped (apache/pulsar#21865).
 *   Removing a destination (the link's key) releases its floor.
 */
import type { Lsn, MessageProps, MetaValue } from './types.js'

export const REPL_IN_SPACE = 'repl-in'

/**
 * Lanes of a link (the transactional middleware's send queue with priority):
 * control records (retained values), high-priority messages and the rest
 * travel on separate positions, so a priority-9 message published behind a
 * large priority-0 backlog does not wait for it. FIFO within a lane; per key
 * within a lane. Positions are per (site, lane): O(sites).
 */
export const Lane = { control: 0, high: 1, normal: 2 } as const
export type Lane = typeof Lane[keyof typeof Lane]
export const LANES: readonly Lane[] = [Lane.control, Lane.high, Lane.normal]
/** Messages of this priority and above take the high lane. */
export const HIGH_LANE_PRIORITY_MIN = 7

export function laneOfPriority (priority: number | undefined): Lane {
  return (priority ?? 4) >= HIGH_LANE_PRIORITY_MIN ? Lane.high : Lane.normal
}

/** Key of a (site, lane) position: the normal lane is the site id itself. */
export function laneKey (site: string, lane: Lane): string {
  return lane === Lane.normal ? site : `${site}#${lane}`
}
export const REPL_OUT_SPACE = 'repl-out'

type MetaMap = Map<string, Map<string, MetaValue>>

function lsnOfValue (v: MetaValue | undefined): Lsn | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || Buffer.isBuffer(v)) return undefined
  const lsn = (v as { lsn?: unknown }).lsn
  return typeof lsn === 'number' ? lsn : undefined
}

/** The position a value of either space holds; -1 when absent. */
export function positionOf (v: MetaValue | undefined): Lsn {
  return lsnOfValue(v) ?? -1
}

export function positionValue (lsn: Lsn): MetaValue {
  return { lsn }
}

/**
 * Called by the ledger for every message record it applies (live and in
 * replay): a replicated entry raises its link's inbound mark.
 */
export function noteReplicatedEntry (meta: MetaMap, props: MessageProps): void {
  const lsn = props.replicatedLsn
  const via = props.replicatedVia
  if (lsn === undefined || via === undefined || via.length === 0) return
  const sender = laneKey(via[via.length - 1] as string, laneOfPriority(props.priority))
  let space = meta.get(REPL_IN_SPACE)
  if (space === undefined) { space = new Map(); meta.set(REPL_IN_SPACE, space) }
  if (positionOf(space.get(sender)) < lsn) space.set(sender, positionValue(lsn))
}

/** Lowest outbound position over every link (the retention floor), or undefined without links. */
export function replicationFloorLsn (meta: MetaMap): Lsn | undefined {
  const space = meta.get(REPL_OUT_SPACE)
  if (space === undefined) return undefined
  let floor: Lsn | undefined
  for (const v of space.values()) {
    const p = positionOf(v)
    if (floor === undefined || p < floor) floor = p
  }
  return floor
}
