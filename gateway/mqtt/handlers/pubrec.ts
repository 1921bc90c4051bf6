import type { IPubrecPacket } from 'mqtt-packet'
import type { Connection } from '../connection.js'
import { MqttReason } from '../../error-map.js'

/**
 * PUBREC for a message we sent at QoS 2: answer PUBREL [MQTT-4.3.3-4]; an
 * unknown id gets PUBREL 0x92 Packet Identifier not found (v5). A reason
 * code >= 0x80 ends the flow (no PUBREL) and nacks the message.
 */
export function handlePubrec (conn: Connection, packet: IPubrecPacket): void {
  const id = packet.messageId ?? 0
  const r = conn.session?.onPubrec(id, packet.reasonCode ?? 0) ?? 'unknown'
  if (r === 'pubrel') conn.sendPubrel(id)
  else if (r === 'unknown') conn.send({ cmd: 'pubrel', messageId: id, reasonCode: conn.protocolVersion === 5 ? MqttReason.packetIdentifierNotFound : 0 })
}
