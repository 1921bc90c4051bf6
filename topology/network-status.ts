/**
 * The network status a site hands to gateway/ops (gateway.ops.attachNetwork):
 * sites and liveness from the live topology view, etcd state from its
 * health, NATS and the outbound links from the replicator's counters. Read
 * at scrape time and per admin request: no I/O, only the in-memory views.
 */
import type { NetworkStatus, NetworkStatusSource } from '../gateway/index.js'
import type { Replicator } from '../replicator/index.js'
import type { TopologyView } from './view.js'

export function networkStatusSource (network: string, siteId: string, topology: TopologyView, replicator: Replicator): NetworkStatusSource {
  return (): NetworkStatus => {
    const t = topology.current()
    const h = topology.health()
    const r = replicator.stats()
    return {
      network,
      etcd: { up: h.etcd === 'connected', stale: h.stale, revision: h.revision, ...(h.lastError !== undefined ? { lastError: h.lastError } : {}) },
      nats: { up: r.transportConnected },
      sites: [...t.sites.values()]
        .sort((a, b) => a.preference - b.preference || (a.id < b.id ? -1 : 1))
        .map((s) => ({ id: s.id, region: s.region, endpoints: { ...s.endpoints }, preference: s.preference, alive: t.alive.has(s.id), self: s.id === siteId })),
      links: r.links.map((l) => ({
        remote: l.site,
        state: l.state,
        connected: l.connected,
        lagEntries: l.lagEntries,
        lagBytes: l.lagBytes,
        lagSeconds: l.lagSeconds,
        lagIsLowerBound: l.behindMoreThanOneRead,
        backlogAlert: l.backlogAlert,
        entriesShipped: l.entriesShipped,
        failures: l.failures,
        gaps: l.gaps,
        ...(l.lastError !== undefined ? { lastError: l.lastError } : {})
      }))
    }
  }
}
