/** What every route handler gets: the site's parts and the HTTP limits. */
import type { Logger } from '../../common/log.js'
import type { Ledger } from '../../store/index.js'
import type { Dispatcher } from '../dispatch/index.js'
import type { PolicyRegistry } from '../policy/index.js'
import type { HttpLimits } from './constants.js'
import type { PullConsumers } from './pull.js'
import type { HttpCounters } from './counters.js'

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
}

export interface HttpContext {
  readonly deps: HttpDeps
  readonly limits: Readonly<HttpLimits>
  readonly pull: PullConsumers
  readonly counters: HttpCounters
}
