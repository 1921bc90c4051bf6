/**
 * The only file that imports the NATS client (@nats-io/transport-node, the
 * maintained nats.js v3; works against nats-server 2.9). Links are NATS
 * request/reply: a site serves `ferry.<network>.repl.<site>` on its region's
 * nats-server; regions are joined by NATS gateways (supercluster), so a
 * request finds the remote site's server wherever it is.
 */
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node'
import { FerryError } from '../common/errors.js'
import { ReplCode } from './errors.js'

export interface LinkTransport {
  /** Send a request to a site; resolves with its answer, rejects E_REPL_UNAVAILABLE. */
  request: (site: string, data: Uint8Array, timeoutMs: number) => Promise<Uint8Array>
  /** Serve requests for this site; the handler's answer is the reply. Returns a stop function. */
  serve: (site: string, handler: (data: Uint8Array) => Promise<Uint8Array>) => () => void
  /** True while the connection to the region's server is up. */
  connected: () => boolean
  close: () => Promise<void>
}

export interface NatsOptions {
  /** nats://host:port of the region's server(s). */
  servers: string | string[]
  network: string
  /** Client name shown by the server (monitoring). */
  name: string
  /** Mutual TLS with the PKI's certificates: PEM file paths. */
  tls?: { caFile: string, certFile: string, keyFile: string }
}

/** Between reconnect attempts to the region's server; it usually comes back within seconds. */
const NATS_RECONNECT_WAIT_MS = 250

export function replSubject (network: string, site: string): string {
  return `ferry.${network}.repl.${site}`
}

export async function connectNats (opts: NatsOptions): Promise<LinkTransport> {
  const nc: NatsConnection = await connect({
    servers: opts.servers,
    name: opts.name,
    // Never give up: a region's server down is an outage to ride out, not a reason to stop replicating.
    maxReconnectAttempts: -1,
    reconnectTimeWait: NATS_RECONNECT_WAIT_MS,
    waitOnFirstConnect: true,
    // No stack captured per request for a timeout's trace: a link sends thousands a second, and a failed request
    // becomes an E_REPL_UNAVAILABLE naming the site anyway.
    noAsyncTraces: true,
    ...(opts.tls !== undefined ? { tls: opts.tls } : {})
  })
  let up = true
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') up = false
      else if (s.type === 'reconnect') up = true
    }
  })().catch(() => {})
  const subs = new Set<Subscription>()
  return {
    async request (site, data, timeoutMs) {
      try {
        const m = await nc.request(replSubject(opts.network, site), data, { timeout: timeoutMs })
        return m.data
      } catch (err) {
        throw new FerryError(ReplCode.UNAVAILABLE, `site ${site} did not answer: ${(err as Error).message}`, { cause: err })
      }
    },
    serve (site, handler) {
      const sub = nc.subscribe(replSubject(opts.network, site), {
        queue: 'ferry',
        callback: (err, msg) => {
          if (err !== null) return
          handler(msg.data).then((answer) => { msg.respond(answer) }, () => {})
        }
      })
      subs.add(sub)
      return () => { subs.delete(sub); sub.unsubscribe() }
    },
    connected: () => up && !nc.isClosed(),
    async close () {
      for (const s of subs) s.unsubscribe()
      subs.clear()
      await nc.drain().catch(async () => { await nc.close() })
    }
  }
}
