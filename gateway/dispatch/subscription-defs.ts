/**
 * Checks of what front ends pass in (subscribe options, message props) and
 * the persisted form of a durable subscription (ledger meta space
 * `subscription`).
 */
import { CommonCode, FerryError } from '../../common/errors.js'
import type { MessageProps, MetaValue } from '../../store/index.js'
import { PRIORITY_LEVELS } from '../policy/index.js'
import { CONSUMER_NAME_CHARS_MAX, CONSUMER_PERMITS_MAX, SUBSCRIPTION_NAME_CHARS_MAX } from './constants.js'
import { parseFilter } from './filter.js'
import type { SubscriptionDef } from './subscription.js'
import { SubscriptionMode, type SubscribeOptions } from './types.js'

const MODES = new Set<string>(Object.values(SubscriptionMode))


export function checkSubscribeOptions (o: SubscribeOptions): void {
  const bad = (why: string): FerryError => new FerryError(CommonCode.BAD_REQUEST, why)
  if (typeof o.subscription !== 'string' || o.subscription.length === 0 || o.subscription.length > SUBSCRIPTION_NAME_CHARS_MAX || o.subscription.includes('\u0000')) {
    throw bad(`subscription name must be 1..${SUBSCRIPTION_NAME_CHARS_MAX} characters without NUL`)
  }
  if (!MODES.has(o.mode)) throw bad(`unknown subscription mode '${String(o.mode)}'`)
  if (o.initialPosition !== 'latest' && o.initialPosition !== 'earliest') throw bad('initialPosition must be latest or earliest')
  if (typeof o.consumerName !== 'string' || o.consumerName.length > CONSUMER_NAME_CHARS_MAX) throw bad(`consumer name must be at most ${CONSUMER_NAME_CHARS_MAX} characters`)
  if (!Number.isInteger(o.permits) || o.permits < 0 || o.permits > CONSUMER_PERMITS_MAX) throw bad(`permits must be an integer in [0, ${CONSUMER_PERMITS_MAX}]`)
  if (o.consumerPriority !== undefined && !Number.isInteger(o.consumerPriority)) throw bad('consumerPriority must be an integer')
  if (typeof o.sink?.deliver !== 'function') throw bad('a consumer needs a sink with deliver()')
  if (o.replicated !== undefined && typeof o.replicated !== 'boolean') throw bad('replicated must be a boolean')
  if (o.replicated === true && !o.durable) throw bad('a replicated subscription must be durable')
}

function bad (why: string): FerryError { return new FerryError(CommonCode.BAD_REQUEST, why) }

// Called per publish: no closure per call (fanin, issue 11).
export function checkProps (p: MessageProps): void {
  if (p.priority !== undefined && (!Number.isInteger(p.priority) || p.priority < 0 || p.priority >= PRIORITY_LEVELS)) throw bad(`priority must be an integer 0..${PRIORITY_LEVELS - 1}`)
  if (p.deliverAt !== undefined && (!Number.isFinite(p.deliverAt) || p.deliverAt < 0)) throw bad('deliverAt must be epoch milliseconds')
  if (p.expiresAt !== undefined && (!Number.isFinite(p.expiresAt) || p.expiresAt < 0)) throw bad('expiresAt must be epoch milliseconds')
}

export function defToMeta (def: SubscriptionDef): MetaValue {
  return { namespace: def.namespace, filter: def.filter, name: def.name, mode: def.mode, initialPosition: def.initialPosition, createdLsn: def.createdLsn, ...(def.replicated === true ? { replicated: true } : {}) }
}

export function parseDef (v: MetaValue): SubscriptionDef | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || Buffer.isBuffer(v)) return undefined
  const o = v as Record<string, MetaValue | undefined>
  const { namespace, filter, name, mode, initialPosition, createdLsn, replicated } = o
  if (typeof namespace !== 'string' || typeof filter !== 'string' || typeof name !== 'string' || typeof mode !== 'string' || !MODES.has(mode)) return undefined
  if (typeof createdLsn !== 'number' || (initialPosition !== 'latest' && initialPosition !== 'earliest')) return undefined
  try { parseFilter(filter) } catch { return undefined }
  return { namespace, filter, name, mode: mode as SubscriptionMode, durable: true, initialPosition, createdLsn, ...(replicated === true ? { replicated: true } : {}) }
}
