/**
 * MQTT over WebSocket on the uWebSockets.js app (`app.ws('/mqtt', ...)`):
 * subprotocol `mqtt` [MQTT-6.0.0-3] [MQTT-6.0.0-4], binary frames only
 * [MQTT-6.0.0-1], packets split across or packed within frames (the Framer
 * does not care where frames end) [MQTT-6.0.0-2]. The only file that touches
 * uWebSockets.js sockets.
 */
import type { HttpRequest, HttpResponse, WebSocket, WebSocketBehavior } from '../uws.js'
import { MqttCode } from './errors.js'
import type { MqttFrontEnd, Transport, TransportEvents } from './types.js'

export interface MqttWsUserData {
  remoteAddress: string
  /** `Authorization: Bearer` token of the upgrade request (gateway/auth reads it). */
  bearerToken?: string
  transport?: WsTransport
}

/** uWS `send` results. */
const SEND_DROPPED = 2
const SEND_OK = 1

class WsTransport implements Transport {
  /** 'ws' or 'wss' (the listener's; failover steering sends a client to the same kind of endpoint). */
  kind = 'ws'
  events: TransportEvents | undefined
  closed = false
  private paused = false
  private held: Buffer[] = []
  private heldBytes = 0

  constructor (private readonly ws: WebSocket<MqttWsUserData>, readonly remoteAddress: string, private readonly heldBytesMax: number, readonly bearerToken?: string) {}

  /** Packets written in this tick, sent as one binary frame (MQTT may pack packets in a frame [MQTT-6.0.0-2]). */
  private batch: Buffer[] = []
  private batchBytes = 0
  /** False after a send built up backpressure; true again on drain. */
  lastSendOk = true

  write (bytes: Buffer): boolean {
    if (this.closed) return true
    if (this.batch.length === 0) process.nextTick(() => { this.flush() })
    this.batch.push(bytes)
    this.batchBytes += bytes.length
    return this.lastSendOk
  }

  private flush (): void {
    const parts = this.batch
    this.batch = []
    this.batchBytes = 0
    if (this.closed || parts.length === 0) return
    const frame = parts.length === 1 ? parts[0] as Buffer : Buffer.concat(parts)
    let r = SEND_OK
    this.ws.cork(() => { r = this.ws.send(frame, true, false) })
    // A dropped frame would corrupt the MQTT byte stream: close instead.
    if (r === SEND_DROPPED) { this.destroy(); return }
    this.lastSendOk = r === SEND_OK
  }

  bufferedBytes (): number { return this.closed ? 0 : this.ws.getBufferedAmount() + this.batchBytes }

  /** uWS cannot stop reading a WebSocket: hold frames (bounded) until resumed, close beyond the bound. */
  pauseReading (): void { this.paused = true }

  resumeReading (): void {
    this.paused = false
    while (!this.paused && this.held.length > 0 && !this.closed) {
      const b = this.held.shift() as Buffer
      this.heldBytes -= b.length
      this.events?.onData(b)
    }
  }

  received (bytes: Buffer): void {
    if (!this.paused) { this.events?.onData(bytes); return }
    if (this.heldBytes + bytes.length > this.heldBytesMax) {
      // Nothing more can be held: close with a reason (v5 DISCONNECT 0x97), counted as buffer_overflow.
      this.held = []
      this.heldBytes = 0
      this.paused = false
      this.events?.onOverflow()
      return
    }
    this.held.push(bytes)
    this.heldBytes += bytes.length
  }

  end (): void {
    if (this.closed) return
    this.flush()
    if (!this.closed) { this.closed = true; this.ws.end(1000) }
  }
  destroy (): void { if (!this.closed) { this.closed = true; this.ws.close() } }
}

function offersMqtt (header: string): boolean {
  return header.split(',').some((p) => p.trim().toLowerCase() === 'mqtt')
}

export function mqttWebSocketBehavior (front: MqttFrontEnd, secure = false): WebSocketBehavior<MqttWsUserData> {
  const limits = front.limits
  return {
    // Frames may pack several packets; the Framer enforces the per-packet limit.
    maxPayloadLength: limits.maxConnectionBufferBytes,
    maxBackpressure: limits.maxConnectionBufferBytes * 2,
    // MQTT keep alive does the liveness checks; uWS's idle timeout would cut long keep alives short.
    idleTimeout: 0,
    sendPingsAutomatically: false,
    upgrade (res: HttpResponse, req: HttpRequest, context) {
      const protocols = req.getHeader('sec-websocket-protocol')
      if (!offersMqtt(protocols)) {
        res.writeStatus('400 Bad Request').writeHeader('content-type', 'application/json')
          .end(JSON.stringify({ error: { code: MqttCode.BAD_REQUEST, message: 'WebSocket subprotocol "mqtt" required' } }))
        return
      }
      const remoteAddress = Buffer.from(res.getRemoteAddressAsText()).toString()
      const bearer = /^Bearer\s+(\S+)$/i.exec(req.getHeader('authorization'))
      res.upgrade<MqttWsUserData>({ remoteAddress, ...(bearer !== null ? { bearerToken: bearer[1] as string } : {}) }, req.getHeader('sec-websocket-key'), 'mqtt', req.getHeader('sec-websocket-extensions'), context)
    },
    open (ws) {
      const data = ws.getUserData()
      const t = new WsTransport(ws, data.remoteAddress, limits.maxConnectionBufferBytes, data.bearerToken)
      if (secure) t.kind = 'wss'
      data.transport = t
      t.events = front.accept(t)
    },
    message (ws, message, isBinary) {
      const t = ws.getUserData().transport
      if (t === undefined || t.closed) return
      if (!isBinary) { t.destroy(); return } // [MQTT-6.0.0-1]
      // Copy: uWS neuters the ArrayBuffer when this callback returns.
      t.received(Buffer.from(new Uint8Array(message)))
    },
    drain (ws) {
      const t = ws.getUserData().transport
      if (t === undefined) return
      t.lastSendOk = true
      t.events?.onDrain()
    },
    close (ws) {
      const t = ws.getUserData().transport
      if (t === undefined) return
      t.closed = true
      t.events?.onClose()
    }
  }
}
