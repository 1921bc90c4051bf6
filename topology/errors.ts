/** Topology error codes (mapped in gateway/error-map.ts via topology/index.ts). */
export const TopologyCode = {
  /** etcd did not answer. */
  UNAVAILABLE: 'E_TOPOLOGY_UNAVAILABLE',
  /** A value under the prefix that is not what the layout says. */
  BAD_VALUE: 'E_TOPOLOGY_BAD_VALUE',
  /** A route that would make a loop, an unknown site, a bad name. */
  INVALID: 'E_TOPOLOGY_INVALID',
  /** A write to an active-passive namespace at a site that is not its (confirmed) primary. */
  NOT_PRIMARY: 'E_NOT_PRIMARY',
  /** This site just became primary of an active-passive namespace and is still applying what the previous primary wrote: retry shortly. */
  CATCHING_UP: 'E_PRIMARY_CATCHING_UP',
  /** A local service of a dev network (etcd, nats-server) did not start. */
  SERVICE: 'E_SERVICE',
  /** `ferry dev`: the sites were not up and replicating in time. */
  DEV_TIMEOUT: 'E_DEV_TIMEOUT',
  /** `ferry dev`: a site process exited before the network was up. */
  DEV_SITE_EXITED: 'E_DEV_SITE_EXITED'
} as const
export type TopologyCode = typeof TopologyCode[keyof typeof TopologyCode]
