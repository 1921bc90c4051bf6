import type { IPubrelPacket } from 'mqtt-packet'
import type { Connection } from '../connection.js'
import { ConnState } from '../conn-state.js'
import { CloseReason } from '../errors.js'
import { MqttReason } from '../../error-map.js'

/**
 * PUBREL for an inbound QoS 2 publish: forget the packet id, then answer
 * PUBCOMP [MQTT-4.3.3-11]; an unknown id gets PUBCOMP 0x92 (v5). The message
 * itself was stored before PUBREC went out, so this never publishes. The id's
 * durable record is gone before PUBCOMP: after PUBCOMP the client may reuse
 * the id for a new message [MQTT-4.3.3-12], which must not look like a resend.
 */
export function handlePubrel (conn: Connection, packet: IPubrelPacket): void {
  const id = packet.messageId ?? 0
  const session = conn.session
  if (session === undefined) return
  const slot = conn.reserveAck()
  session.releaseQos2(id).then((known) => {
    if (known) conn.inboundQosInFlight--
    conn.completeAck(slot, { cmd: 'pubcomp', messageId: id, reasonCode: known || conn.protocolVersion !== 5 ? 0 : MqttReason.packetIdentifierNotFound })
  }, (err: unknown) => {
    // Without PUBCOMP the client sends PUBREL again; the id stays in use meanwhile.
    conn.core.logger.warn({ err, clientId: conn.clientId, packetId: id }, 'releasing an inbound QoS 2 id failed')
    if (conn.state !== ConnState.closed) conn.completeAck(slot, undefined, CloseReason.internalError)
  })
}
