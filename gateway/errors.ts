/**
 * Codes the gateway's own top-level files raise (assembly, config, listeners,
 * the uWS loader, topic name rules). Front ends and the dispatcher declare
 * theirs in their folders' errors.ts; every code maps to an HTTP status and
 * an MQTT reason code in the one table, gateway/error-map.ts.
 */
export const GatewayCode = {
  /** The site config (file or flags) is wrong; names the field. Raised at start only. */
  CONFIG: 'E_CONFIG',
  /** A listener could not bind its address and port. */
  LISTEN: 'E_LISTEN',
  /** uWebSockets.js has no native build for this Node.js; Ferry refuses its slow fallback. */
  UWS_NATIVE_MISSING: 'E_UWS_NATIVE_MISSING',
  /** A topic name breaks the rules of gateway/topic-names.ts. */
  TOPIC_INVALID: 'E_TOPIC_INVALID'
} as const
export type GatewayCode = typeof GatewayCode[keyof typeof GatewayCode]
