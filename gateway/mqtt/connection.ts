/**
 * One MQTT network connection, whatever the transport: bytes → Framer →
 * mqtt-packet → the handler of the packet type (handlers/). States:
 *
 *   awaitConnect --CONNECT ok--> connected --DISCONNECT / error / socket gone--> closed
 *        \--------- anything else, timeout, bad CONNECT -----------------------/
 *
 * Owns the keep alive timer, topic aliases both ways, the inbound QoS window
 * and PUBACK ordering, and backpressure in both directions.
 */
import { CLOSE_FLUSH_MS, INBOUND_PUBLISHES_PENDING_MAX, KEEPALIVE_GRACE_FACTOR, OUTBOUND_TOPIC_ALIASES_MAX } from './constants.js'
import { createPacketParser, encodePublish, generate, publishPacketBytes, type OutboundPublish, type Packet, type PacketParser, type ProtocolVersion } from './codec.js'
import { encodePubacksSuccess } from './fast-codec.js'
import { CloseReason, DISCONNECT_CODE_OF } from './errors.js'
import { FrameError, Framer } from './framer.js'
import { handlePacket } from './handlers/index.js'
import type { ConnectionHandle, FrontEndCore } from './core.js'
import type { ProducerRef } from '../dispatch/index.js'
import { ConnState } from './conn-state.js'
import type { Session, SessionLink } from './session.js'
import type { ClientContext, Transport, TransportEvents } from './types.js'
import type { WillMessage } from './will.js'



/**
 * An acknowledgement slot: PUBACK/PUBREC go out in the order the PUBLISHes came [MQTT-4.6.0-2].
 * One inbound publish's answer, sent in arrival order; `pubackId` >= 0: a successful QoS 1 PUBACK (no packet object). */
export interface AckSlot { ready: boolean, packet: Packet | undefined, close: CloseReason | undefined, pubackId: number }

export class Connection implements TransportEvents, ConnectionHandle, SessionLink {
  state: ConnState = ConnState.awaitConnect
  protocolVersion: ProtocolVersion = 4
  clientId = ''
  private producerRef: ProducerRef | undefined
  /** This client as the producer of its publishes (topic stats): made once, not per publish. */
  get producer (): ProducerRef {
    if (this.producerRef?.name !== this.clientId) this.producerRef = { name: this.clientId, protocol: 'mqtt' }
    return this.producerRef
  }
  ctx: ClientContext | undefined
  session: Session | undefined
  will: WillMessage | undefined
  /** v5 client limits from CONNECT. */
  clientReceiveMax = 65535
  clientMaxPacketBytes = Number.POSITIVE_INFINITY
  clientTopicAliasMax = 0
  /** v5 Request Problem Information: when false, no Reason String outside CONNACK/DISCONNECT [MQTT-3.1.2-29]. */
  problemInformation = true
  /** The client asked for Ferry's delivery metadata (CONNECT user property `ferry-metadata: 1`). */
  ferryMetadata = false
  /** Inbound topic aliases (v5): alias → local topic name. */
  // Made on first use: most connections (idle ones above all) never need it, and an empty Map is ~170 B.
  private lazy_inboundAliases: Map<number, string> | undefined
  get inboundAliases (): Map<number, string> { return (this.lazy_inboundAliases ??= new Map<number, string>()) }
  /** Inbound QoS 1/2 publishes not yet completed (against our Receive Maximum). */
  inboundQosInFlight = 0
  /** Inbound publishes (any QoS) waiting for the store, and their payload bytes: we stop reading beyond a bound. */
  private storingCount = 0
  private storingBytes = 0
  // Made on first use: most connections (idle ones above all) never need it, and an empty Map is ~170 B.
  private lazy_outboundAliases: Map<string, number> | undefined
  private get outboundAliases (): Map<string, number> { return (this.lazy_outboundAliases ??= new Map<string, number>()) }
  private readonly ackQueue: AckSlot[] = []
  /** Successful PUBACKs due, in order, written together (completePuback); at most the publishes in flight. */
  private readonly pubacksDue: number[] = []
  private readonly framer: Framer
  private readonly parser: PacketParser = createPacketParser()
  private keepAliveMs = 0
  private lastPacketAtMs = Date.now()
  private timer: NodeJS.Timeout | undefined
  private writeBlocked = false
  // Made on first use: most connections (idle ones above all) never need it, and an empty Set is ~170 B.
  private lazy_pausedFor: Set<string> | undefined
  private get pausedFor (): Set<string> { return (this.lazy_pausedFor ??= new Set<string>()) }
  private willSuppressed = false
  /** The pacing wait this connection's reads are paused for (memory durability), if any. */
  private pacedUntil: Promise<void> | undefined
  private early: Buffer[] = []
  private earlyBytes = 0

