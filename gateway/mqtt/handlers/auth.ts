import type { Connection } from '../connection.js'
import { CloseReason } from '../errors.js'

/**
 * AUTH: Ferry has no enhanced authentication method yet, so an AUTH packet
 * after CONNECT is a protocol error [MQTT-3.15.0-? / 4.12.0-1] (a client may
 * only send AUTH when it gave an Authentication Method in CONNECT, which we refuse).
 */
export function handleAuth (conn: Connection): void {
  conn.close(CloseReason.protocolError)
}
