import type { IPubackPacket } from 'mqtt-packet'
import type { Connection } from '../connection.js'

/**
 * PUBACK for a message we sent at QoS 1. A v5 reason code >= 0x80 is a
 * negative acknowledgement: the dispatcher redelivers after backoff.
 * An unknown packet id is ignored (a late duplicate after reconnect).
 */
export function handlePuback (conn: Connection, packet: IPubackPacket): void {
  conn.session?.onPuback(packet.messageId ?? 0, packet.reasonCode ?? 0)
}
