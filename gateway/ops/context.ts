/** What every ops route gets: the site's parts, the metrics, health and the admin check. */
import type { Logger } from '../../common/log.js'
import type { Ledger } from '../../store/index.js'
import type { Dispatcher } from '../dispatch/index.js'
import type { HttpFrontEndStats } from '../http/index.js'
import type { MqttFrontEnd } from '../mqtt/index.js'
import type { PolicyRegistry } from '../policy/index.js'
import type { AdminAuthorizer } from './auth.js'
import type { Health } from './health.js'
import type { OpsMetrics } from './metrics.js'
import type { RateTracker } from './rates.js'
import type { TopicScanner } from './topic-scan.js'
import type { NetworkView } from './network.js'
import type { ProducerTracker } from './producers.js'

/** The gateway's PKI directory, for the token routes (token-routes.ts). */
export interface OpsPki {
  /** The directory made by `ferry pki init` (the gateway's --pki). */
  readonly dir: string
  /** Apply the directory's revocation list now (gateway/auth Security.reloadRevocations), not at the next poll. */
  revocationsChanged (): Promise<void>
}

export interface OpsContext {
  readonly siteId: string
  readonly dev: boolean
  readonly version: string
  readonly startedAtMs: number
  readonly ledger: Ledger
  /** The instrumented dispatcher (the one the front ends use). */
  readonly dispatcher: Dispatcher
  readonly policies: PolicyRegistry
  readonly mqtt: () => MqttFrontEnd | undefined
  readonly httpStats: () => HttpFrontEndStats | undefined
  readonly metrics: OpsMetrics
  readonly scanner: TopicScanner
  readonly rates: RateTracker
  readonly health: Health
  /** The network status (network sites; empty on a plain gateway). */
  readonly network: NetworkView
  /** Producers per topic (bounded). */
  readonly producers: ProducerTracker
  readonly authorize: AdminAuthorizer
  readonly logger: Logger
  /** The PKI dir (undefined: dev mode without --pki; the token routes answer 409 E_TOKENS_UNAVAILABLE). */
  readonly pki: OpsPki | undefined
  /** Directory of the built console (console/dist). */
  readonly consoleDir: string
}
