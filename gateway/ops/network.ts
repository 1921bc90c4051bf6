/**
 * The network views of a site (metrics, /readyz, GET /v1/admin/sites and
 * /v1/admin/links, the console's network map). gateway/ops must not import
 * topology/ or replicator/ (they import the gateway), so the network part of
 * a site hands ops one read-only status function instead:
 *
 *   gateway.ops.attachNetwork(() => status)      // topology/site.ts, once the replicator runs
 *
 * The function is called at scrape time, on each admin request and once per
 * live-feed tick: it must be cheap and do no I/O (topology/network-status.ts
 * reads the live view and the replicator's counters).
 */

/** A site of the network as the topology (etcd) knows it. */
export interface NetworkSiteStatus {
  id: string
  region: string
  /** Client endpoints (mqtt, mqtts, ws, wss, http, https URLs). */
  endpoints: Record<string, string>
  /** Lower is preferred when clients are steered to another site. */
  preference: number
  /** Its liveness key in etcd is held (lease renewed). */
  alive: boolean
  /** This site. */
  self: boolean
}

/** One outbound replication link of this site (to one remote site). */
export interface NetworkLinkStatus {
  /** The remote site. */
  remote: string
  /** idle, shipping, paused (retrying with backoff), closed. */
  state: string
  /** The remote has answered at least once since the link started. */
  connected: boolean
  /** Entries not yet acknowledged by the remote. */
  lagEntries: number
  /** Payload bytes of those entries. */
  lagBytes: number
  /** Age of the oldest entry not yet acknowledged, seconds (0 when caught up). */
  lagSeconds: number
  /** The lag figures are lower bounds (more unshipped log than one read holds). */
  lagIsLowerBound: boolean
  /** The unshipped backlog is above the link's alert threshold. */
  backlogAlert: boolean
  entriesShipped: number
  failures: number
  /** Records retention removed before the link shipped them (counted, never silent). */
  gaps: number
  lastError?: { code: string, message: string, atMs: number }
}

export interface NetworkStatus {
  network: string
  etcd: { up: boolean, stale: boolean, revision: number, lastError?: string }
  nats: { up: boolean }
  sites: NetworkSiteStatus[]
  links: NetworkLinkStatus[]
}

/** Cheap, no I/O: read on every scrape, admin request and live-feed tick. */
export type NetworkStatusSource = () => NetworkStatus

/** Holder of the (optional) source: a plain gateway has none; a network site attaches one after start. */
export class NetworkView {
  private source: NetworkStatusSource | undefined

  attach (source: NetworkStatusSource): void { this.source = source }
  get attached (): boolean { return this.source !== undefined }

  /** The status, or undefined on a gateway that is not part of a network. A throwing source reads as absent. */
  status (): NetworkStatus | undefined {
    if (this.source === undefined) return undefined
    try { return this.source() } catch { return undefined }
  }
}
