/**
 * CONNECT → CONNACK. Steps: raw checks (UTF-8, will user properties in
 * order), client identifier (assigned when empty), authentication (binds the
 * client to a namespace), will, session (takeover, clean start, expiry),
 * CONNACK with our limits, then the session attaches its subscriptions.
 */
import { randomBytes } from 'node:crypto'
import type { IConnectPacket } from 'mqtt-packet'
import type { MessageProps } from '../../../store/index.js'
import { MqttReason } from '../../error-map.js'
import { readFerryControls } from '../../message-props.js'
import { inspectConnect, MalformedPacket, type ProtocolVersion } from '../codec.js'
import { ConnState } from '../conn-state.js'
import type { Connection } from '../connection.js'
import { ASSIGNED_CLIENT_ID_HEX_CHARS, CLIENT_ID_BYTES_MAX, FERRY_METADATA_PROPERTY, WILL_DELAY_SEC_MAX } from '../constants.js'
import { CloseReason, ConnackCode3 } from '../errors.js'
import { fullTopicName, isValidTopicName } from '../topics.js'
import type { WillMessage } from '../will.js'

/** v5 CONNACK reason: Client Identifier not valid. */
const CLIENT_ID_NOT_VALID = 0x85

export function handleConnect (conn: Connection, packet: IConnectPacket, raw: Buffer): void {
  conn.state = ConnState.connecting
  const version = (packet.protocolVersion ?? 4) as ProtocolVersion
  conn.protocolVersion = version
  connect(conn, packet, raw).catch((err: unknown) => {
    conn.core.logger.error({ err, clientId: conn.clientId }, 'connect failed')
    refuse(conn, MqttReason.serverUnavailable, ConnackCode3.serverUnavailable)
  })
}

/** 3.1.1 return code for an authenticate hook's v5 refusal: 0x86 → 4, 0x87 → 5, anything else (quota, busy) → 3. */
function connackCode3Of (reason5: number): number {
  if (reason5 === 0x86) return ConnackCode3.badUserNameOrPassword
  if (reason5 === MqttReason.notAuthorized) return ConnackCode3.notAuthorized
  return ConnackCode3.serverUnavailable
}

function refuse (conn: Connection, reason5: number, code3: number, properties?: { serverReference: string }): void {
  if (conn.state === ConnState.closed) return
  if (conn.protocolVersion === 5) conn.send(properties !== undefined ? { cmd: 'connack', sessionPresent: false, reasonCode: reason5, properties } : { cmd: 'connack', sessionPresent: false, reasonCode: reason5 })
  else conn.send({ cmd: 'connack', sessionPresent: false, returnCode: code3 })
  // [MQTT-3.2.2-5]: a CONNACK with a non-zero code is followed by closing the connection.
  conn.close(CloseReason.connectRefused)
}

