import type { Connection } from '../connection.js'
import { CloseReason } from '../errors.js'

/**
 * AUTH: Ferry has no enhanced authentication method yet, so an AUTH packet
 * after CONNECT is a protocol error: a client that gave no Authentication
 * Method in CONNECT must not send AUTH [MQTT-4.12.0-7], and one that gave a
 * method was refused with 0x8C [MQTT-4.12.0-1].
 */
export function handleAuth (conn: Connection): void {
  conn.close(CloseReason.protocolError)
}
