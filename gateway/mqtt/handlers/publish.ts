/**
 * Inbound PUBLISH, as a list of steps:
 *  1. raw checks: topic is valid UTF-8, user properties in wire order;
 *  2. topic alias (v5) resolves to a topic name;
 *  3. topic name has no wildcards;
 *  4. QoS 2 identifier in use (stored, or its append still in flight): answer
 *     PUBREC again once stored, publish nothing;
 *  5. Receive Maximum: a client over our window is disconnected (0x93);
 *  6. MQTT properties and `ferry-*` controls become message props;
 *  7. the dispatcher stores it (durable per namespace policy) — only then
 *     PUBACK / PUBREC, in the order the PUBLISHes came.
 * A failed publish is reported with a reason code (v5); 3.1.1 cannot say so,
 * so the connection closes without an ack and the client resends.
 */
import type { IPublishPacket, Packet } from 'mqtt-packet'
import type { MessageProps, UserProperty } from '../../../store/index.js'
import { FerryError } from '../../../common/errors.js'
import { readFerryControls } from '../../message-props.js'
import { inspectPublish, MalformedPacket } from '../codec.js'
import { ackReasonOf, reasonStringOf } from '../reason-codes.js'
import { ConnState } from '../conn-state.js'
import type { AckSlot, Connection } from '../connection.js'
import type { PublishResult, PublishSink } from '../../dispatch/index.js'
import { Qos2State } from '../inbound-qos2.js'
import type { Session } from '../session.js'
import { CloseReason, MqttCode } from '../errors.js'
import { fullTopicName, isValidTopicName } from '../topics.js'

export function handlePublish (conn: Connection, packet: IPublishPacket, raw: Buffer): void {
  const session = conn.session
  if (session === undefined) return
  const v5 = conn.protocolVersion === 5

  // 1. Raw checks [MQTT-1.5.4-1] [MQTT-3.3.2-18].
  let userProperties: UserProperty[] | undefined
  try {
    userProperties = inspectPublish(raw, conn.protocolVersion).userProperties
  } catch (err) {
    if (!(err instanceof MalformedPacket)) throw err
    conn.close(CloseReason.malformedPacket)
    return
  }

  // 2. Topic alias [MQTT-3.3.2-7] .. [MQTT-3.3.2-12].
  let topic = packet.topic
  const alias = packet.properties?.topicAlias
  if (v5 && alias !== undefined) {
    if (alias === 0 || alias > conn.core.limits.topicAliasMaximum) { conn.close(CloseReason.topicAliasInvalid); return }
    if (topic.length > 0) {
      conn.inboundAliases.set(alias, topic)
    } else {
      const known = conn.inboundAliases.get(alias)
      if (known === undefined) { conn.close(CloseReason.protocolError); return }
      topic = known
    }
  }

  // 3. No wildcards, not empty [MQTT-3.3.2-2] [MQTT-4.7.3-1].
  if (!isValidTopicName(topic)) {
    conn.close(topic.length === 0 ? CloseReason.protocolError : CloseReason.topicNameInvalid)
    return
  }

  const qos = packet.qos
  const id = packet.messageId ?? 0

  // 4. QoS 2 identifier in use: stored (or being stored) already, only PUBREC again [MQTT-4.3.3-10].
  if (qos === 2) {
    const state = session.inboundQos2.stateOf(id)
    if (state === Qos2State.received) {
      conn.completeAck(conn.reserveAck(), { cmd: 'pubrec', messageId: id, reasonCode: 0 })
      return
    }
    const first = session.inboundQos2.whenStored(id)
    if (first !== undefined) {
      // Resent (after a reconnect or takeover) while the first append is in flight: wait for it, never store twice.
      const slot = conn.reserveAck()
      const payload = Buffer.from(packet.payload as Buffer)
      void first.then((stored) => {
        if (stored) { conn.completeAck(slot, { cmd: 'pubrec', messageId: id, reasonCode: 0 }); return }
        // The first attempt was refused: this one is a new message [MQTT-4.3.3-9].
        conn.completeAck(slot, undefined)
        if (conn.state !== ConnState.closed) accept(conn, session, packet, topic, userProperties, payload)
      })
      return
    }
  }

  // Copy: the parsed payload is a view into the socket's read buffer, which the store must not pin.
  accept(conn, session, packet, topic, userProperties, Buffer.from(packet.payload as Buffer))
}

