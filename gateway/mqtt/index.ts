/**
 * The MQTT 3.1.1 / 5.0 front end: public surface.
 */
export { createMqttFrontEnd } from './front-end.js'
export { listenMqttTcp, type TcpListenOptions } from './transport-tcp.js'
export { mqttWebSocketBehavior, type MqttWsUserData } from './transport-ws.js'
export { DEFAULT_MQTT_LIMITS } from './constants.js'
export { CloseReason } from './errors.js'
export type {
  MqttFrontEnd, MqttClientInfo, MqttSessionInfo, MqttListener, MqttLimits, MqttDeps, MqttStats, ClientContext, Authenticate, AuthorizeSubscribe, Transport, TransportEvents
} from './types.js'
