import type { IDisconnectPacket } from 'mqtt-packet'
import type { Connection } from '../connection.js'
import { CloseReason } from '../errors.js'

/** v5 reason code 0x04: disconnect, but publish the will anyway. */
const DISCONNECT_WITH_WILL = 0x04

/**
 * DISCONNECT: a normal disconnect discards the will [MQTT-3.14.4-3]. A v5
 * client may shorten or lengthen its session expiry here, but not turn a
 * zero expiry into a non-zero one [MQTT-3.14.2-2].
 */
export function handleDisconnect (conn: Connection, packet: IDisconnectPacket): void {
  if (conn.protocolVersion === 5) {
    const expiry = packet.properties?.sessionExpiryInterval
    const session = conn.session
    if (expiry !== undefined && session !== undefined) {
      if (session.expirySec === 0 && expiry > 0) { conn.close(CloseReason.protocolError); return }
      // The new interval applies from the close; a session ending now deletes its record as it ends.
      session.expirySec = Math.min(expiry, conn.core.limits.sessionExpirySecMax)
    }
    if (packet.reasonCode !== DISCONNECT_WITH_WILL) conn.suppressWill()
  } else {
    conn.suppressWill()
  }
  conn.close(CloseReason.clientDisconnect)
}
