/**
 * The gateway's side of failover steering: what GET /v1/topology answers and
 * whether a new or connected MQTT client should be sent to another site
 * (MQTT 5 reason 0x9C Use Another Server with Server Reference).
 *
 * The data lives in topology/ (the etcd view), which imports gateway/, so
 * the gateway cannot import it: topology/site.ts installs a
 * `TopologyProvider` on the running gateway (`gateway.setTopology`). Until
 * then, and for a standalone gateway (no etcd), `standaloneTopology`
 * answers with the one site and never steers.
 */
import type { GatewayPorts } from './server.js'

/** Endpoint keys of a site record, one per kind of listener (topology/types.ts SiteRecord.endpoints). */
export const EndpointScheme = { mqtt: 'mqtt', mqtts: 'mqtts', ws: 'ws', wss: 'wss', http: 'http', https: 'https' } as const
export type EndpointScheme = typeof EndpointScheme[keyof typeof EndpointScheme]

/** The endpoint key a client should be steered to, by the MQTT transport it came in on (Transport.kind). */
export function schemeOfTransport (kind: string): EndpointScheme {
  switch (kind) {
    case 'tls': return EndpointScheme.mqtts
    case 'ws': return EndpointScheme.ws
    case 'wss': return EndpointScheme.wss
    default: return EndpointScheme.mqtt
  }
}

/** A site's client endpoints (URLs by EndpointScheme) from the gateway's bound ports. */
export function endpointsOf (host: string, ports: GatewayPorts): Record<string, string> {
  const e: Record<string, string> = {}
  if (ports.mqtt !== undefined) e.mqtt = `mqtt://${host}:${ports.mqtt}`
  if (ports.mqtts !== undefined) e.mqtts = `mqtts://${host}:${ports.mqtts}`
  if (ports.http !== undefined) { e.ws = `ws://${host}:${ports.http}/mqtt`; e.http = `http://${host}:${ports.http}` }
  if (ports.https !== undefined) { e.wss = `wss://${host}:${ports.https}/mqtt`; e.https = `https://${host}:${ports.https}` }
  return e
}

export interface TopologySiteInfo {
  id: string
  region: string
  endpoints: Record<string, string>
  /** Lower is preferred. */
  preference: number
  /** Its liveness key is in etcd (as this site last saw it). */
  alive: boolean
}

export const NamespaceMode = { activeActive: 'active-active', activePassive: 'active-passive' } as const
export type NamespaceMode = typeof NamespaceMode[keyof typeof NamespaceMode]

export interface TopologyNamespaceInfo {
  /** tenant/ns */
  name: string
  mode: NamespaceMode
  /** Active-passive: the site that accepts writes. */
  primary?: string
  /** Whether this site accepts writes for the namespace now (false: not primary, cut off, or catching up). */
  writableHere: boolean
  /** The sites that serve it, in the order a client should try them: healthy ones first, each group by preference. */
  sites: TopologySiteInfo[]
}

/** Why this site sends clients elsewhere now (absent: it serves them). */
export const SteerReason = {
  /** Its liveness lease in etcd is gone (cut off from etcd): another site may have taken over. */
  leaseLost: 'lease-lost',
  /** Its store refuses appends (failed fsync or write). */
  storeFenced: 'store-fenced',
  /** It is shutting down. */
  draining: 'draining'
} as const
export type SteerReason = typeof SteerReason[keyof typeof SteerReason]

/** The body of GET /v1/topology. */
export interface TopologyDescription {
  /** This site's id. */
  site: string
  /** No etcd: a single site from its config file. */
  standalone: boolean
  etcd: 'connected' | 'unreachable' | 'none'
  /** This site holds its liveness lease (always true standalone). Other sites' steering checks it before sending clients here. */
  leaseHeld: boolean
  steering?: SteerReason
  /** Every site of the network, by preference. */
  sites: TopologySiteInfo[]
  namespace?: TopologyNamespaceInfo
}

export interface TopologyProvider {
  describe (namespace: string | undefined): TopologyDescription
  /**
   * The Server Reference for a client of `namespace` that came in on a
   * listener of `scheme` when this site sends clients away now; undefined:
   * serve it here. Called at CONNECT and for connected clients.
   */
  steer (namespace: string, scheme: EndpointScheme): string | undefined
}

/** A standalone gateway's answer: itself, alive, serving every namespace; it never steers. */
export function standaloneTopology (siteId: string, endpoints: () => Record<string, string>): TopologyProvider {
  const self = (): TopologySiteInfo => ({ id: siteId, region: siteId, endpoints: endpoints(), preference: 100, alive: true })
  return {
    describe (namespace) {
      return {
        site: siteId,
        standalone: true,
        etcd: 'none',
        leaseHeld: true,
        sites: [self()],
        ...(namespace !== undefined ? { namespace: { name: namespace, mode: NamespaceMode.activeActive, writableHere: true, sites: [self()] } } : {})
      }
    },
    steer: () => undefined
  }
}
