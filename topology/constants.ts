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

/** Failover steering: how often a site re-checks whether it sends clients elsewhere (and steers connected ones); also the probe period while its lease is lost. */
export const STEER_CHECK_INTERVAL_MS = 1_000

/**
 * A site cut off from etcd only steers clients to a site that confirms, by its GET /v1/topology, that it holds its
 * own lease: when etcd itself is down every site has lost its lease, and clients must not be sent round in circles.
 * One probe may take this long before the site counts as unconfirmed.
 */
export const STEER_PROBE_TIMEOUT_MS = 1_500

/** Largest GET /v1/topology answer a probe reads (a few hundred bytes per site, SITES_MAX sites). */
export const STEER_PROBE_BODY_BYTES_MAX = 256 * 1024

/**
 * Catch-up of a new active-passive primary (catch-up.ts): how long it waits for the previous primary's handover
 * (the log position where it stopped writing) before it accepts writes anyway. The previous primary may be dead for
 * good; what it had not shipped then arrives when it returns, ordered after the new primary's writes.
 */
export const PRIMARY_CATCHUP_SILENT_MS = 15_000

/**
 * With the handover in hand, how long the new primary waits to have received everything up to it before it
 * accepts writes anyway (a link that stays down must not keep the namespace unwritable for good).
 */
export const PRIMARY_CATCHUP_MAX_MS = 120_000

/**
 * A clean stop of a primary hands each of its namespaces to the next site (catch-up.ts handOver): how long it waits
 * for its handover to be written and its links to ship up to it before it stops anyway (the next primary then waits
 * for the rest by its own bounds).
 */
export const PRIMARY_HANDOVER_ON_STOP_MS = 10_000

/** How often a catching-up primary re-checks its receive position (also on every topology change). */
export const PRIMARY_CATCHUP_CHECK_INTERVAL_MS = 200
/** Revocations followed from etcd (topology/revocations.ts), like the PKI dir's revoked.json (pki REVOKED_ENTRIES_MAX): a bound on a list every gateway holds. */
export const REVOCATIONS_IN_ETCD_MAX = 100_000
