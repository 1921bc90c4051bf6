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
  /** Directory of the built console (console/dist). */
  readonly consoleDir: string
}
