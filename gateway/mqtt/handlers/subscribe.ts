/**
 * SUBSCRIBE → SUBACK, one return code per filter in order [MQTT-3.8.4-6]
 * [MQTT-3.9.3-1], then retained messages per Retain Handling. Each filter is
 * checked (syntax, `$share/{group}/` and Ferry's mode prefixes, No Local on a
 * shared subscription, the ACL hook), then attached as a dispatcher
 * subscription. A persistent session records its subscriptions in the ledger.
 */
import type { ISubscribePacket, ISubscription } from 'mqtt-packet'
import { MqttReason } from '../../error-map.js'
import { ackReasonOf } from '../reason-codes.js'
import { inspectFilters, MalformedPacket } from '../codec.js'
import { ConnState, type Connection } from '../connection.js'
import { SESSION_SUBSCRIPTIONS_MAX, SUBSCRIBE_FILTERS_MAX } from '../constants.js'
import { CloseReason, SUBACK_FAILURE_3 } from '../errors.js'
import { parseSubscriptionFilter } from '../topics.js'

export function handleSubscribe (conn: Connection, packet: ISubscribePacket, raw: Buffer): void {
  const session = conn.session
  if (session === undefined) return
  try {
    inspectFilters(raw, conn.protocolVersion, true)
  } catch (err) {
    if (!(err instanceof MalformedPacket)) throw err
    conn.close(CloseReason.malformedPacket)
    return
  }
  // [MQTT-3.8.3-3]: at least one filter.
  if (packet.subscriptions.length === 0) { conn.close(CloseReason.protocolError); return }
  for (const s of packet.subscriptions) {
    // [MQTT-3.8.3-4]: No Local on a shared subscription is a protocol error.
    if (conn.protocolVersion === 5 && s.nl === true && s.topic.startsWith('$share/')) { conn.close(CloseReason.protocolError); return }
  }
  const subId = conn.protocolVersion === 5 ? firstSubscriptionId(packet) : undefined
  if (subId === 0) { conn.close(CloseReason.protocolError); return } // [MQTT-3.8.2-?] 0 is a protocol error

  void session.serial(async () => {
    const codes: number[] = []
    const retainedFor: Array<{ raw: string, isNew: boolean }> = []
    for (let i = 0; i < packet.subscriptions.length; i++) {
      const s = packet.subscriptions[i] as ISubscription
      codes.push(await subscribeOne(conn, s, subId, i, retainedFor))
    }
    if (conn.state === ConnState.closed) return
    conn.send({ cmd: 'suback', messageId: packet.messageId ?? 0, granted: codes, reasonCode: 0 })
    if (session.persistent) await conn.core.sessions.persist(session, null)
    sendRetained(conn, retainedFor)
  }).catch((err: unknown) => {
    conn.core.logger.error({ err, clientId: conn.clientId }, 'subscribe failed')
    conn.close(CloseReason.internalError)
  })
}

function firstSubscriptionId (packet: ISubscribePacket): number | undefined {
  const v = (packet.properties as { subscriptionIdentifier?: number | number[] } | undefined)?.subscriptionIdentifier
  return Array.isArray(v) ? v[0] : v
}

async function subscribeOne (conn: Connection, s: ISubscription, subId: number | undefined, index: number, retainedFor: Array<{ raw: string, isNew: boolean }>): Promise<number> {
  const v5 = conn.protocolVersion === 5
  const session = conn.session
  if (session === undefined) return v5 ? MqttReason.unspecifiedError : SUBACK_FAILURE_3
  if (index >= SUBSCRIBE_FILTERS_MAX) return v5 ? MqttReason.quotaExceeded : SUBACK_FAILURE_3
  const parsed = parseSubscriptionFilter(s.topic)
  if (parsed === undefined) return v5 ? MqttReason.topicFilterInvalid : SUBACK_FAILURE_3
  const ctx = conn.ctx
  if (ctx === undefined || !(await conn.core.authorizeSubscribe(ctx, s.topic))) return v5 ? MqttReason.notAuthorized : SUBACK_FAILURE_3
  if (!session.subs.has(parsed.raw) && session.subs.size >= SESSION_SUBSCRIPTIONS_MAX) return v5 ? MqttReason.quotaExceeded : SUBACK_FAILURE_3
  try {
    const isNew = await session.subscribe(parsed, {
      qos: s.qos,
      nl: v5 && s.nl === true,
      rap: v5 && s.rap === true,
      rh: (v5 ? (s.rh ?? 0) : 0) as 0 | 1 | 2,
      subId: subId ?? null
    })
    retainedFor.push({ raw: parsed.raw, isNew })
  } catch (err) {
    conn.core.logger.debug({ err, clientId: conn.clientId, filter: s.topic }, 'subscription refused')
    return v5 ? ackReasonOf('suback', err) : SUBACK_FAILURE_3
  }
  return s.qos // granted QoS: we support all three
}

/**
 * Retained messages after SUBACK: Retain Handling 0 always, 1 only for a new
 * subscription, 2 never [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11]; never
 * for shared subscriptions (MQTT 5.0 4.8.2).
 */
function sendRetained (conn: Connection, list: Array<{ raw: string, isNew: boolean }>): void {
  const session = conn.session
  if (session === undefined) return
  for (const { raw, isNew } of list) {
    const sub = session.subs.get(raw)
    if (sub === undefined || sub.parsed.group !== undefined) continue
    if (sub.retainHandling === 2 || (sub.retainHandling === 1 && !isNew)) continue
    for (const d of conn.core.retained.matching(session.namespace, sub.parsed.filter)) session.sendRetained(sub, d)
  }
}
