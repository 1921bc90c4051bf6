/**
 * The HTTP API without the transport: authenticate, route, and plan each
 * request (what body to read, how big, what to run). Errors thrown here are
 * FerryErrors; the transport turns them into `{error: {code, message}}`.
 */
import { FerryError } from '../../common/errors.js'
import { checkHttpLimits, DEFAULT_HTTP_LIMITS, type HttpLimits } from './constants.js'
import type { HttpContext, HttpDeps } from './context.js'
import { PullConsumers } from './pull.js'
import { HttpCounters } from './counters.js'
import { AuthCode } from './errors.js'
import { headerOf, type RequestHead, type RequestPlan } from './request.js'
import { matchRoute, type Route } from './router.js'
import { PublishTargets } from './publish-targets.js'
import { planCancelScheduled, planPublish } from './topic-routes.js'
import { planAck, planDeleteSubscription, planPull } from './subscription-routes.js'
import { planGetNamespace, planHealthz, planListNamespaces, planPutNamespace, planStats } from './admin-routes.js'
import { planTopology } from './topology-route.js'

export class HttpCore implements HttpContext {
  readonly limits: Readonly<HttpLimits>
  readonly pull: PullConsumers
  readonly counters = new HttpCounters()
  /** Publish paths already parsed (route, topic, policy): the hot path skips the URL parse and the lookups. */
  readonly publishTargets = new PublishTargets(this)

  constructor (readonly deps: HttpDeps) {
    const limits = { ...DEFAULT_HTTP_LIMITS, ...(deps.limits ?? {}) }
    checkHttpLimits(limits)
    this.limits = Object.freeze(limits)
    this.pull = new PullConsumers({ dispatcher: deps.dispatcher, ledger: deps.ledger }, this.limits, deps.logger)
  }

  /** Route and check a request before its body is read. Throws FerryError. */
  plan (head: RequestHead): RequestPlan {
    // Hook: routes of gateway/ops first (they check their own credentials).
    const extra = this.deps.extraRoutes?.(head)
    if (extra !== undefined) return extra
    if (head.method === 'POST') {
      // A publish path seen before: same checks in the same order (route, credentials, namespace), minus the parsing.
      const known = this.publishTargets.cached(head.path)
      if (known !== undefined) {
        this.checkAccess(head, known.route)
        return planPublish(this, head, this.publishTargets.fresh(head.path, known))
      }
    }
    const route = matchRoute(head.method, head.path)
    // gateway/auth checks the credential against the tenant/namespace/topic of the route before anything looks them up.
    // GET /v1/topology checks its own access (public site part, credential for a namespace: topology-route.ts).
    if (route.kind === 'topology') return planTopology(this, head)
    this.checkAccess(head, route)
    return this.planRoute(head, route)
  }

  private checkAccess (head: RequestHead, route: Route): void {
    if (this.deps.guard !== undefined) this.deps.guard.check(head, route)
    else if (route.kind !== 'healthz') this.authenticate(head)
  }

  async close (): Promise<void> {
    await this.pull.close()
  }

  /**
   * Dev mode lets anonymous clients in. Outside dev mode token authentication
   * is not built yet, so a request without credentials is 401 and one with
   * credentials is 403: nothing is let in by accident.
   */
  private authenticate (head: RequestHead): void {
    if (this.deps.dev) return
    if (headerOf(head, 'authorization') === undefined) {
      throw new FerryError(AuthCode.UNAUTHORIZED, 'credentials required (Authorization header)')
    }
    throw new FerryError(AuthCode.FORBIDDEN, 'these credentials are not allowed here')
  }

  private planRoute (head: RequestHead, r: Route): RequestPlan {
    switch (r.kind) {
      case 'healthz': return planHealthz(this)
      case 'listNamespaces': return planListNamespaces(this)
      case 'getNamespace': return planGetNamespace(this, r.tenant, r.namespace)
      case 'putNamespace': return planPutNamespace(this, head, r.tenant, r.namespace)
      case 'stats': return planStats(this)
      case 'topology': return planTopology(this, head)
      case 'publish': return planPublish(this, head, this.publishTargets.resolve(head.path, r))
      case 'cancelScheduled': return planCancelScheduled(this, r, r.messageId)
      case 'pull': return planPull(this, head, r)
      case 'ack':
      case 'nack': return planAck(this, head, r, r.kind)
      case 'deleteSubscription': return planDeleteSubscription(this, r)
    }
  }
}
