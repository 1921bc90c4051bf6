import type { IPubcompPacket } from 'mqtt-packet'
import type { Connection } from '../connection.js'

/** PUBCOMP ends an outbound QoS 2 flow: the packet id is free again [MQTT-4.3.3-?]. */
export function handlePubcomp (conn: Connection, packet: IPubcompPacket): void {
  conn.session?.onPubcomp(packet.messageId ?? 0)
}
