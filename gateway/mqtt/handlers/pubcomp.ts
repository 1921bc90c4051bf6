import type { IPubcompPacket } from 'mqtt-packet'
import type { Connection } from '../connection.js'

/** PUBCOMP ends an outbound QoS 2 flow: the PUBREL is acknowledged and the packet id free again [MQTT-4.3.3-5]. */
export function handlePubcomp (conn: Connection, packet: IPubcompPacket): void {
  conn.session?.onPubcomp(packet.messageId ?? 0)
}
