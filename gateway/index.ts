/**
 * The gateway's public surface: what other top-level folders (cli/,
 * loadtest/, and later ops tooling) may use. Everything else under gateway/
 * is internal; import it from here, not from its file.
 *
 * - startGateway: assemble and run one site (ledger, policies, dispatcher,
 *   MQTT and HTTP front ends, listeners).
 * - the site config file: loadSiteConfig / parseSiteConfig / checkSiteId.
 * - error codes and the one table that maps them to HTTP statuses and MQTT
 *   reason codes.
 * - the process fault policy of a gateway process (unhandled rejections,
 *   uncaught exceptions).
 * - the dispatcher and policy registry, for benchmarks that drive delivery
 *   without the front ends.
 */
export { startGateway, type Gateway, type GatewayConfig, type GatewayPorts, type TlsFiles } from './server.js'
export {
  loadSiteConfig, parseSiteConfig, checkSiteId, checkPort, CONFIG_FILE_BYTES_MAX, SITE_ID_CHARS_MAX, type SiteConfigFile
} from './config.js'
export { GatewayCode } from './errors.js'
export { httpStatusOf, mqttReasonOf, httpErrorBody, isMappedErrorCode, mappedErrorCodes, MqttReason } from './error-map.js'
export { installProcessFaultPolicy, processFaultCounts, isFatalFault, type ProcessFaultCounts } from './process-faults.js'
export { createDispatcher, type Consumer, type Delivery, type Dispatcher, type DispatcherDeps, type SubscriptionMode, type ReplicatedSubscriptions, type ReplicatedSubscriptionInfo } from './dispatch/index.js'
export { PolicyRegistry, validatePolicyPatch, type NamespacePolicyPatch } from './policy/index.js'
/** The at-rest payload codec (compression, AES-256-GCM): bench:store measures its cost. */
export { PayloadCodec, type KeySource } from './codec/index.js'
export { DEFAULT_HTTP_LIMITS, type HttpLimits } from './http/index.js'
/** The network views of gateway/ops: what a network site hands to `gateway.ops.attachNetwork` (topology/network-status.ts). */
export type { NetworkStatus, NetworkStatusSource, NetworkSiteStatus, NetworkLinkStatus } from './ops/index.js'
// Failover steering: the provider topology/site.ts installs, GET /v1/topology's body, MQTT 0x9C Server Reference.
export {
  endpointsOf, schemeOfTransport, standaloneTopology, EndpointScheme, NamespaceMode, SteerReason,
  type TopologyProvider, type TopologyDescription, type TopologySiteInfo, type TopologyNamespaceInfo
} from './topology-hook.js'
/** The one uWebSockets.js loader (benchmarks compare Ferry with a bare uWS app). */
export { uws } from './uws.js'
/** The Node.js flags every gateway process is started with (why: gateway/node-flags.ts). */
export { GATEWAY_NODE_FLAGS, GATEWAY_INITIAL_OLD_SPACE_MIB, withGatewayNodeFlags } from './node-flags.js'
