/**
 * Ferry's HTTP front end: publish (single and batch), long-poll pull consume,
 * ack/nack, cancel scheduled, delete subscription, and the admin API. Routes
 * and bodies are documented in docs/HTTP.md.
 */
import type { Dispatcher } from '../dispatch/index.js'
import type { TemplatedApp } from '../uws.js'
import { HttpCore } from './api.js'
import type { HttpDeps } from './context.js'
import { attachUwsTransport } from './transport.js'

export type { HttpDeps } from './context.js'
export type { ApiReply, RequestHead, RequestPlan } from './request.js'
export { DEFAULT_HTTP_LIMITS, type HttpLimits } from './constants.js'
export { HttpCode } from './errors.js'
export { listenRotatingTls, type RotatingTlsListener, type RotatingTlsListenerOptions } from './tls-listener.js'
export { parseJsonBody } from './json-body.js'
export { headerOf } from './request.js'
export { BATCH_JSON, BATCH_CBOR } from './publish-input.js'
export type { PulledMessage } from './encode.js'

/** What gateway/ops reads for metrics: responses by status and code, requests in flight, pull consumers. */
export interface HttpFrontEndStats {
  responses: Array<{ status: number, code: string, count: number }>
  inFlightRequests: number
  pullConsumers: number
  pullBufferedMessages: number
}

export interface HttpApi {
  /** Counters shared by every listener of the gateway (ops hook). */
  stats (): HttpFrontEndStats
  /** Close the pull consumers (their unreturned messages go back to their subscriptions). */
  close (): Promise<void>
}

/**
 * One core per dispatcher: the plain and the TLS listener of a gateway share
 * their pull consumers, so a client may poll over either and an exclusive
 * subscription does not see two consumers of the same name.
 */
const shared = new WeakMap<Dispatcher, { core: HttpCore, refs: number }>()

/** Register every HTTP route on a uWS app (plain or TLS). Close each returned HttpApi once. */
export function registerHttpRoutes (app: TemplatedApp, deps: HttpDeps): HttpApi {
  let entry = shared.get(deps.dispatcher)
  if (entry === undefined) {
    entry = { core: new HttpCore(deps), refs: 0 }
    shared.set(deps.dispatcher, entry)
  }
  entry.refs++
  const { core } = entry
  attachUwsTransport(app, core, deps.logger)
  let closed = false
  return {
    stats: () => ({ responses: core.counters.responses(), inFlightRequests: core.counters.inFlight, pullConsumers: core.pull.size, pullBufferedMessages: core.pull.bufferedMessages() }),
    close: async () => {
      const e = shared.get(deps.dispatcher)
      if (closed || e === undefined) return
      closed = true
      if (--e.refs > 0) return
      shared.delete(deps.dispatcher)
      await e.core.close()
    }
  }
}
