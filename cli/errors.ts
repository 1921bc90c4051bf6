/**
 * Codes the `ferry` command raises itself (client side). Mapped in the one
 * table, gateway/error-map.ts, like every other code.
 */
export const CliCode = {
  /** The gateway answered an HTTP error without a Ferry error body. */
  HTTP: 'E_HTTP',
  /** No connection to the gateway at the address tried. */
  UNREACHABLE: 'E_UNREACHABLE',
  /** The gateway refused an MQTT publish (PUBACK / PUBREC reason code >= 0x80). */
  REFUSED: 'E_REFUSED',
  /** An MQTT URL was given but the optional `mqtt` package is not installed. */
  MQTT_CLIENT_MISSING: 'E_MQTT_CLIENT_MISSING'
} as const
export type CliCode = typeof CliCode[keyof typeof CliCode]
