/**
 * topology/: the network's shape in etcd (sites, liveness, namespaces and
 * their replication, routes), a gateway's live view of it, and the assembly
 * of a network site. Key layout: keys.ts and docs/REPLICATION.md.
 */

export { TopologyClient, type EtcdTopologyOptions } from './etcd-client.js'
export { TopologyView, type TopologyHealth } from './view.js'
export { startNetworkSite, endpointsOf, advertisedHostOf, type NetworkSite, type NetworkSiteConfig, type SiteHealth } from './site.js'
export { Steering, type SteeringDeps } from './steering.js'
export { PrimaryCatchUp, type CatchUpLimits, type CatchUpState } from './catch-up.js'
export { movePrimary, writeRefusal, guardedLedger } from './primaries.js'
export { followPolicySource, type PolicySource } from './policy-source.js'
export { Kind as TopologyKind, keyOf, networkPrefix, KEY_ROOT } from './keys.js'
export { TopologyCode } from './errors.js'
export { followRevocations, putRevocation, ETCD_REVOCATION_SOURCE, type RevocationFollower, type RevocationRecord } from './revocations.js'
export * as TopologyLimits from './constants.js'
export type { SiteRecord, NamespaceRecord, Topology, PrimaryRecord, HandoverRecord } from './types.js'
export { etcdService, natsService, freePort, type Service, type NatsRegion, type NatsTls } from './dev-services.js'
