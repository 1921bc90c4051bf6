/**
 * Pull consume, ack, nack and delete: the routes under
 * `/v1/topics/{tenant}/{namespace}/{topic-or-filter...}/subscriptions/{sub}`.
 * The path may name a topic filter (`sensors/%23`, `a/%2B/c`): the
 * subscription then spans every matching topic, and acks name each
 * message's topic (`{"messages": [{"topic", "messageId"}]}`).
 */
import { FerryError, CommonCode } from '../../common/errors.js'
import type { EntryId, TopicName } from '../../store/index.js'
import { SubscriptionMode, filterMatches, isWildcardFilter, parseFilter } from '../dispatch/index.js'
import { checkNamespaceName } from '../policy/index.js'
import { checkPublishTopicLocal, fullTopicName, TOPIC_LOCAL_BYTES_MAX } from '../topic-names.js'
import { NACK_REASON_CHARS_MAX, PULL_LEASE_MS_DEFAULT, PULL_MESSAGES_DEFAULT, PULL_WAIT_MS_DEFAULT, SUBSCRIPTION_NAME_CHARS_MAX } from './constants.js'
import type { HttpContext } from './context.js'
import { encodeDelivery, messageIdOf } from './encode.js'
import { parseJsonBody } from './json-body.js'
import type { LeasedMessage } from './pull-leases.js'
import { headerOf, type RequestHead, type RequestPlan } from './request.js'
import { bodyBound, parseMessageId, type TopicRef } from './topic-routes.js'

export interface SubscriptionRef extends TopicRef { subscription: string }

interface Resolved {
  namespace: string
  /** Local topic or filter. */
  local: string
  /** `namespace/local`: full topic, or the filter in full. */
  topic: string
  /** Levels of a wildcard filter; undefined for a single topic. */
  filterLevels: string[] | undefined
}

/** Namespace (404 if unknown) and the topic or topic filter of a subscription path. */
function resolveSubscriptionTopic (ctx: HttpContext, ref: TopicRef): Resolved {
  const namespace = checkNamespaceName(ref.tenant, ref.namespace)
  ctx.deps.policies.get(namespace)
  let filterLevels: string[] | undefined
  if (isWildcardFilter(ref.local)) {
    if (Buffer.byteLength(ref.local, 'utf8') > TOPIC_LOCAL_BYTES_MAX) {
      throw new FerryError(CommonCode.BAD_REQUEST, `topic filter longer than ${TOPIC_LOCAL_BYTES_MAX} bytes`)
    }
    filterLevels = parseFilter(ref.local)
  } else {
    checkPublishTopicLocal(ref.local)
  }
  return { namespace, local: ref.local, topic: fullTopicName(namespace, ref.local), filterLevels }
}

/** Subscription and consumer names: printable ASCII without spaces, bounded. */
const NAME = /^[A-Za-z0-9_.:@-]+$/

function checkName (what: string, s: string): string {
  if (s.length === 0 || s.length > SUBSCRIPTION_NAME_CHARS_MAX || !NAME.test(s)) {
    throw new FerryError(CommonCode.BAD_REQUEST, `${what} must be 1..${SUBSCRIPTION_NAME_CHARS_MAX} characters of A-Z a-z 0-9 _ . : @ -`)
  }
  return s
}

function intParam (q: URLSearchParams, name: string, dflt: number, min: number, max: number): number {
  const v = q.get(name)
  if (v === null || v === '') return dflt
  if (!/^\d+$/.test(v)) throw new FerryError(CommonCode.BAD_REQUEST, `query parameter ${name} must be an integer`)
  const n = Number(v)
  if (n < min || n > max) throw new FerryError(CommonCode.BAD_REQUEST, `query parameter ${name} must be in [${min}, ${max}]`)
  return n
}

function modeParam (q: URLSearchParams): SubscriptionMode {
  const v = q.get('mode') ?? SubscriptionMode.shared
  if (!Object.hasOwn(SubscriptionMode, v)) {
    throw new FerryError(CommonCode.BAD_REQUEST, `query parameter mode must be one of ${Object.keys(SubscriptionMode).join(', ')}`)
  }
  return v as SubscriptionMode
}

/** `replicated=true`: a geo-replicated subscription (replicator/cursor-sync.ts; docs/REPLICATION.md). */
function replicatedParam (q: URLSearchParams): boolean {
  const v = q.get('replicated')
  if (v === null || v === '' || v === 'false') return false
  if (v !== 'true') throw new FerryError(CommonCode.BAD_REQUEST, 'query parameter replicated must be true or false')
  return true
}

