/**
 * replicator/: ships a site's log to the other sites over NATS and applies
 * what they ship here, exactly once by link position. See docs/REPLICATION.md.
 * Error codes: errors.ts, mapped in gateway/error-map.ts.
 */

export { startReplicator, REPLICATED_META_SPACES, type Replicator, type ReplicatorOptions, type ReplicatorStats } from './replicator.js'
export { connectNats, replSubject, type LinkTransport, type NatsOptions } from './transport.js'
export { staticPlan, namespaceOf, filterMatches, ReplicationMode, type PlanSource, type ReplicationPlan, type NamespaceReplication, type Route } from './plan.js'
export { checkRoutes, pathOf, patternMatches, nextHop } from './routes.js'
export { LinkState, type LinkStats, type LinkLimits } from './link.js'
export { ReplCode } from './errors.js'
export * as ReplLimits from './constants.js'
export { type ReplicatedSubscriptionHost, type ReplicatedSubscriptionRef, type CursorSyncStats } from './cursor-sync.js'
