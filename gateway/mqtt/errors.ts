/**
 * Errors of the MQTT front end: the FerryError codes it raises (mapped to MQTT
 * reason codes and HTTP statuses in gateway/error-map.ts, the one table), and
 * why a connection closed (logged and counted), with the MQTT 5 DISCONNECT
 * reason code we send when the protocol allows one. Most refusals are reason
 * codes; errors from the dispatcher and store map through the same table.
 */
import { MqttReason } from '../error-map.js'

export const MqttCode = {
  /** A listener could not bind its address (port in use, no permission). */
  LISTEN: 'E_LISTEN',
  /** A topic name in a property (Response Topic) is not a valid topic name. */
  TOPIC_INVALID: 'E_TOPIC_INVALID',
  /** A WebSocket upgrade without the `mqtt` subprotocol [MQTT-6.0.0-3]. */
  BAD_REQUEST: 'E_BAD_REQUEST',
  /** The client's grant does not allow this publish (its namespace, action or topic patterns). */
  FORBIDDEN: 'E_FORBIDDEN'
} as const
export type MqttCode = typeof MqttCode[keyof typeof MqttCode]

export const CloseReason = {
  /** Client sent DISCONNECT. */
  clientDisconnect: 'client_disconnect',
  /** Socket closed or failed without DISCONNECT. */
  transportClosed: 'transport_closed',
  keepAliveTimeout: 'keepalive_timeout',
  connectTimeout: 'connect_timeout',
  malformedPacket: 'malformed_packet',
  protocolError: 'protocol_error',
  packetTooLarge: 'packet_too_large',
  receiveMaximumExceeded: 'receive_maximum_exceeded',
  topicAliasInvalid: 'topic_alias_invalid',
  topicNameInvalid: 'topic_name_invalid',
  notAuthorized: 'not_authorized',
  connectRefused: 'connect_refused',
  sessionTakenOver: 'session_taken_over',
  serverShuttingDown: 'server_shutting_down',
  /** Failover steering: this site sends its clients to another one (v5: 0x9C with Server Reference; gateway/topology-hook.ts). */
  useAnotherServer: 'use_another_server',
  bufferOverflow: 'buffer_overflow',
  /** 3.1.1 publish the store refused: close without PUBACK so the client resends. */
  publishFailed: 'publish_failed',
  internalError: 'internal_error',
  /** Closed by an operator (admin API kick). */
  administrativeAction: 'administrative_action'
} as const
export type CloseReason = typeof CloseReason[keyof typeof CloseReason]

/** MQTT 5 DISCONNECT reason code sent for each close reason (undefined: none is sent). */
export const DISCONNECT_CODE_OF: Readonly<Record<CloseReason, number | undefined>> = {
  client_disconnect: undefined,
  transport_closed: undefined,
  keepalive_timeout: MqttReason.keepAliveTimeout,
  connect_timeout: undefined,
  malformed_packet: MqttReason.malformedPacket,
  protocol_error: MqttReason.protocolError,
  packet_too_large: MqttReason.packetTooLarge,
  receive_maximum_exceeded: MqttReason.receiveMaximumExceeded,
  topic_alias_invalid: MqttReason.topicAliasInvalid,
  topic_name_invalid: MqttReason.topicNameInvalid,
  not_authorized: MqttReason.notAuthorized,
  connect_refused: undefined,
  session_taken_over: MqttReason.sessionTakenOver,
  server_shutting_down: 0x8b,
  use_another_server: MqttReason.useAnotherServer,
  buffer_overflow: MqttReason.quotaExceeded,
  publish_failed: MqttReason.unspecifiedError,
  internal_error: MqttReason.unspecifiedError,
  administrative_action: MqttReason.administrativeAction
}

/** 3.1.1 CONNACK return codes (3.2.2.3). */
export const ConnackCode3 = {
  accepted: 0,
  unacceptableProtocolVersion: 1,
  identifierRejected: 2,
  serverUnavailable: 3,
  badUserNameOrPassword: 4,
  notAuthorized: 5
} as const

/** 3.1.1 SUBACK failure return code [MQTT-3.9.3-2]. */
export const SUBACK_FAILURE_3 = 0x80