  constructor (readonly core: FrontEndCore, readonly transport: Transport) {
    this.framer = new Framer(core.limits.maxPacketBytes)
    core.connections.add(this)
    this.timer = setTimeout(() => { this.close(CloseReason.connectTimeout) }, core.limits.connectTimeoutMs)
    this.timer.unref()
  }

  get outboundWindow (): number {
    return this.protocolVersion === 5 ? this.clientReceiveMax : this.core.limits.inflightMessagesMax3
  }

  // ---------------------------------------------------------------------------
  // Transport events

  onData (bytes: Buffer): void {
    if (this.state === ConnState.closed) return
    this.lastPacketAtMs = Date.now()
    const err = this.framer.push(bytes, (raw) => {
      this.onPacket(raw)
      return this.state !== ConnState.closed
    })
    if (err === FrameError.tooLarge) this.close(CloseReason.packetTooLarge)
    else if (err === FrameError.malformedLength) this.close(CloseReason.malformedPacket)
  }

  onDrain (): void {
    if (this.state === ConnState.closed) return
    if (this.transport.bufferedBytes() > this.core.limits.maxConnectionBufferBytes / 2) return
    this.writeBlocked = false
    this.resume('outbound')
    this.session?.drained()
  }

  onOverflow (): void {
    this.close(CloseReason.bufferOverflow)
  }

  onClose (error?: Error): void {
    if (error !== undefined) this.core.logger.debug({ err: error, clientId: this.clientId }, 'transport error')
    this.teardown(CloseReason.transportClosed)
  }

  private onPacket (raw: Buffer): void {
    if (this.state === ConnState.connecting) {
      // Clients may send packets right after CONNECT, before CONNACK (MQTT 5.0 3.1.4, non-normative): hold them (bounded) until CONNACK.
      this.early.push(Buffer.from(raw))
      this.earlyBytes += raw.length
      if (this.earlyBytes > this.core.limits.maxConnectionBufferBytes) this.close(CloseReason.bufferOverflow)
      else this.pause('connecting')
      return
    }
    const parsed = this.parser.parseOne(raw)
    if (parsed instanceof Error) {
      this.core.logger.debug({ err: parsed, clientId: this.clientId }, 'malformed packet')
      this.close(CloseReason.malformedPacket)
      return
    }
    try {
      handlePacket(this, parsed, raw)
    } catch (err) {
      this.core.logger.error({ err, clientId: this.clientId, cmd: parsed.cmd }, 'packet handler failed')
      this.close(CloseReason.internalError)
    }
  }

  /** CONNACK went out: run what arrived meanwhile, in order. */
  connected (): void {
    this.state = ConnState.connected
    const early = this.early
    this.early = []
    this.earlyBytes = 0
    for (const raw of early) {
      if (this.state !== ConnState.connected) return
      this.onPacket(raw)
    }
    this.resume('connecting')
  }

  // ---------------------------------------------------------------------------
  // Output

  send (packet: Packet): void {
    this.write(generate(packet, this.protocolVersion))
  }

  write (bytes: Buffer): void {
    if (this.state === ConnState.closed) return
    if (!this.transport.write(bytes) || this.transport.bufferedBytes() > this.core.limits.maxConnectionBufferBytes) {
      // Stop reading from this client until its socket drains: what it sends makes us write more.
      this.writeBlocked = true
      this.pause('outbound')
    }
  }

  backedUp (): boolean { return this.writeBlocked }

