import type { IPubrelPacket } from 'mqtt-packet'
import type { Connection } from '../connection.js'
import { MqttReason } from '../../error-map.js'

/**
 * PUBREL for an inbound QoS 2 publish: forget the packet id and answer
 * PUBCOMP [MQTT-4.3.3-11]; an unknown id gets PUBCOMP 0x92 (v5). The
 * message itself was stored when PUBREC went out, so this never publishes.
 */
export function handlePubrel (conn: Connection, packet: IPubrelPacket): void {
  const id = packet.messageId ?? 0
  const session = conn.session
  const known = session?.inboundQos2.delete(id) === true
  if (known) conn.inboundQosInFlight--
  conn.send({ cmd: 'pubcomp', messageId: id, reasonCode: known || conn.protocolVersion !== 5 ? 0 : MqttReason.packetIdentifierNotFound })
}
