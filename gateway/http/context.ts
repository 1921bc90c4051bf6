/** What every route handler gets: the site's parts and the HTTP limits. */
import type { Logger } from '../../common/log.js'
import type { Ledger } from '../../store/index.js'
import type { Dispatcher } from '../dispatch/index.js'
import type { PolicyRegistry } from '../policy/index.js'
import type { HttpLimits } from './constants.js'
import type { PullConsumers } from './pull.js'
import type { HttpCounters } from './counters.js'
import type { HttpGuard } from '../auth/index.js'
import type { RequestHead, RequestPlan } from './request.js'
import type { TopologyProvider } from '../topology-hook.js'

export interface HttpDeps {
  dispatcher: Dispatcher
  ledger: Ledger
  policies: PolicyRegistry
  siteId: string
  /** Dev mode: anonymous requests allowed. */
  dev: boolean
  logger: Logger
  /** Overrides of DEFAULT_HTTP_LIMITS (tests, config file). */
  limits?: Partial<HttpLimits>
  /** Security hook (gateway/auth): CORS, bearer tokens, per-route authorization. Without it: dev anonymous / refuse all. */
  guard?: HttpGuard
  /**
   * Registration hook for routes served by other folders (gateway/ops: /metrics,
   * /healthz, /readyz, /v1/admin/..., /v1/openapi.json, /console). Consulted
   * before this API's own routes; such routes authorise themselves. Returns
   * undefined for paths it does not serve.
   */
  extraRoutes?: (head: RequestHead) => RequestPlan | undefined
  /** Failover hook: what GET /v1/topology answers (the gateway's current provider; topology/site.ts installs the etcd one). */
  topology?: () => TopologyProvider
}

export interface HttpContext {
  readonly deps: HttpDeps
  readonly limits: Readonly<HttpLimits>
  readonly pull: PullConsumers
  readonly counters: HttpCounters
}
