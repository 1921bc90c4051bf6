/**
 * Topics and their subscriptions: topic stats, message peek, and the
 * subscription operations (create, delete, reset the cursor to a time or an
 * id, skip, peek, clear the backlog). Subscriptions are addressed on a topic
 * by name; `?filter=` names a wildcard subscription's filter.
 *
 * Reset moves a cursor to a message id or a time, either way: forward it
 * acknowledges what lies before the target (dispatcher.ackUpTo, individual
 * acks above it stay); backward it drops the acknowledgements after the
 * target (dispatcher.rewindTo, store/cursor-reset.ts), so everything from the
 * target on is delivered again, acknowledged messages too. A target before
 * the topic's first stored message (retention removed the rest) starts at
 * the first one.
 */
import { FerryError, CommonCode } from '../../common/errors.js'
import type { Cursor, EntryId, TopicName } from '../../store/index.js'
import { SubscriptionMode, type SubscriptionStats } from '../dispatch/index.js'
import type { OpsContext } from './context.js'
import { PEEK_MESSAGES_DEFAULT, PEEK_MESSAGES_MAX, SKIP_MESSAGES_PER_REQUEST_MAX, TIME_SEARCH_STEPS_MAX } from './constants.js'
import { topicView } from './namespace-routes.js'
import { bad, bodyObject, intField, intQuery, onlyFields, param, topicParam } from './params.js'
import { messageView, nthUnacked, readFrom, unacked } from './peek.js'
import { ok, type OpsRequest, type OpsRoute } from './route-table.js'