  /**
   * Write a PUBLISH within the client's Maximum Packet Size [MQTT-3.1.2-24]:
   * our own extra user properties are dropped when they do not fit; false
   * (nothing sent) when even the bare message does not [MQTT-3.1.2-25].
   */
  sendPublish (m: OutboundPublish): boolean {
    const newAlias = this.protocolVersion === 5 && this.clientTopicAliasMax > 0 ? this.applyOutboundAlias(m) : undefined
    // No Maximum Packet Size from the client (always so in 3.1.1): nothing to measure before encoding.
    if (this.clientMaxPacketBytes !== Number.POSITIVE_INFINITY) {
      if (m.extraUserProperties !== undefined && publishPacketBytes(m, this.protocolVersion) > this.clientMaxPacketBytes) m.extraUserProperties = undefined
      if (publishPacketBytes(m, this.protocolVersion) > this.clientMaxPacketBytes) return false
    }
    // Only a sent PUBLISH teaches the client an alias.
    if (newAlias !== undefined) this.outboundAliases.set(newAlias.topic, newAlias.alias)
    this.write(encodePublish(m, this.protocolVersion))
    return true
  }

  sendPubrel (packetId: number): void {
    this.send({ cmd: 'pubrel', messageId: packetId, reasonCode: 0 })
  }

  /**
   * Topic aliases towards the client (v5): first use sends topic + alias,
   * later ones only the alias. Returns a new alias to remember once sent.
   */
  private applyOutboundAlias (m: OutboundPublish): { topic: string, alias: number } | undefined {
    const known = this.outboundAliases.get(m.topic)
    if (known !== undefined) { m.topicAlias = known; m.topic = ''; return undefined }
    if (this.outboundAliases.size >= Math.min(this.clientTopicAliasMax, OUTBOUND_TOPIC_ALIASES_MAX)) return undefined
    const alias = this.outboundAliases.size + 1
    m.topicAlias = alias
    return { topic: m.topic, alias }
  }

  // ---------------------------------------------------------------------------
  // Ordered acknowledgements of inbound publishes

  reserveAck (): AckSlot {
    const slot: AckSlot = { ready: false, packet: undefined, close: undefined, pubackId: -1 }
    this.ackQueue.push(slot)
    return slot
  }

  /** reserveAck with the caller's own slot (an inbound publish's sink is its slot: no object of its own per publish). */
  queueAck (slot: AckSlot): void {
    this.ackQueue.push(slot)
  }

  completeAck (slot: AckSlot, packet: Packet | undefined, close?: CloseReason): void {
    slot.ready = true
    slot.packet = packet
    slot.close = close
    this.drainAcks()
  }

  /**
   * The common answer, a successful PUBACK: the ones that come due in one turn of
   * microtasks (a group commit acknowledges many publishes at once) go out as one
   * buffer (fanin, issue 11), with no packet object or buffer each; still in order
   * with every other answer.
   */
  completePuback (slot: AckSlot, packetId: number): void {
    slot.ready = true
    slot.pubackId = packetId
    this.drainAcks()
  }

  private drainAcks (): void {
    while (this.ackQueue.length > 0 && (this.ackQueue[0] as AckSlot).ready) {
      const s = this.ackQueue.shift() as AckSlot
      if (s.pubackId >= 0) {
        if (this.pubacksDue.length === 0) queueMicrotask(() => { this.flushPubacks() })
        this.pubacksDue.push(s.pubackId)
        continue
      }
      this.flushPubacks() // what came before this answer goes before it
      if (s.close !== undefined) { this.close(s.close); return }
      if (s.packet !== undefined) this.send(s.packet)
    }
  }

  private flushPubacks (): void {
    const ids = this.pubacksDue
    if (ids.length === 0) return
    this.write(encodePubacksSuccess(ids))
    ids.length = 0
  }

  // ---------------------------------------------------------------------------
  // Reading backpressure

  pause (why: string): void {
    if (this.lazy_pausedFor === undefined || this.lazy_pausedFor.size === 0) this.transport.pauseReading()
    this.pausedFor.add(why)
  }

  resume (why: string): void {
    if (this.lazy_pausedFor?.delete(why) !== true) return
    if (this.lazy_pausedFor.size > 0) return
    this.lazy_pausedFor = undefined // an idle connection keeps no Set
    if (this.state !== ConnState.closed) this.transport.resumeReading()
  }

  /**
   * An inbound publish went to the store. Memory is bounded by reading less,
   * not by disconnecting: past INBOUND_PUBLISHES_PENDING_MAX publishes or
   * maxConnectionBufferBytes of payload waiting for the store, we stop
   * reading from the client until half of them are stored.
   */
  storeStarted (bytes: number): void {
    this.storingCount++
    this.storingBytes += bytes
    if (this.storingCount >= INBOUND_PUBLISHES_PENDING_MAX || this.storingBytes >= this.core.limits.maxConnectionBufferBytes) this.pause('storing')
  }

