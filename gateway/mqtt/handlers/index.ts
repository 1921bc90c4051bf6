/**
 * Packet dispatcher: one handler per packet type (Aedes style). Only packets
 * a client may send are handled; the rest are protocol errors.
 */
import type { Packet } from '../codec.js'
import { ConnState } from '../conn-state.js'
import type { Connection } from '../connection.js'
import { CloseReason } from '../errors.js'
import { handleConnect } from './connect.js'
import { handlePublish } from './publish.js'
import { handlePuback } from './puback.js'
import { handlePubrec } from './pubrec.js'
import { handlePubrel } from './pubrel.js'
import { handlePubcomp } from './pubcomp.js'
import { handleSubscribe } from './subscribe.js'
import { handleUnsubscribe } from './unsubscribe.js'
import { handlePingreq } from './pingreq.js'
import { handleDisconnect } from './disconnect.js'
import { handleAuth } from './auth.js'

export function handlePacket (conn: Connection, packet: Packet, raw: Buffer): void {
  if (conn.state === ConnState.awaitConnect) {
    // The first packet from the client MUST be CONNECT [MQTT-3.1.0-1].
    if (packet.cmd !== 'connect') { conn.close(CloseReason.protocolError); return }
    handleConnect(conn, packet, raw)
    return
  }
  switch (packet.cmd) {
    case 'publish': handlePublish(conn, packet, raw); return
    case 'puback': handlePuback(conn, packet); return
    case 'pubrec': handlePubrec(conn, packet); return
    case 'pubrel': handlePubrel(conn, packet); return
    case 'pubcomp': handlePubcomp(conn, packet); return
    case 'subscribe': handleSubscribe(conn, packet, raw); return
    case 'unsubscribe': handleUnsubscribe(conn, packet, raw); return
    case 'pingreq': handlePingreq(conn); return
    case 'disconnect': handleDisconnect(conn, packet); return
    case 'auth': handleAuth(conn); return
    // A second CONNECT is a protocol error [MQTT-3.1.0-2]; server-to-client packets from a client are too.
    default: conn.close(CloseReason.protocolError)
  }
}
