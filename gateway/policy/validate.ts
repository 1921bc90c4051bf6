import { FerryError, CommonCode } from '../../common/errors.js'
import { BacklogPolicy, Compression, PRIORITY_LEVELS, type NamespacePolicyPatch } from './types.js'

/** Longest redelivery backoff schedule accepted, steps. */
export const REDELIVERY_BACKOFF_STEPS_MAX = 32
/** Largest single timing value accepted in a policy, ms (one year). */
const POLICY_DURATION_MS_MAX = 365 * 24 * 3600 * 1000

const DURABILITIES = new Set(['sync', 'async', 'memory'])
const BACKLOG_POLICIES = new Set<string>(Object.values(BacklogPolicy))

function bad (field: string, why: string): FerryError {
  return new FerryError(CommonCode.BAD_REQUEST, `policy field ${field}: ${why}`, { details: { field } })
}

function intIn (v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw bad(field, `must be an integer in [${min}, ${max}]`)
  }
  return v
}

/**
 * Check an untrusted patch (admin API JSON, config file) field by field and
 * return a clean copy. Unknown fields are refused so typos do not pass silently.
 */
export function validatePolicyPatch (input: unknown): NamespacePolicyPatch {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new FerryError(CommonCode.BAD_REQUEST, 'policy must be a JSON object')
  }
  const out: NamespacePolicyPatch = {}
  for (const [field, v] of Object.entries(input as Record<string, unknown>)) {
    switch (field) {
      case 'durability':
        if (typeof v !== 'string' || !DURABILITIES.has(v)) throw bad(field, 'must be sync, async or memory')
        out.durability = v as NamespacePolicyPatch['durability']
        break
      case 'backlogPolicy':
        if (typeof v !== 'string' || !BACKLOG_POLICIES.has(v)) throw bad(field, `must be one of ${[...BACKLOG_POLICIES].join(', ')}`)
        out.backlogPolicy = v as NamespacePolicyPatch['backlogPolicy']
        break
      case 'retentionMs': out.retentionMs = intIn(v, field, -1, POLICY_DURATION_MS_MAX); break
      case 'retentionBytes': out.retentionBytes = intIn(v, field, -1, Number.MAX_SAFE_INTEGER); break
      case 'messageTtlMs': out.messageTtlMs = intIn(v, field, 0, POLICY_DURATION_MS_MAX); break
      case 'backlogQuotaBytes': out.backlogQuotaBytes = intIn(v, field, -1, Number.MAX_SAFE_INTEGER); break
      case 'maxRedeliveries': out.maxRedeliveries = intIn(v, field, -1, 1_000_000); break
      case 'ackTimeoutMs': out.ackTimeoutMs = intIn(v, field, 0, POLICY_DURATION_MS_MAX); break
      case 'maxMessageBytes': out.maxMessageBytes = intIn(v, field, 1, 64 * 1024 * 1024); break
      case 'publishRateMsgsPerSec': out.publishRateMsgsPerSec = intIn(v, field, 0, 100_000_000); break
      case 'redeliveryBackoffMs':
        if (!Array.isArray(v) || v.length === 0 || v.length > REDELIVERY_BACKOFF_STEPS_MAX) {
          throw bad(field, `must be a list of 1..${REDELIVERY_BACKOFF_STEPS_MAX} durations`)
        }
        out.redeliveryBackoffMs = v.map((x, i) => intIn(x, `${field}[${i}]`, 0, POLICY_DURATION_MS_MAX))
        break
      case 'priorityWeights':
        if (!Array.isArray(v) || v.length !== PRIORITY_LEVELS) throw bad(field, `must list ${PRIORITY_LEVELS} weights`)
        out.priorityWeights = v.map((x, i) => intIn(x, `${field}[${i}]`, 1, 1000))
        break
      // At-rest codec fields (pki helper, gateway/codec).
      case 'compression':
        if (typeof v !== 'string' || !Object.hasOwn(Compression, v)) throw bad(field, 'must be none, deflate or brotli')
        out.compression = v as NamespacePolicyPatch['compression']
        break
      case 'encryptAtRest':
      case 'delayedDeliveryEnabled':
      case 'hardenRedeliveryCount':
      case 'topicMetricsEnabled':
      case 'replicatedSubscriptions': // replsubs
        if (typeof v !== 'boolean') throw bad(field, 'must be true or false')
        out[field] = v
        break
      default:
        throw bad(field, 'unknown field')
    }
  }
  return out
}