  /**
   * Memory durability (gateway/dispatch/publish-pacer.ts): the topic's slowest subscriber is too far behind, so
   * read nothing more from this publisher until `until` resolves (bounded there by MEMORY_PUBLISH_HOLD_MS_MAX).
   * What was read is stored and acknowledged as usual; TCP holds the rest.
   */
  paceReads (until: Promise<void>): void {
    if (this.pacedUntil === until || this.state === ConnState.closed) return
    if (this.pacedUntil === undefined) this.pause('paced')
    this.pacedUntil = until
    this.core.pacedReads++
    const readOn = (): void => {
      if (this.pacedUntil !== until) return
      clearTimeout(hold)
      this.pacedUntil = undefined
      // The time paused must not count as the client's silence [MQTT-3.1.2-24].
      this.lastPacketAtMs = Date.now()
      this.resume('paced')
    }
    const hold = setTimeout(readOn, this.core.limits.pacedReadHoldMsMax)
    hold.unref()
    void until.then(readOn)
  }

  storeSettled (bytes: number): void {
    this.storingCount--
    this.storingBytes -= bytes
    if (this.storingCount <= INBOUND_PUBLISHES_PENDING_MAX / 2 && this.storingBytes <= this.core.limits.maxConnectionBufferBytes / 2) this.resume('storing')
  }

  // ---------------------------------------------------------------------------
  // Keep alive

  /** Start the keep alive clock: 1.5 x the interval without any packet closes [MQTT-3.1.2-24]. */
  startKeepAlive (keepAliveSec: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.keepAliveMs = keepAliveSec * 1000 * KEEPALIVE_GRACE_FACTOR
    if (this.keepAliveMs > 0) this.armKeepAlive(this.keepAliveMs)
  }

  private armKeepAlive (afterMs: number): void {
    this.timer = setTimeout(() => {
      const idleMs = Date.now() - this.lastPacketAtMs
      if (idleMs >= this.keepAliveMs) { this.close(CloseReason.keepAliveTimeout); return }
      this.armKeepAlive(this.keepAliveMs - idleMs)
    }, afterMs)
    this.timer.unref()
  }

  // ---------------------------------------------------------------------------
  // Closing

  /** The client sent DISCONNECT: no will (unless v5 0x04 asked for it) [MQTT-3.14.4-3]. */
  suppressWill (): void { this.willSuppressed = true }

  /**
   * Close with a reason. v5 clients get a DISCONNECT with the reason code
   * once CONNACK went out [MQTT-4.13.1-1]; before that, only the socket closes.
   * `serverReference`: where the client should go (failover steering, reason 0x9C; MQTT 5.0 4.11).
   */
  close (reason: CloseReason, serverReference?: string): void {
    if (this.state === ConnState.closed) return
    const code = DISCONNECT_CODE_OF[reason]
    if (code !== undefined && this.protocolVersion === 5 && this.state === ConnState.connected) {
      this.send(serverReference !== undefined ? { cmd: 'disconnect', reasonCode: code, properties: { serverReference } } : { cmd: 'disconnect', reasonCode: code })
    }
    this.teardown(reason)
    this.transport.end()
    const t = setTimeout(() => { this.transport.destroy() }, CLOSE_FLUSH_MS)
    t.unref()
  }

  private teardown (reason: CloseReason): void {
    if (this.state === ConnState.closed) return
    const wasConnected = this.state === ConnState.connected
    this.state = ConnState.closed
    this.ctx?.grant?.release() // gateway/auth: quota slot and revocation watch
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.core.connections.delete(this)
    this.core.countClose(reason)
    this.core.logger.info({ clientId: this.clientId, reason, transport: this.transport.kind, remote: this.transport.remoteAddress }, 'connection closed')
    if (!wasConnected || this.session === undefined) return
    // No will when the server closes for shutdown or steers the client to another site (it reconnects there).
    if (this.will !== undefined && !this.willSuppressed && reason !== CloseReason.serverShuttingDown && reason !== CloseReason.useAnotherServer) {
      this.core.wills.schedule(this.clientId, this.will, this.session.persistent ? this.session.expirySec : 0)
    }
    this.core.sessions.release(this.clientId, this, this.session)
  }
}