async function connect (conn: Connection, packet: IConnectPacket, raw: Buffer): Promise<void> {
  const core = conn.core
  const v5 = conn.protocolVersion === 5
  let willUserProperties
  try {
    willUserProperties = inspectConnect(raw).willUserProperties
  } catch (err) {
    if (!(err instanceof MalformedPacket)) throw err
    conn.close(CloseReason.malformedPacket)
    return
  }

  // Client identifier [MQTT-3.1.3-6] [MQTT-3.1.3-8].
  let clientId = packet.clientId
  let assigned: string | undefined
  const clean = packet.clean !== false
  if (clientId.length === 0) {
    if (!v5 && !clean) { refuse(conn, CLIENT_ID_NOT_VALID, ConnackCode3.identifierRejected); return }
    assigned = `ferry-${randomBytes(ASSIGNED_CLIENT_ID_HEX_CHARS / 2).toString('hex')}`
    clientId = assigned
  }
  if (Buffer.byteLength(clientId) > CLIENT_ID_BYTES_MAX) { refuse(conn, CLIENT_ID_NOT_VALID, ConnackCode3.identifierRejected); return }
  conn.clientId = clientId

  // Enhanced authentication is not offered: a method we do not know is refused (v5 0x8C).
  if (v5 && packet.properties?.authenticationMethod !== undefined) {
    refuse(conn, MqttReason.badAuthenticationMethod, ConnackCode3.notAuthorized)
    return
  }

  // Authentication binds the client to a namespace; outside dev mode anonymous clients are refused.
  // The transport's credentials (client certificate, WebSocket bearer token) go to the hook too (gateway/auth).
  const auth = await core.authenticate({
    clientId, username: packet.username, password: packet.password, remoteAddress: conn.transport.remoteAddress, transport: conn.transport.kind,
    peerCertificate: conn.transport.peerCertificate?.(), bearerToken: conn.transport.bearerToken, connection: conn
  })
  const grant = auth !== undefined && 'namespace' in auth ? auth.grant : undefined
  if (conn.state === ConnState.closed) { grant?.release(); return }
  if (auth === undefined) { refuse(conn, MqttReason.notAuthorized, ConnackCode3.notAuthorized); return }
  if ('refuse' in auth) { refuse(conn, auth.refuse, connackCode3Of(auth.refuse)); return }
  const namespace = auth.namespace
  if (grant?.sessionScope !== undefined) { clientId = `${grant.sessionScope}|${clientId}`; conn.clientId = clientId } // tenant-scoped sessions (gateway/auth)
  conn.ctx = { clientId, username: packet.username, namespace, protocolVersion: conn.protocolVersion, remoteAddress: conn.transport.remoteAddress, transport: conn.transport.kind, grant }
  // Failover steering (gateway/topology-hook.ts): while this site sends clients elsewhere (lease lost, store fenced,
  // draining), v5 gets CONNACK 0x9C Use Another Server with Server Reference (MQTT 5.0 3.2.2.2.16, 4.11); 3.1.1 rc 3.
  const serverReference = core.deps.steer?.({ namespace, transport: conn.transport.kind })
  if (serverReference !== undefined) { refuse(conn, MqttReason.useAnotherServer, ConnackCode3.serverUnavailable, { serverReference }); return }
  // A will is a publish: the grant must allow its topic (MQTT 5.0 section 3.2.2.2: a will the server would not accept is refused with CONNACK 0x87 Not authorized).
  if (packet.will !== undefined && grant !== undefined && grant.authorizePublish(packet.will.topic) !== 0) {
    refuse(conn, MqttReason.notAuthorized, ConnackCode3.notAuthorized)
    return
  }

  // Client limits (v5).
  const p = packet.properties
  if (v5 && p !== undefined) {
    if (p.receiveMaximum !== undefined) {
      if (p.receiveMaximum === 0) { conn.close(CloseReason.protocolError); return } // 0 is a Protocol Error (MQTT 5.0 3.1.2.11.3)
      conn.clientReceiveMax = p.receiveMaximum
    }
    if (p.maximumPacketSize !== undefined) conn.clientMaxPacketBytes = p.maximumPacketSize
    if (p.topicAliasMaximum !== undefined) conn.clientTopicAliasMax = p.topicAliasMaximum
    if (p.requestProblemInformation === false) conn.problemInformation = false
    // Ferry's delivery metadata only on request: by default deliveries carry exactly the publisher's user properties.
    const asked = (p.userProperties as Record<string, string | string[]> | undefined)?.[FERRY_METADATA_PROPERTY]
    conn.ferryMetadata = asked === '1' || (Array.isArray(asked) && asked.includes('1'))
  }

  // Will [MQTT-3.1.2-9].
  if (packet.will !== undefined) {
    const w = packet.will
    if (!isValidTopicName(w.topic)) { refuse(conn, MqttReason.topicNameInvalid, ConnackCode3.serverUnavailable); return }
    const props: MessageProps = { qos: w.qos }
    const wp = w.properties
    try {
      if (willUserProperties !== undefined) {
        Object.assign(props, readFerryControls(willUserProperties, Date.now()))
        props.userProperties = willUserProperties
      }
    } catch {
      refuse(conn, MqttReason.implementationSpecificError, ConnackCode3.serverUnavailable)
      return
    }
    if (wp?.messageExpiryInterval !== undefined) props.expiresAt = Date.now() + wp.messageExpiryInterval * 1000
    if (wp?.payloadFormatIndicator !== undefined) props.payloadFormat = wp.payloadFormatIndicator ? 1 : 0
    if (wp?.contentType !== undefined) props.contentType = wp.contentType
    if (wp?.responseTopic !== undefined) props.responseTopic = fullTopicName(namespace, wp.responseTopic)
    if (wp?.correlationData !== undefined) props.correlationData = Buffer.from(wp.correlationData)
    const will: WillMessage = {
      topic: fullTopicName(namespace, w.topic),
      payload: Buffer.from(w.payload ?? Buffer.alloc(0)),
      props,
      retain: w.retain === true,
      delaySec: Math.min(wp?.willDelayInterval ?? 0, WILL_DELAY_SEC_MAX)
    }
    conn.will = will
  }

  // Session: v5 Session Expiry Interval; 3.1.1 clean session 0 = persistent (capped, see constants).
  const requestedExpirySec = v5 ? (p?.sessionExpiryInterval ?? 0) : (clean ? 0 : core.limits.sessionExpirySecMax)
  const expirySec = Math.min(requestedExpirySec, core.limits.sessionExpirySecMax)
  const { session, present } = await core.sessions.take(clientId, namespace, clean, expirySec, conn)
  if ((conn.state as ConnState) === ConnState.closed) {
    core.sessions.release(clientId, conn, session)
    return
  }
  conn.session = session
  conn.inboundQosInFlight = session.inboundQos2.size

  // Keep alive; the server may impose its own (v5 Server Keep Alive [MQTT-3.2.2-21]).
  let keepAliveSec = packet.keepalive ?? 0
  let serverKeepAlive: number | undefined
  if (v5 && keepAliveSec > core.limits.keepAliveSecMax) {
    keepAliveSec = core.limits.keepAliveSecMax
    serverKeepAlive = keepAliveSec
  }

  if (v5) {
    const props: Record<string, unknown> = {
      receiveMaximum: core.limits.receiveMaximum,
      maximumPacketSize: core.limits.maxPacketBytes,
      topicAliasMaximum: core.limits.topicAliasMaximum,
      retainAvailable: true,
      wildcardSubscriptionAvailable: true,
      subscriptionIdentifiersAvailable: true,
      sharedSubscriptionAvailable: true
    }
    if (expirySec !== requestedExpirySec) props.sessionExpiryInterval = expirySec
    if (assigned !== undefined) props.assignedClientIdentifier = assigned
    if (serverKeepAlive !== undefined) props.serverKeepAlive = serverKeepAlive
    conn.send({ cmd: 'connack', sessionPresent: present, reasonCode: 0, properties: props })
  } else {
    // [MQTT-3.2.2-1]: clean session → session present 0.
    conn.send({ cmd: 'connack', sessionPresent: present, returnCode: ConnackCode3.accepted })
  }
  conn.startKeepAlive(keepAliveSec)
  // Attach first in the session's queue, so packets sent right after CONNECT (replayed by connected()) find it attached.
  const attached = session.serial(async () => {
    if (conn.state === ConnState.closed) return
    await session.attach(conn)
  })
  conn.connected()
  await attached
}
