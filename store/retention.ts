/**
 * Which entries of a topic retention may delete.
 *
 * An entry is deletable when it is (acknowledged by every durable cursor of
 * its topic — vacuously true without durable cursors — or expired by ttlMs)
 * and past the retention limits: older than retentionMs (when >= 0) or outside
 * the newest retentionBytes of deletable bytes (when >= 0). With both limits
 * -1 nothing is ever deleted. Only the mark-delete position counts as
 * "acknowledged" here; individually acknowledged entries above it wait.
 * Every rule above selects a prefix of the topic, so the result is one entry id.
 */
import type { TopicState } from './topic-state.js'
import type { TopicStorePolicy } from './types.js'

/**
 * First entry id retention must keep. `firstNotOlderThan(ms)` returns the
 * first entry whose time is >= ms (every earlier entry is older), as precisely
 * as the caller knows times (the file ledger knows them per segment).
 */
export function firstNeededEntry (t: TopicState, policy: TopicStorePolicy, nowMs: number, firstNotOlderThan: (ms: number) => number): number {
  const first = t.index.first
  const next = t.index.next
  if (policy.retentionMs === -1 && policy.retentionBytes === -1) return first
  const ackFloor = t.durableAckFloor() ?? next
  const ttlFloor = policy.ttlMs > 0 ? firstNotOlderThan(nowMs - policy.ttlMs) : first
  const deletable = Math.min(next, Math.max(ackFloor, ttlFloor))
  if (deletable <= first) return first
  let pastRetention = first
  if (policy.retentionMs === 0) pastRetention = deletable // "as soon as possible"
  else if (policy.retentionMs > 0) pastRetention = Math.max(pastRetention, firstNotOlderThan(nowMs - policy.retentionMs))
  if (policy.retentionBytes >= 0) pastRetention = Math.max(pastRetention, t.index.firstWithBytesAfterAtMost(policy.retentionBytes, deletable))
  return Math.max(first, Math.min(deletable, pastRetention))
}
