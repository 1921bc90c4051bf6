/**
 * Pull consume, ack, nack and delete: the routes under
 * `/v1/topics/{tenant}/{namespace}/{topic...}/subscriptions/{sub}`.
 */
import { FerryError, CommonCode } from '../../common/errors.js'
import { SubscriptionMode } from '../dispatch/types.js'
import { NACK_REASON_CHARS_MAX, PULL_MESSAGES_DEFAULT, PULL_WAIT_MS_DEFAULT, SUBSCRIPTION_NAME_CHARS_MAX } from './constants.js'
import type { HttpContext } from './context.js'
import { encodeDelivery } from './encode.js'
import { parseJsonBody } from './json-body.js'
import { headerOf, type RequestHead, type RequestPlan } from './request.js'
import { bodyBound, parseMessageId, resolveTopic, type TopicRef } from './topic-routes.js'

export interface SubscriptionRef extends TopicRef { subscription: string }

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
  const { namespace, topic } = resolveTopic(ctx, ref)
  const subscription = checkName('subscription name', ref.subscription)
  const q = new URLSearchParams(head.query)
  const max = intParam(q, 'max', Math.min(PULL_MESSAGES_DEFAULT, ctx.limits.pullMessagesMax), 1, ctx.limits.pullMessagesMax)
  const waitMs = intParam(q, 'waitMs', PULL_WAIT_MS_DEFAULT, 0, ctx.limits.pullWaitMsMax)
  const mode = modeParam(q)
  const initialPosition = positionParam(q)
  const consumerName = checkName('consumer name', q.get('consumer') ?? defaultConsumerName(head))
  return {
    ...bodyBound(ctx),
    run: async (_body, abortSignal) => {
      const signal = abortSignal()
      const req = { namespace, local: ref.local, topic, subscription, mode, consumerName, initialPosition, max, waitMs, signal }
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

function parseAckBody (ctx: HttpContext, head: RequestHead, body: Buffer): { entryIds: number[], reason: string | undefined } {
  const doc = parseJsonBody(headerOf(head, 'content-type'), body)
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new FerryError(CommonCode.BAD_REQUEST, 'body must be {"messageIds": [...]}')
  }
  const { messageIds, reason, ...rest } = doc as Record<string, unknown>
  const unknown = Object.keys(rest)
  if (unknown.length > 0) throw new FerryError(CommonCode.BAD_REQUEST, `unknown field ${unknown[0] as string}`)
  if (!Array.isArray(messageIds) || messageIds.length === 0) throw new FerryError(CommonCode.BAD_REQUEST, 'messageIds must be a non-empty list')
  if (messageIds.length > ctx.limits.ackIdsMax) throw new FerryError(CommonCode.TOO_LARGE, `at most ${ctx.limits.ackIdsMax} message ids per request`)
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > NACK_REASON_CHARS_MAX)) {
    throw new FerryError(CommonCode.BAD_REQUEST, `reason must be a string of at most ${NACK_REASON_CHARS_MAX} characters`)
  }
  return { entryIds: messageIds.map(parseMessageId), reason }
}

export function planAck (ctx: HttpContext, head: RequestHead, ref: SubscriptionRef, kind: 'ack' | 'nack'): RequestPlan {
  const { topic } = resolveTopic(ctx, ref)
  const subscription = checkName('subscription name', ref.subscription)
  return {
    ...bodyBound(ctx),
    run: async (body) => {
      const { entryIds, reason } = parseAckBody(ctx, head, body)
      if (kind === 'ack') {
        if (reason !== undefined) throw new FerryError(CommonCode.BAD_REQUEST, 'reason is for nack only')
        await ctx.deps.dispatcher.ack(topic, subscription, entryIds)
        return { status: 200, body: { acked: entryIds.length } }
      }
      await ctx.deps.dispatcher.nack(topic, subscription, entryIds, reason)
      return { status: 200, body: { nacked: entryIds.length } }
    }
  }
}

export function planDeleteSubscription (ctx: HttpContext, ref: SubscriptionRef): RequestPlan {
  const { namespace, topic } = resolveTopic(ctx, ref)
  const subscription = checkName('subscription name', ref.subscription)
  return {
    ...bodyBound(ctx),
    run: async () => {
      // Our own pull consumers first, so no request waits on a subscription that is gone.
      await ctx.pull.closeSubscription(topic, subscription)
      await ctx.deps.dispatcher.unsubscribe(namespace, ref.local, subscription)
      return { status: 200, body: { deleted: true, topic, subscription } }
    }
  }
}
