/**
 * Ferry's HTTP front end: publish (single and batch), long-poll pull consume,
 * ack/nack, cancel scheduled, delete subscription, and the admin API. Routes
 * and bodies are documented in API.part.md.
 */
import type { TemplatedApp } from '../uws.js'
import { HttpCore } from './api.js'
import type { HttpDeps } from './context.js'
import { attachUwsTransport } from './transport.js'

export type { HttpDeps } from './context.js'
export { DEFAULT_HTTP_LIMITS, type HttpLimits } from './constants.js'
export { HttpCode } from './errors.js'
export { BATCH_JSON, BATCH_CBOR } from './publish-input.js'
export type { PulledMessage } from './encode.js'

export interface HttpApi {
  /** Close the pull consumers (their unreturned messages go back to their subscriptions). */
  close (): Promise<void>
}

/** Register every HTTP route on a uWS app (plain or TLS). One HttpApi per app. */
export function registerHttpRoutes (app: TemplatedApp, deps: HttpDeps): HttpApi {
  const core = new HttpCore(deps)
  attachUwsTransport(app, core, deps.logger)
  return { close: async () => { await core.close() } }
}
