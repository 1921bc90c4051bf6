/** Namespaces and their policies (list, get, put, delete), and per-namespace listings of topics and subscriptions. */
import { FerryError } from '../../common/errors.js'
import type { TopicInfo } from '../../store/index.js'
import type { OpsContext } from './context.js'
import { TOPICS_LISTED_MAX } from './constants.js'
import { OpsCode } from './errors.js'
import { bad, intQuery, namespaceParam } from './params.js'
import { ok, type OpsRoute } from './route-table.js'
import { topicsOf } from './topic-scan.js'

/** One topic as listings show it: stored range, bytes, rates, backlog and subscriptions. */
export function topicView (ctx: OpsContext, namespace: string, info: TopicInfo): Record<string, unknown> {
  const local = info.topic.slice(namespace.length + 1)
  const cursors = ctx.ledger.cursors(info.topic)
  let backlog = 0
  for (const c of cursors) backlog += c.backlogEntries()
  let delivered = 0
  const subs = ctx.dispatcher.stats().subscriptions.filter((s) => s.namespace === namespace && s.filter === local)
  for (const s of subs) delivered += s.delivered
  return {
    topic: local,
    fullName: info.topic,
    durability: info.durability,
    firstMessageId: String(info.firstEntryId),
    nextMessageId: String(info.nextEntryId),
    storedMessages: info.nextEntryId - info.firstEntryId,
    storedBytes: info.storedBytes,
    backlog,
    subscriptions: cursors.length,
    producers: ctx.producers.count(info.topic),
    rateInPerSec: ctx.rates.rate(`in\u0000${info.topic}`, info.nextEntryId) ?? 0,
    // Deliveries of subscriptions whose filter names exactly this topic (wildcard ones span many topics and count apart).
    rateOutPerSec: ctx.rates.rate(`out\u0000${info.topic}`, delivered) ?? 0
  }
}

export const namespaceRoutes: OpsRoute[] = [
  {
    method: 'GET',
    path: '/v1/admin/namespaces',
    operationId: 'listNamespaces',
    admin: true,
    handle: (ctx) => ok({ namespaces: ctx.policies.namespaces().sort() })
  },
  {
    method: 'GET',
    path: '/v1/admin/namespaces/{tenant}/{namespace}',
    operationId: 'getNamespace',
    admin: true,
    handle: (ctx, req) => {
      const ns = namespaceParam(req)
      return ok({ namespace: ns, policy: ctx.policies.get(ns) })
    }
  },
  {
    method: 'PUT',
    path: '/v1/admin/namespaces/{tenant}/{namespace}',
    operationId: 'putNamespace',
    admin: true,
    jsonBody: true,
    handle: async (ctx, req) => {
      const ns = namespaceParam(req)
      if (req.body === undefined) throw bad('body must be a JSON object of policy fields ({} for the defaults)')
      const existed = ctx.policies.has(ns)
      const policy = await ctx.policies.put(ns, req.body)
      ctx.logger.info({ namespace: ns, patch: req.body }, existed ? 'namespace policy changed' : 'namespace created')
      return ok({ namespace: ns, policy }, existed ? 200 : 201)
    }
  },
  {
    method: 'DELETE',
    path: '/v1/admin/namespaces/{tenant}/{namespace}',
    operationId: 'deleteNamespace',
    admin: true,
    handle: async (ctx, req) => {
      const ns = namespaceParam(req)
      ctx.policies.get(ns) // 404 when unknown
      const force = req.query.get('force') === 'true'
      const subs = ctx.dispatcher.stats().subscriptions.filter((s) => s.namespace === ns).length
      const stored = (await ctx.scanner.scan(true)).byNamespace.get(ns)?.storedMessages ?? 0
      if (!force && (subs > 0 || stored > 0)) {
        throw new FerryError(OpsCode.NAMESPACE_NOT_EMPTY, `namespace ${ns} still has ${subs} subscriptions and ${stored} stored messages; delete them first or pass ?force=true (stored messages then fall under the default policy until retention removes them)`)
      }
      await ctx.policies.delete(ns)
      ctx.logger.info({ namespace: ns, force }, 'namespace deleted')
      return ok({ deleted: true, namespace: ns })
    }
  },
  {
    method: 'GET',
    path: '/v1/admin/namespaces/{tenant}/{namespace}/topics',
    operationId: 'listTopics',
    admin: true,
    handle: async (ctx, req) => {
      const ns = namespaceParam(req)
      ctx.policies.get(ns)
      const max = intQuery(req, 'max', 100, 1, TOPICS_LISTED_MAX)
      const after = req.query.get('after')
      const { topics, more } = await topicsOf(ctx.ledger, ns, max, after === null || after === '' ? undefined : `${ns}/${after}`)
      return ok({ namespace: ns, topics: topics.map((t) => topicView(ctx, ns, t)), more })
    }
  },
  {
    method: 'GET',
    path: '/v1/admin/namespaces/{tenant}/{namespace}/subscriptions',
    operationId: 'listSubscriptions',
    admin: true,
    handle: (ctx, req) => {
      const ns = namespaceParam(req)
      ctx.policies.get(ns)
      return ok({ namespace: ns, subscriptions: ctx.dispatcher.stats().subscriptions.filter((s) => s.namespace === ns) })
    }
  }
]