const TOPIC = '/v1/admin/topics/{tenant}/{namespace}/{topic}'
const SUB = `${TOPIC}/subscriptions/{subscription}`
/** Subscription names: the HTTP API's characters, plus the MQTT filter characters of session subscriptions (`mqtt:{clientId}:{filter}`). */
const NAME = /^[A-Za-z0-9_.:@/+#$-]{1,256}$/

interface SubRef { namespace: string, local: string, topic: TopicName, name: string, filter: string }

function subRef (ctx: OpsContext, req: OpsRequest): SubRef {
  const t = topicParam(ctx, req)
  const name = param(req, 'subscription')
  if (!NAME.test(name)) throw bad('subscription name must be 1..256 characters of A-Z a-z 0-9 _ . : @ - / + # $ (percent-encode / in the URL)')
  const filter = req.query.get('filter') ?? t.local
  return { ...t, name, filter }
}

function statsOf (ctx: OpsContext, r: SubRef): SubscriptionStats {
  const s = ctx.dispatcher.stats().subscriptions.find((x) => x.namespace === r.namespace && x.subscription === r.name && x.filter === r.filter)
  if (s === undefined) throw new FerryError(CommonCode.NOT_FOUND, `no subscription '${r.name}' with filter '${r.filter}' in ${r.namespace}`)
  return s
}

/** The subscription's cursor on this topic (the dispatcher names it after the subscription; `name NUL filter` for wildcards). */
function cursorOf (ctx: OpsContext, r: SubRef): Cursor {
  statsOf(ctx, r)
  const name = r.filter === r.local ? r.name : `${r.name}\u0000${r.filter}`
  const c = ctx.ledger.cursors(r.topic).find((x) => x.subscription === name)
  if (c === undefined) throw new FerryError(CommonCode.NOT_FOUND, `subscription '${r.name}' has no cursor on ${r.topic} yet (no message since it was created)`)
  return c
}

function subscriptionView (ctx: OpsContext, r: SubRef): Record<string, unknown> {
  const s = statsOf(ctx, r)
  const c = ctx.ledger.cursors(r.topic).find((x) => x.subscription === (r.filter === r.local ? r.name : `${r.name}\u0000${r.filter}`))
  return { ...s, topic: r.local, markDelete: c === undefined ? null : String(c.markDelete()), topicBacklog: c?.backlogEntries() ?? 0 }
}

/** First entry id whose publish time is at or after `timeMs` (binary search; publish times ascend within a topic). */
async function firstAtOrAfter (ctx: OpsContext, topic: TopicName, timeMs: number): Promise<EntryId> {
  const info = ctx.ledger.topicInfo(topic)
  if (info === undefined) return 0
  let lo = info.firstEntryId
  let hi = info.nextEntryId
  for (let step = 0; lo < hi && step < TIME_SEARCH_STEPS_MAX; step++) {
    const mid = Math.floor((lo + hi) / 2)
    const e = await ctx.ledger.readOne(topic, mid)
    if (e === undefined || e.publishTime < timeMs) lo = mid + 1
    else hi = mid
  }
  return lo
}

function timeField (v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v
  if (typeof v === 'string') {
    const t = Date.parse(v)
    if (!Number.isNaN(t)) return t
  }
  throw bad('time must be epoch milliseconds or an ISO 8601 date')
}

export const topicRoutes: OpsRoute[] = [
  {
    method: 'GET',
    path: TOPIC,
    operationId: 'getTopic',
    admin: true,
    handle: (ctx, req) => {
      const t = topicParam(ctx, req)
      const info = ctx.ledger.topicInfo(t.topic)
      if (info === undefined) throw new FerryError(CommonCode.NOT_FOUND, `topic ${t.topic} has no messages`)
      const subscriptions = ctx.dispatcher.stats().subscriptions
        .filter((s) => s.namespace === t.namespace && s.filter === t.local)
        .map((s) => subscriptionView(ctx, { ...t, name: s.subscription, filter: s.filter }))
      const p = ctx.producers.of(t.topic)
      return ok({ ...topicView(ctx, t.namespace, info), subscriptionList: subscriptions, producerList: p.producers, producersDropped: p.dropped })
    }
  },
  {
    method: 'GET',
    path: `${TOPIC}/messages`,
    operationId: 'peekTopicMessages',
    admin: true,
    handle: async (ctx, req) => {
      const t = topicParam(ctx, req)
      const from = intQuery(req, 'from', 0, 0, Number.MAX_SAFE_INTEGER)
      const max = intQuery(req, 'max', PEEK_MESSAGES_DEFAULT, 1, PEEK_MESSAGES_MAX)
      return ok({ topic: t.local, messages: (await readFrom(ctx.ledger, t.topic, from, max)).map(messageView) })
    }
  },
  {
    method: 'GET',
    path: SUB,
    operationId: 'getSubscription',
    admin: true,
    handle: (ctx, req) => ok(subscriptionView(ctx, subRef(ctx, req)))
  },
  {
    method: 'PUT',
    path: SUB,
    operationId: 'createSubscription',
    admin: true,
    jsonBody: true,
    handle: async (ctx, req) => {
      const r = subRef(ctx, req)
      const b = bodyObject(req)
      onlyFields(b, ['mode', 'position'])
      const mode = b.mode ?? SubscriptionMode.shared
      if (typeof mode !== 'string' || !Object.hasOwn(SubscriptionMode, mode)) throw bad(`mode must be one of ${Object.keys(SubscriptionMode).join(', ')}`)
      const position = b.position ?? 'latest'
      if (position !== 'latest' && position !== 'earliest') throw bad('position must be latest or earliest')
      const existed = ctx.dispatcher.stats().subscriptions.some((s) => s.namespace === r.namespace && s.subscription === r.name && s.filter === r.filter)
      // A durable subscription outlives its consumers: attach one without permits, then detach.
      const consumer = await ctx.dispatcher.subscribe({
        namespace: r.namespace, filter: r.filter, subscription: r.name, mode: mode as SubscriptionMode, durable: true,
        initialPosition: position, consumerName: 'ferry-admin', permits: 0, sink: { deliver: () => undefined }
      })
      await consumer.close()
      ctx.logger.info({ namespace: r.namespace, filter: r.filter, subscription: r.name, mode, position }, 'subscription created by admin')
      return ok(subscriptionView(ctx, r), existed ? 200 : 201)
    }
  },
  {
    method: 'DELETE',
    path: SUB,
    operationId: 'adminDeleteSubscription',
    admin: true,
    handle: async (ctx, req) => {
      const r = subRef(ctx, req)
      await ctx.dispatcher.unsubscribe(r.namespace, r.filter, r.name)
      ctx.logger.info({ namespace: r.namespace, filter: r.filter, subscription: r.name }, 'subscription deleted by admin')
      return ok({ deleted: true, topic: r.local, subscription: r.name })
    }
  },
  {
    method: 'GET',
    path: `${SUB}/peek`,
    operationId: 'peekSubscription',
    admin: true,
    handle: async (ctx, req) => {
      const r = subRef(ctx, req)
      const max = intQuery(req, 'max', PEEK_MESSAGES_DEFAULT, 1, PEEK_MESSAGES_MAX)
      const c = cursorOf(ctx, r)
      return ok({ topic: r.local, subscription: r.name, messages: (await unacked(ctx.ledger, c, max)).map(messageView) })
    }
  },
  {
    method: 'POST',
    path: `${SUB}/skip`,
    operationId: 'skipMessages',
    admin: true,
    jsonBody: true,
    handle: async (ctx, req) => {
      const r = subRef(ctx, req)
      const b = bodyObject(req)
      onlyFields(b, ['count'])
      const count = intField(b, 'count', 1, SKIP_MESSAGES_PER_REQUEST_MAX)
      if (count === undefined) throw bad('count is required')
      const c = cursorOf(ctx, r)
      const n = nthUnacked(ctx.ledger, c, count)
      if (n !== undefined) await ctx.dispatcher.ackUpTo(r.topic, r.name, n.upTo)
      return ok({ skipped: n?.skipped ?? 0, backlog: c.backlogEntries() })
    }
  },
  {
    method: 'POST',
    path: `${SUB}/clear`,
    operationId: 'clearBacklog',
    admin: true,
    handle: async (ctx, req) => {
      const r = subRef(ctx, req)
      const c = cursorOf(ctx, r)
      const before = c.backlogEntries()
      const info = ctx.ledger.topicInfo(r.topic)
      if (info !== undefined && info.nextEntryId > 0 && before > 0) await ctx.dispatcher.ackUpTo(r.topic, r.name, info.nextEntryId - 1)
      ctx.logger.info({ topic: r.topic, subscription: r.name, cleared: before }, 'backlog cleared by admin')
      return ok({ cleared: before - c.backlogEntries(), backlog: c.backlogEntries() })
    }
  },
  {
    method: 'POST',
    path: `${SUB}/reset`,
    operationId: 'resetCursor',
    admin: true,
    jsonBody: true,
    handle: async (ctx, req) => {
      const r = subRef(ctx, req)
      const b = bodyObject(req)
      onlyFields(b, ['messageId', 'time'])
      if ((b.messageId === undefined) === (b.time === undefined)) throw bad('give exactly one of messageId (the next message to deliver) or time')
      const c = cursorOf(ctx, r)
      let target: EntryId
      if (b.messageId !== undefined) {
        const s = typeof b.messageId === 'number' ? String(b.messageId) : b.messageId
        if (typeof s !== 'string' || !/^\d{1,15}$/.test(s)) throw bad('messageId must be a decimal message id')
        target = Number(s)
      } else {
        target = await firstAtOrAfter(ctx, r.topic, timeField(b.time))
      }
      const md = c.markDelete()
      const info = ctx.ledger.topicInfo(r.topic)
      target = Math.max(Math.min(target, info?.nextEntryId ?? 0), info?.firstEntryId ?? 0)
      // Backward: at or before the acknowledged point, or with acknowledged messages after the target.
      const backward = target <= md || c.ackedRanges().some(([, hi]) => hi >= target)
      if (backward) target = (await ctx.dispatcher.rewindTo(r.topic, r.name, target - 1)) + 1
      else if (target - 1 > md) await ctx.dispatcher.ackUpTo(r.topic, r.name, target - 1)
      ctx.logger.info({ topic: r.topic, subscription: r.name, nextMessageId: target, direction: backward ? 'backward' : 'forward' }, 'cursor reset by admin')
      return ok({ nextMessageId: String(target), direction: backward ? 'backward' : 'forward', markDelete: String(c.markDelete()), backlog: c.backlogEntries() })
    }
  }
]
