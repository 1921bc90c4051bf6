/** Topology error codes (mapped in gateway/error-map.ts via topology/index.ts). */
export const TopologyCode = {
  /** etcd did not answer. */
  UNAVAILABLE: 'E_TOPOLOGY_UNAVAILABLE',
  /** A value under the prefix that is not what the layout says. */
  BAD_VALUE: 'E_TOPOLOGY_BAD_VALUE',
  /** A route that would make a loop, an unknown site, a bad name. */
  INVALID: 'E_TOPOLOGY_INVALID'
} as const
export type TopologyCode = typeof TopologyCode[keyof typeof TopologyCode]
