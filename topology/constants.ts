/** Topology limits. Units in the names; a sentence of why each. */

/** Liveness lease of a site, seconds: short enough that failover starts within a few seconds, long enough to ride out a GC pause. */
export const ALIVE_LEASE_TTL_S = 5

/** Largest JSON value accepted under the prefix: a namespace policy is ~1 KB; this bounds a wrong write. */
export const TOPOLOGY_VALUE_BYTES_MAX = 64 * 1024

/** Sites in one network: a routing table and a plan per namespace are computed over all of them. */
export const SITES_MAX = 256

/** How long one etcd call may take before the gateway counts etcd as unreachable. */
export const ETCD_CALL_TIMEOUT_MS = 3_000

/** Retry period of the first list when etcd is unreachable at start (the site serves from its cache meanwhile). */
export const ETCD_RETRY_MS = 1_000

/** A site publishes its interest-mode subscription filters at most this often (each change is one etcd write). */
export const INTEREST_PUBLISH_INTERVAL_MS = 1_000

/** Revocations followed from etcd (topology/revocations.ts), like the PKI dir's revoked.json (pki REVOKED_ENTRIES_MAX): a bound on a list every gateway holds. */
export const REVOCATIONS_IN_ETCD_MAX = 100_000
