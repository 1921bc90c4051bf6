/**
 * UNSUBSCRIBE → UNSUBACK, one reason code per filter (v5: 0x00 or 0x11 No
 * subscription existed) [MQTT-3.10.4-4] [MQTT-3.11.3-1]. The session's own
 * subscription is deleted in the dispatcher; a group one is only left.
 */
import type { IUnsubscribePacket } from 'mqtt-packet'
import { ackReasonOf } from '../reason-codes.js'
import { inspectFilters, MalformedPacket } from '../codec.js'
import { ConnState } from '../conn-state.js'
import type { Connection } from '../connection.js'
import { CloseReason } from '../errors.js'

/** v5 UNSUBACK: No subscription existed. */
const NO_SUBSCRIPTION_EXISTED = 0x11

export function handleUnsubscribe (conn: Connection, packet: IUnsubscribePacket, raw: Buffer): void {
  const session = conn.session
  if (session === undefined) return
  try {
    inspectFilters(raw, conn.protocolVersion, false)
  } catch (err) {
    if (!(err instanceof MalformedPacket)) throw err
    conn.close(CloseReason.malformedPacket)
    return
  }
  // [MQTT-3.10.3-2]: at least one filter.
  if (packet.unsubscriptions.length === 0) { conn.close(CloseReason.protocolError); return }
  void session.serial(async () => {
    const codes: number[] = []
    for (const filter of packet.unsubscriptions) {
      try {
        codes.push(await session.unsubscribe(filter) ? 0 : NO_SUBSCRIPTION_EXISTED)
      } catch (err) {
        conn.core.logger.warn({ err, clientId: conn.clientId, filter }, 'unsubscribe failed')
        codes.push(ackReasonOf('unsuback', err))
      }
    }
    await conn.core.sessions.persist(session, null) // writes, or removes a record no longer needed
    if (conn.state === ConnState.closed) return
    if (conn.protocolVersion === 5) conn.send({ cmd: 'unsuback', messageId: packet.messageId ?? 0, granted: codes, reasonCode: 0 })
    else conn.send({ cmd: 'unsuback', messageId: packet.messageId ?? 0, granted: [] })
  }).catch((err: unknown) => {
    conn.core.logger.error({ err, clientId: conn.clientId }, 'unsubscribe failed')
    conn.close(CloseReason.internalError)
  })
}