/** Steps 5 to 7 for a publish that is new. */
function accept (conn: Connection, session: Session, packet: IPublishPacket, topic: string, userProperties: UserProperty[] | undefined, payload: Buffer): void {
  const v5 = conn.protocolVersion === 5
  const qos = packet.qos
  const id = packet.messageId ?? 0

  // 5. Our Receive Maximum (MQTT 5.0 3.3.4): only a client beyond it is disconnected, 0x93. It is
  //    65535 by default; memory is bounded by reading less (Connection.storeStarted), not by this.
  if (qos > 0) {
    if (conn.inboundQosInFlight >= conn.core.limits.receiveMaximum) {
      if (v5) { conn.close(CloseReason.receiveMaximumExceeded); return }
    }
    conn.inboundQosInFlight++
  }

  // 5b. Authorization (gateway/auth grant): v5 PUBACK/PUBREC 0x87; 3.1.1 cannot refuse, so the connection closes.
  if ((conn.ctx?.grant?.authorizePublish(topic) ?? 0) !== 0) {
    reject(conn, qos, id, new FerryError(MqttCode.FORBIDDEN, 'not authorized to publish to this topic'))
    return
  }

  // 6. Properties.
  const now = Date.now()
  let props: MessageProps
  try {
    props = buildProps(conn, packet, userProperties, now)
  } catch (err) {
    reject(conn, qos, id, err)
    return
  }

  // 7. Store, then acknowledge in order: the publish is its own ack slot and the dispatcher's sink.
  const full = session.fullTopic(topic)
  const inbound = new InboundPublish(conn, session, qos, id, full, payload.length)
  if (qos > 0) conn.queueAck(inbound)
  conn.storeStarted(inbound.bytes)
  inbound.tracked = session.ownPublishStarted(full)
  if (qos !== 2) {
    // QoS 0/1 (the hot path): no promise or closure per message; the outcome comes to inbound's published/failed.
    conn.core.publishTo(full, payload, props, packet.retain, conn.producer, session.namespace, inbound)
    return
  }
  // QoS 2 keeps the promise: the session's inbound QoS 2 state waits on it (a resend, PUBREL).
  const stored = conn.core.publish(full, payload, props, packet.retain, session.qos2Record(id, full), conn.producer, session.namespace)
  session.inboundQos2.begin(id, stored.then(() => true, () => false))
  stored.then((res) => { inbound.published(res) }, (err: unknown) => { inbound.failed(err) })
}

/**
 * One inbound publish from its store to its answer: the connection's ack slot (AckSlot: PUBACK / PUBREC in
 * arrival order) and the dispatcher's PublishSink. `published` comes only once the ledger holds the message
 * (for sync durability, after its fdatasync): then the successful PUBACK (QoS 1) or PUBREC (QoS 2). `failed`:
 * a v5 PUBACK / PUBREC with the reason code, or in 3.1.1 the connection closes without an ack.
 */
class InboundPublish implements AckSlot, PublishSink {
  // AckSlot: the answer, once ready (a successful PUBACK is `pubackId`, no packet).
  ready = false
  packet: Packet | undefined = undefined
  close: CloseReason | undefined = undefined
  pubackId = -1
  /** Tracked per topic for No Local (Session.ownPublishStarted): passed back when it settles. */
  tracked = false

  constructor (private readonly conn: Connection, private readonly session: Session, private readonly qos: number, private readonly messageId: number, private readonly topic: string, readonly bytes: number) {}