function positionParam (q: URLSearchParams): 'earliest' | 'latest' {
  const v = q.get('position') ?? 'earliest'
  if (v !== 'earliest' && v !== 'latest') throw new FerryError(CommonCode.BAD_REQUEST, 'query parameter position must be earliest or latest')
  return v
}

/** Default consumer name: one per client address, so a client's requests share one consumer across connections. */
function defaultConsumerName (head: RequestHead): string {
  return `http@${head.remoteAddress.replace(/[^A-Za-z0-9_.:-]/g, '_')}`
}

/** How many leading deliveries fit in `bytesMax` payload bytes; at least one, so a large message still moves. */
function countWithinBytes (deliveries: ReadonlyArray<{ payload: Buffer }>, bytesMax: number): number {
  let bytes = 0
  for (let i = 0; i < deliveries.length; i++) {
    bytes += (deliveries[i] as { payload: Buffer }).payload.length
    if (bytes > bytesMax && i > 0) return i
  }
  return deliveries.length
}

export function planPull (ctx: HttpContext, head: RequestHead, ref: SubscriptionRef): RequestPlan {
  const { namespace, topic, local } = resolveSubscriptionTopic(ctx, ref)
  const subscription = checkName('subscription name', ref.subscription)
  const q = new URLSearchParams(head.query)
  const max = intParam(q, 'max', Math.min(PULL_MESSAGES_DEFAULT, ctx.limits.pullMessagesMax), 1, ctx.limits.pullMessagesMax)
  const waitMs = intParam(q, 'waitMs', PULL_WAIT_MS_DEFAULT, 0, ctx.limits.pullWaitMsMax)
  const leaseMs = intParam(q, 'leaseMs', Math.min(PULL_LEASE_MS_DEFAULT, ctx.limits.pullLeaseMsMax), 1, ctx.limits.pullLeaseMsMax)
  const mode = modeParam(q)
  const initialPosition = positionParam(q)
  const replicated = replicatedParam(q)
  const consumerName = checkName('consumer name', q.get('consumer') ?? defaultConsumerName(head))
  return {
    ...bodyBound(ctx),
    run: async (_body, abortSignal) => {
      const signal = abortSignal()
      const req = { namespace, local, topic, subscription, mode, consumerName, initialPosition, replicated, max, waitMs, leaseMs, signal }
      const deliveries = await ctx.pull.pull(req)
      if (signal.aborted) {
        ctx.pull.putBack(req, deliveries)
        return { status: 499, body: null }
      }
      const fits = countWithinBytes(deliveries, ctx.limits.pullResponseBytesMax)
      if (fits < deliveries.length) ctx.pull.putBack(req, deliveries.slice(fits))
      return { status: 200, body: { messages: deliveries.slice(0, fits).map(encodeDelivery) } }
    }
  }
}

/**
 * An ack / nack body: `{"messageIds": [...]}` on a single topic's path, or
 * `{"messages": [{"topic", "messageId"}, ...]}` (required on a filter's path,
 * where ids are per topic; each topic must match the filter).
 */
function parseAckBody (ctx: HttpContext, head: RequestHead, body: Buffer, at: Resolved): { messages: LeasedMessage[], reason: string | undefined, byForm: 'ids' | 'messages' } {
  const doc = parseJsonBody(headerOf(head, 'content-type'), body)
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new FerryError(CommonCode.BAD_REQUEST, 'body must be {"messageIds": [...]} or {"messages": [{"topic", "messageId"}, ...]}')
  }
  const { messageIds, messages, reason, ...rest } = doc as Record<string, unknown>
  const unknown = Object.keys(rest)
  if (unknown.length > 0) throw new FerryError(CommonCode.BAD_REQUEST, `unknown field ${unknown[0] as string}`)
  if ((messageIds === undefined) === (messages === undefined)) throw new FerryError(CommonCode.BAD_REQUEST, 'give exactly one of messageIds, messages')
  const list = messageIds ?? messages
  if (!Array.isArray(list) || list.length === 0) throw new FerryError(CommonCode.BAD_REQUEST, `${messageIds !== undefined ? 'messageIds' : 'messages'} must be a non-empty list`)
  if (list.length > ctx.limits.ackIdsMax) throw new FerryError(CommonCode.TOO_LARGE, `at most ${ctx.limits.ackIdsMax} message ids per request`)
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > NACK_REASON_CHARS_MAX)) {
    throw new FerryError(CommonCode.BAD_REQUEST, `reason must be a string of at most ${NACK_REASON_CHARS_MAX} characters`)
  }
  if (messageIds !== undefined) {
    if (at.filterLevels !== undefined) {
      throw new FerryError(CommonCode.BAD_REQUEST, 'on a topic filter, ack with {"messages": [{"topic", "messageId"}]}: message ids are per topic')
    }
    return { messages: list.map((id) => ({ topic: at.topic, entryId: parseMessageId(id) })), reason, byForm: 'ids' }
  }
  return { messages: list.map((m: unknown) => ackItem(m, at)), reason, byForm: 'messages' }
}

