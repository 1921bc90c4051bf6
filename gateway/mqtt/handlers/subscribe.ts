/**
 * SUBSCRIBE → SUBACK, one return code per filter in order [MQTT-3.8.4-6]
 * [MQTT-3.9.3-1], then retained messages per Retain Handling. Each filter is
 * checked (syntax, `$share/{group}/` and Ferry's mode prefixes, No Local on a
 * shared subscription, the ACL hook), then attached as a dispatcher
 * subscription. A persistent session records its subscriptions in the ledger
 * before creating them and again before SUBACK.
 */
import type { ISubscribePacket, ISubscription } from 'mqtt-packet'
import { MqttReason } from '../../error-map.js'
import { ackReasonOf } from '../reason-codes.js'
import { inspectFilters, MalformedPacket } from '../codec.js'
import { ConnState } from '../conn-state.js'
import type { Connection } from '../connection.js'
import { FERRY_REPLICATED_PROPERTY, SESSION_SUBSCRIPTIONS_MAX, SUBSCRIBE_FILTERS_MAX } from '../constants.js'
import { CloseReason, SUBACK_FAILURE_3 } from '../errors.js'
import type { Session } from '../session.js'
import type { SubscriptionOptions } from '../session-subscriptions.js'
import { parseSubscriptionFilter, type ParsedFilter } from '../topics.js'

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
  const replicated = conn.protocolVersion === 5 && asksReplicated(packet)
  if (subId === 0) { conn.close(CloseReason.protocolError); return } // 0 is a Protocol Error (MQTT 5.0 3.8.2.1.2)

  void session.serial(async () => {
    // 1. Check every filter (syntax, limits, ACL); refused ones get their code now.
    const codes: number[] = []
    const accepted: Array<{ index: number, parsed: ParsedFilter, opts: SubscriptionOptions }> = []
    for (let i = 0; i < packet.subscriptions.length; i++) {
      const s = packet.subscriptions[i] as ISubscription
      const r = await check(conn, session, s, subId, i)
      if (typeof r !== 'number' && replicated) r.opts.rep = true
      if (typeof r === 'number') codes.push(r)
      else { codes.push(s.qos); accepted.push({ index: i, ...r }) }
    }
    // 2. A persistent session records the new subscriptions before they exist in the dispatcher: a crash
    //    in between leaves a recorded subscription that the next attach creates, never an orphaned
    //    durable one that pins retention and delivers to nobody.
    const fresh = accepted.filter((a) => !session.subs.has(a.parsed.raw)).map((a) => ({ raw: a.parsed.raw, ...a.opts }))
    if (session.persistent && fresh.length > 0) await conn.core.sessions.persist(session, null, fresh)
    // 3. Create or update them.
    const retainedFor: Array<{ raw: string, isNew: boolean }> = []
    for (const a of accepted) {
      try {
        const isNew = await session.subscribe(a.parsed, a.opts)
        retainedFor.push({ raw: a.parsed.raw, isNew })
      } catch (err) {
        conn.core.logger.debug({ err, clientId: conn.clientId, filter: a.parsed.raw }, 'subscription refused')
        codes[a.index] = conn.protocolVersion === 5 ? ackReasonOf('suback', err) : SUBACK_FAILURE_3
      }
    }
    // 4. SUBACK only once the session record says what the dispatcher has (issue 7 item 6).
    if (session.recorded || fresh.length > 0) await conn.core.sessions.persist(session, null)
    if (conn.state === ConnState.closed) return
    conn.send({ cmd: 'suback', messageId: packet.messageId ?? 0, granted: codes, reasonCode: 0 })
    sendRetained(conn, retainedFor)
  }).catch((err: unknown) => {
    conn.core.logger.error({ err, clientId: conn.clientId }, 'subscribe failed')
    conn.close(CloseReason.internalError)
  })
}

/** The SUBSCRIBE user property `ferry-replicated: 1` (or `true`): geo-replicated subscriptions (docs/REPLICATION.md). */
function asksReplicated (packet: ISubscribePacket): boolean {
  const v = (packet.properties?.userProperties as Record<string, string | string[]> | undefined)?.[FERRY_REPLICATED_PROPERTY]
  const last = Array.isArray(v) ? v[v.length - 1] : v
  return last === '1' || last === 'true'
}

function firstSubscriptionId (packet: ISubscribePacket): number | undefined {
  const v = (packet.properties as { subscriptionIdentifier?: number | number[] } | undefined)?.subscriptionIdentifier
  return Array.isArray(v) ? v[0] : v
}

/** Checks of one filter: its SUBACK failure code, or what to subscribe with. */
async function check (conn: Connection, session: Session, s: ISubscription, subId: number | undefined, index: number): Promise<number | { parsed: ParsedFilter, opts: SubscriptionOptions }> {
  const v5 = conn.protocolVersion === 5
  if (index >= SUBSCRIBE_FILTERS_MAX) return v5 ? MqttReason.quotaExceeded : SUBACK_FAILURE_3
  const parsed = parseSubscriptionFilter(s.topic)
  if (parsed === undefined) return v5 ? MqttReason.topicFilterInvalid : SUBACK_FAILURE_3
  const ctx = conn.ctx
  if (ctx === undefined || !(await conn.core.authorizeSubscribe(ctx, s.topic))) return v5 ? MqttReason.notAuthorized : SUBACK_FAILURE_3
  if (!session.subs.has(parsed.raw) && session.subs.size >= SESSION_SUBSCRIPTIONS_MAX) return v5 ? MqttReason.quotaExceeded : SUBACK_FAILURE_3
  return {
    parsed,
    opts: {
      qos: s.qos, // granted QoS: we support all three
      nl: v5 && s.nl === true,
      rap: v5 && s.rap === true,
      rh: (v5 ? (s.rh ?? 0) : 0) as 0 | 1 | 2,
      subId: subId ?? null
    }
  }
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