  published (res: PublishResult): void {
    const conn = this.conn
    // A sink must not throw (PublishSink): a failure here closes the connection, as a handler's does.
    try {
      conn.storeSettled(this.bytes)
      if (res.paced !== undefined) conn.paceReads(res.paced)
      this.session.ownPublishSettled(this.topic, res.entryId, this.tracked)
      if (this.qos === 0) return
      if (this.qos === 1) {
        conn.inboundQosInFlight--
        conn.completePuback(this, this.messageId)
        return
      }
      // QoS 2: the id stays in use until PUBREL.
      conn.completeAck(this, { cmd: 'pubrec', messageId: this.messageId, reasonCode: 0 })
    } catch (err) { this.internalError(err) }
  }

  failed (err: unknown): void {
    const conn = this.conn
    try {
      conn.storeSettled(this.bytes)
      this.session.ownPublishSettled(this.topic, undefined, this.tracked)
      conn.core.logger.debug({ err, topic: this.topic, clientId: conn.clientId }, 'publish refused')
      if (this.qos === 0) return
      conn.inboundQosInFlight--
      if (conn.protocolVersion !== 5) { conn.completeAck(this, undefined, CloseReason.publishFailed); return }
      conn.completeAck(this, failedAck(conn, this.qos, this.messageId, err))
    } catch (e) { this.internalError(e) }
  }

  private internalError (err: unknown): void {
    this.conn.core.logger.error({ err, clientId: this.conn.clientId, topic: this.topic }, 'publish acknowledgement failed')
    this.conn.close(CloseReason.internalError)
  }
}

function reject (conn: Connection, qos: number, id: number, err: unknown): void {
  if (qos === 0) return // nobody to tell; dropped
  conn.inboundQosInFlight--
  if (conn.protocolVersion !== 5) { conn.close(CloseReason.publishFailed); return }
  const slot = conn.reserveAck()
  conn.completeAck(slot, failedAck(conn, qos, id, err))
}

/** v5 PUBACK / PUBREC for a refused publish: reason code and a Reason String saying why. */
function failedAck (conn: Connection, qos: number, id: number, err: unknown): Packet {
  const reasonCode = ackReasonOf('puback', err)
  const cmd = qos === 1 ? 'puback' : 'pubrec'
  if (!conn.problemInformation) return { cmd, messageId: id, reasonCode }
  return { cmd, messageId: id, reasonCode, properties: { reasonString: reasonStringOf(err) } }
}

/** MQTT 5 properties and Ferry's `ferry-*` user properties → message props. */
function buildProps (conn: Connection, packet: IPublishPacket, userProperties: UserProperty[] | undefined, now: number): MessageProps {
  const props: MessageProps = userProperties !== undefined ? readFerryControls(userProperties, now) : {}
  props.qos = packet.qos
  if (userProperties !== undefined) props.userProperties = userProperties
  const p = packet.properties
  if (conn.protocolVersion !== 5 || p === undefined) return props
  if (p.messageExpiryInterval !== undefined) {
    const expiresAt = now + p.messageExpiryInterval * 1000
    props.expiresAt = props.expiresAt === undefined ? expiresAt : Math.min(props.expiresAt, expiresAt)
  }
  if (p.payloadFormatIndicator !== undefined) props.payloadFormat = p.payloadFormatIndicator ? 1 : 0
  if (p.contentType !== undefined) props.contentType = p.contentType
  if (p.responseTopic !== undefined) {
    // A Response Topic is a topic name: no wildcards [MQTT-3.3.2-14]; kept as a full name in our namespace.
    if (!isValidTopicName(p.responseTopic)) throw new FerryError(MqttCode.TOPIC_INVALID, 'Response Topic must be a topic name without wildcards')
    props.responseTopic = fullTopicName((conn.session as { namespace: string }).namespace, p.responseTopic)
  }
  if (p.correlationData !== undefined) props.correlationData = Buffer.from(p.correlationData)
  return props
}
