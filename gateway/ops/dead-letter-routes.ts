/**
 * Dead letters: list a namespace's dead-letter topics with their original
 * topic and subscription, peek what has not been replayed, and replay it to
 * the original topic.
 *
 * Replay reads the DLQ through a durable cursor of its own (REPLAY_CURSOR),
 * publishes each message to the original topic with its original properties
 * (the dead-letter reason dropped), and acknowledges it on that cursor once
 * the publish is durable: a crash between the two replays it again (at least
 * once), never loses it. What is pending is what that cursor has not acked.
 */
import { FerryError, CommonCode } from '../../common/errors.js'
import type { Cursor, LedgerEntry, MessageProps, TopicName } from '../../store/index.js'
import { sanitiseSubscriptionName } from '../dispatch/index.js'
import type { OpsContext } from './context.js'
import { PEEK_MESSAGES_DEFAULT, PEEK_MESSAGES_MAX, REPLAY_MESSAGES_PER_REQUEST_MAX } from './constants.js'
import { OpsCode } from './errors.js'
import { bad, bodyObject, intField, intQuery, namespaceParam, onlyFields, topicParam } from './params.js'
import { messageView, unacked } from './peek.js'
import { ok, type OpsRoute } from './route-table.js'
import { topicsOf } from './topic-scan.js'
import { checkPublishTopicLocal, fullTopicName } from '../topic-names.js'

export const REPLAY_CURSOR = '$ferry-dlq-replay'
const DLQ_SUFFIX = '-DLQ'
/** Dead-letter topics listed per namespace. */
const DLQ_LISTED_MAX = 1000

interface DlqOrigin { originalTopic: string | undefined, subscription: string | undefined }

/** Original topic and subscription of a DLQ (local names): the longest suffix of a known subscription wins. */
function originOf (ctx: OpsContext, namespace: string, dlqLocal: string): DlqOrigin {
  let best: DlqOrigin = { originalTopic: undefined, subscription: undefined }
  let bestLen = 0
  for (const s of ctx.dispatcher.stats().subscriptions) {
    if (s.namespace !== namespace) continue
    const suffix = `-${sanitiseSubscriptionName(s.subscription)}${DLQ_SUFFIX}`
    if (dlqLocal.endsWith(suffix) && suffix.length > bestLen && dlqLocal.length > suffix.length) {
      best = { originalTopic: dlqLocal.slice(0, -suffix.length), subscription: s.subscription }
      bestLen = suffix.length
    }
  }
  if (best.originalTopic !== undefined) return best
  // The subscription is gone: assume its name had no '-'.
  const m = /^(.+)-([A-Za-z0-9._]+)-DLQ$/.exec(dlqLocal)
  return m === null ? best : { originalTopic: m[1], subscription: m[2] }
}

async function replayCursor (ctx: OpsContext, dlq: TopicName): Promise<Cursor> {
  return await ctx.ledger.cursor(dlq, REPLAY_CURSOR, { durable: true, start: { kind: 'earliest' } })
}

function pendingOf (ctx: OpsContext, dlq: TopicName): number {
  const c = ctx.ledger.cursors(dlq).find((x) => x.subscription === REPLAY_CURSOR)
  if (c !== undefined) return c.backlogEntries()
  const info = ctx.ledger.topicInfo(dlq)
  return info === undefined ? 0 : info.nextEntryId - info.firstEntryId
}

function dlqParam (ctx: OpsContext, req: Parameters<OpsRoute['handle']>[1]): { namespace: string, local: string, topic: TopicName } {
  const t = topicParam(ctx, req)
  if (!t.local.endsWith(DLQ_SUFFIX)) throw bad(`${t.local} is not a dead-letter topic (name ends in ${DLQ_SUFFIX})`)
  if (ctx.ledger.topicInfo(t.topic) === undefined) throw new FerryError(CommonCode.NOT_FOUND, `dead-letter topic ${t.topic} has no messages`)
  return t
}

function originalProps (p: MessageProps): MessageProps {
  const { deadLetterReason, ...rest } = p
  return rest
}

export const deadLetterRoutes: OpsRoute[] = [
  {
    method: 'GET',
    path: '/v1/admin/namespaces/{tenant}/{namespace}/dead-letters',
    operationId: 'listDeadLetterTopics',
    admin: true,
    handle: async (ctx, req) => {
      const ns = namespaceParam(req)
      ctx.policies.get(ns)
      const { topics } = await topicsOf(ctx.ledger, ns, Number.MAX_SAFE_INTEGER)
      const dlqs = topics.filter((t) => t.topic.endsWith(DLQ_SUFFIX)).slice(0, DLQ_LISTED_MAX).map((t) => {
        const local = t.topic.slice(ns.length + 1)
        return { topic: local, ...originOf(ctx, ns, local), total: t.nextEntryId - t.firstEntryId, pending: pendingOf(ctx, t.topic) }
      })
      return ok({ namespace: ns, deadLetterTopics: dlqs })
    }
  },
  {
    method: 'GET',
    path: '/v1/admin/dead-letters/{tenant}/{namespace}/{topic}',
    operationId: 'peekDeadLetters',
    admin: true,
    handle: async (ctx, req) => {
      const d = dlqParam(ctx, req)
      const max = intQuery(req, 'max', PEEK_MESSAGES_DEFAULT, 1, PEEK_MESSAGES_MAX)
      const c = await replayCursor(ctx, d.topic)
      const messages = (await unacked(ctx.ledger, c, max)).map((e) => ({ ...messageView(e), reason: e.props.deadLetterReason ?? null }))
      return ok({ topic: d.local, ...originOf(ctx, d.namespace, d.local), pending: c.backlogEntries(), messages })
    }
  },
  {
    method: 'POST',
    path: '/v1/admin/dead-letters/{tenant}/{namespace}/{topic}/replay',
    operationId: 'replayDeadLetters',
    admin: true,
    jsonBody: true,
    handle: async (ctx, req) => {
      const d = dlqParam(ctx, req)
      const b = bodyObject(req)
      onlyFields(b, ['max', 'topic'])
      const max = intField(b, 'max', 1, REPLAY_MESSAGES_PER_REQUEST_MAX) ?? REPLAY_MESSAGES_PER_REQUEST_MAX
      let target = originOf(ctx, d.namespace, d.local).originalTopic
      if (b.topic !== undefined) {
        if (typeof b.topic !== 'string') throw bad('topic must be a string (local to the namespace)')
        target = b.topic
      }
      if (target === undefined) throw new FerryError(OpsCode.DLQ_ORIGIN_UNKNOWN, `cannot tell the original topic of ${d.local}; give it as "topic" in the body`)
      checkPublishTopicLocal(target)
      const original = fullTopicName(d.namespace, target)
      const c = await replayCursor(ctx, d.topic)
      const entries: LedgerEntry[] = await unacked(ctx.ledger, c, max)
      // One turn: the publishes share group commits. Ack only what is durable.
      const settled = await Promise.allSettled(entries.map(async (e) => await ctx.dispatcher.publish({ topic: original, payload: Buffer.from(e.payload), props: originalProps(e.props) })))
      const done = entries.filter((_, i) => settled[i]?.status === 'fulfilled').map((e) => e.entryId)
      if (done.length > 0) await c.ack(done)
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
      ctx.logger.info({ dlq: d.topic, to: original, replayed: done.length }, 'dead letters replayed')
      if (failed !== undefined && done.length === 0) throw failed.reason
      return ok({ replayed: done.length, failed: entries.length - done.length, remaining: c.backlogEntries(), topic: target })
    }
  }
]