function ackItem (m: unknown, at: Resolved): LeasedMessage {
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new FerryError(CommonCode.BAD_REQUEST, 'messages[] items are {"topic", "messageId"}')
  const { topic, messageId, ...rest } = m as Record<string, unknown>
  if (Object.keys(rest).length > 0 || typeof topic !== 'string') throw new FerryError(CommonCode.BAD_REQUEST, 'messages[] items are {"topic", "messageId"}')
  const prefix = `${at.namespace}/`
  const local = topic.startsWith(prefix) ? topic.slice(prefix.length) : undefined
  const matches = local !== undefined && (at.filterLevels !== undefined ? filterMatches(at.filterLevels, local) : topic === at.topic)
  if (!matches) throw new FerryError(CommonCode.BAD_REQUEST, `topic ${JSON.stringify(topic)} is not covered by ${at.topic}`)
  return { topic, entryId: parseMessageId(messageId) }
}

function byTopic (messages: readonly LeasedMessage[]): Map<TopicName, EntryId[]> {
  const out = new Map<TopicName, EntryId[]>()
  for (const m of messages) {
    const ids = out.get(m.topic)
    if (ids === undefined) out.set(m.topic, [m.entryId])
    else ids.push(m.entryId)
  }
  return out
}

/**
 * Acks and nacks end the messages' leases and go to the subscription. On a
 * filter's path they go through a live pull consumer of that subscription
 * when there is one (it names exactly this subscription); otherwise to the
 * dispatcher's subscription-level ack, which picks the subscription of that
 * name on the exact topic, else the oldest whose filter matches.
 */
export function planAck (ctx: HttpContext, head: RequestHead, ref: SubscriptionRef, kind: 'ack' | 'nack'): RequestPlan {
  const at = resolveSubscriptionTopic(ctx, ref)
  const subscription = checkName('subscription name', ref.subscription)
  return {
    ...bodyBound(ctx),
    run: async (body) => {
      const { messages, reason, byForm } = parseAckBody(ctx, head, body, at)
      if (kind === 'ack' && reason !== undefined) throw new FerryError(CommonCode.BAD_REQUEST, 'reason is for nack only')
      const viaConsumer = at.filterLevels !== undefined ? ctx.pull.consumerOf(at.topic, subscription) : undefined
      let acked = 0
      const unknown: LeasedMessage[] = []
      for (const [topic, ids] of byTopic(messages)) {
        if (kind === 'ack') {
          const results = viaConsumer !== undefined
            ? await Promise.all(ids.map(async (id) => await viaConsumer.ack(topic, id)))
            : [await ctx.deps.dispatcher.ack(topic, subscription, ids)]
          for (const r of results) {
            acked += r.acked
            for (const entryId of r.unknown) unknown.push({ topic, entryId })
          }
        } else if (viaConsumer !== undefined) {
          for (const id of ids) viaConsumer.nack(topic, id, reason)
        } else {
          await ctx.deps.dispatcher.nack(topic, subscription, ids, reason)
        }
      }
      // Leases end only once the ack or nack went through: a failed one leaves them to redeliver.
      ctx.pull.settled(at.topic, subscription, messages)
      if (kind === 'nack') return { status: 200, body: { nacked: messages.length } }
      // Only real acknowledgements count; ids that were not unacknowledged messages (never
      // existed, already acked, gone) come back in `unknown`, in the form they were given.
      const reply: { acked: number, unknown?: unknown[] } = { acked }
      if (unknown.length > 0) {
        reply.unknown = byForm === 'ids' ? unknown.map((m) => messageIdOf(m.entryId)) : unknown.map((m) => ({ topic: m.topic, messageId: messageIdOf(m.entryId) }))
      }
      return { status: 200, body: reply }
    }
  }
}

export function planDeleteSubscription (ctx: HttpContext, ref: SubscriptionRef): RequestPlan {
  const { namespace, topic, local } = resolveSubscriptionTopic(ctx, ref)
  const subscription = checkName('subscription name', ref.subscription)
  return {
    ...bodyBound(ctx),
    run: async () => {
      // Our own pull consumers first, so no request waits on a subscription that is gone.
      await ctx.pull.closeSubscription(topic, subscription)
      await ctx.deps.dispatcher.unsubscribe(namespace, local, subscription)
      return { status: 200, body: { deleted: true, topic, subscription } }
    }
  }
}
