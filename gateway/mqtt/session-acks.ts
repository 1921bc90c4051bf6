/**
 * Acknowledgements from the client for messages the session sent: PUBACK
 * (QoS 1), PUBREC and PUBCOMP (QoS 2). A v5 reason code >= 0x80 is a
 * negative acknowledgement: the dispatcher redelivers after its backoff.
 */
import { InflightState } from './session-packet-ids.js'
import type { SessionOutbound } from './session-outbound.js'

/** Reason codes from 0x80 are failures [MQTT-2.4]. */
const FAILURE_REASON_MIN = 0x80

export const PubrecOutcome = {
  /** Answer PUBREL (first or repeated PUBREC). */
  pubrel: 'pubrel',
  /** Failed PUBREC: the flow ended, no PUBREL (PUBREL only answers a PUBREC below 0x80 [MQTT-4.3.3-4]). */
  done: 'done',
  unknown: 'unknown'
} as const
export type PubrecOutcome = typeof PubrecOutcome[keyof typeof PubrecOutcome]

/** PUBACK. False when the packet id is unknown (a late duplicate after a reconnect is ignored). */
export function onPuback (out: SessionOutbound, packetId: number, reasonCode: number): boolean {
  const f = out.ids.get(packetId)
  if (f === undefined || f.qos !== 1 || f.state !== InflightState.awaitAck) return false
  out.ids.delete(packetId)
  out.settleInflight(f, reasonCode >= FAILURE_REASON_MIN ? 'nack' : 'ack', reasonCode)
  out.pump()
  return true
}

/**
 * PUBREC: the client has the message, so it is acknowledged to the
 * dispatcher now; only the packet id stays in use until PUBCOMP
 * [MQTT-4.3.3-9]. A failure reason code ends the flow as a nack.
 */
export function onPubrec (out: SessionOutbound, packetId: number, reasonCode: number): PubrecOutcome {
  const f = out.ids.get(packetId)
  if (f === undefined || f.qos !== 2) return PubrecOutcome.unknown
  if (f.state === InflightState.awaitComp) return PubrecOutcome.pubrel // repeated PUBREC: answer PUBREL again
  if (reasonCode >= FAILURE_REASON_MIN) {
    out.ids.delete(packetId)
    out.settleInflight(f, 'nack', reasonCode)
    out.pump()
    return PubrecOutcome.done
  }
  f.state = InflightState.awaitComp
  if (f.sub !== undefined && f.consumer !== undefined) {
    const { topic, entryId } = f
    void f.consumer.then(async (c) => { await c.ack(topic, entryId) }, () => undefined).catch(() => undefined)
  }
  return PubrecOutcome.pubrel
}

/** PUBCOMP frees the packet id [MQTT-4.3.3-12] and gives the permit back. */
export function onPubcomp (out: SessionOutbound, packetId: number): boolean {
  const f = out.ids.get(packetId)
  if (f === undefined || f.qos !== 2 || f.state !== InflightState.awaitComp) return false
  out.ids.delete(packetId)
  if (f.sub !== undefined && f.consumer !== undefined) out.returnPermit(f.sub, f.consumer)
  out.pump()
  return true
}
