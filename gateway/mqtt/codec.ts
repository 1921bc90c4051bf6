/**
 * The MQTT codec: mqtt-packet for parsing and for generating every packet but
 * PUBLISH, plus what mqtt-packet does not do:
 *  - user properties in the order received [MQTT-3.3.2-18]: mqtt-packet keeps
 *    them in an object, merging repeated names into arrays (a=1,b=2,a=3 comes
 *    out as {a:[1,3],b:2}); we walk the raw properties ourselves;
 *  - UTF-8 validity of topic names and filters [MQTT-1.5.4-1]: mqtt-packet
 *    decodes bad bytes to U+FFFD without complaint;
 *  - outbound PUBLISH with ordered user properties (our own encoder).
 * Every generate call passes the connection's protocol version: mqtt-packet
 * defaults to 3.1.1, which silently drops v5 reason codes.
 */
import { isUtf8 } from 'node:buffer'
import mqttPacket from 'mqtt-packet'
import type { Packet } from 'mqtt-packet'
import type { UserProperty } from '../../store/index.js'
import { encodePubackSuccess, fastDecode } from './fast-codec.js'

export type { Packet }
export type ProtocolVersion = 3 | 4 | 5

/** One parser per connection: it adopts the protocol version of the CONNECT it parses. */
export interface PacketParser {
  /** Parse exactly one whole packet (from the Framer). Returns the packet or an Error. */
  parseOne (bytes: Buffer): Packet | Error
}

// Outbound numbers are written on the fly: mqtt-packet's default cache is 65,536 two-byte Buffers
// (~6 MB of heap) made on the first generate, for packets (CONNACK, SUBACK, ...) that are not on the hot path.
mqttPacket.writeToStream.cacheNumbers = false

/**
 * mqtt-packet's parser is a stream with a BufferList (about 1 KB of heap), so
 * a connection holds one only while it parses a packet the fast path does
 * not take; between packets only the protocol version is kept. Idle
 * connections (PINGREQ only) never hold one.
 */
export function createPacketParser (): PacketParser {
  let version: ProtocolVersion | undefined
  return {
    parseOne (bytes) {
      if (version !== undefined) {
        // PUBLISH / PUBACK / PINGREQ of the common shapes skip mqtt-packet (fast-codec.ts).
        const fast = fastDecode(bytes, version)
        if (fast !== undefined) return fast
      }
      const parser = mqttPacket.parser(version !== undefined ? { protocolVersion: version } : undefined)
      let got: Packet | undefined
      let err: Error | undefined
      parser.on('packet', (p: Packet) => { got = p })
      parser.on('error', (e: Error) => { err = e })
      parser.parse(bytes)
      if (err !== undefined) return err
      if (got === undefined) return new Error('incomplete packet')
      if (got.cmd === 'connect') version = (got.protocolVersion ?? 4) as ProtocolVersion
      return got
    }
  }
}

export function generate (packet: Packet, protocolVersion: ProtocolVersion): Buffer {
  if (packet.cmd === 'puback' && (packet.reasonCode ?? 0) === 0 && packet.properties === undefined) return encodePubackSuccess(packet.messageId ?? 0)
  return mqttPacket.generate(packet, { protocolVersion })
}

// ---------------------------------------------------------------------------
// Raw property walking

const PropType = { byte: 1, int16: 2, int32: 4, varint: 5, string: 6, binary: 7, pair: 8 } as const
type PropType = typeof PropType[keyof typeof PropType]

/** MQTT 5 property identifiers and their wire types (MQTT 5.0 section 2.2.2.2). */
const PROPERTY_TYPES: Record<number, PropType> = {
  0x01: PropType.byte, // payload format indicator
  0x02: PropType.int32, // message expiry interval
  0x03: PropType.string, // content type
  0x08: PropType.string, // response topic
  0x09: PropType.binary, // correlation data
  0x0b: PropType.varint, // subscription identifier
  0x11: PropType.int32, // session expiry interval
  0x12: PropType.string, // assigned client identifier
  0x13: PropType.int16, // server keep alive
  0x15: PropType.string, // authentication method
  0x16: PropType.binary, // authentication data
  0x17: PropType.byte, // request problem information
  0x18: PropType.int32, // will delay interval
  0x19: PropType.byte, // request response information
  0x1a: PropType.string, // response information
  0x1c: PropType.string, // server reference
  0x1f: PropType.string, // reason string
  0x21: PropType.int16, // receive maximum
  0x22: PropType.int16, // topic alias maximum
  0x23: PropType.int16, // topic alias
  0x24: PropType.byte, // maximum qos
  0x25: PropType.byte, // retain available
  0x26: PropType.pair, // user property
  0x27: PropType.int32, // maximum packet size
  0x28: PropType.byte, // wildcard subscription available
  0x29: PropType.byte, // subscription identifier available
  0x2a: PropType.byte // shared subscription available
}
const USER_PROPERTY_ID = 0x26

/** Thrown by the raw walkers: the packet is malformed. */
export class MalformedPacket extends Error {
  override readonly name = 'MalformedPacket'
}

function readVarInt (buf: Buffer, off: number): { value: number, next: number } {
  let value = 0
  let mul = 1
  for (let i = 0; i < 4; i++) {
    if (off + i >= buf.length) throw new MalformedPacket('truncated variable byte integer')
    const b = buf[off + i] as number
    value += (b & 0x7f) * mul
    mul *= 128
    if ((b & 0x80) === 0) return { value, next: off + i + 1 }
  }
  throw new MalformedPacket('variable byte integer longer than 4 bytes')
}

/** Longest string checked byte by byte in JS before handing it to isUtf8 (a native call and a view), bytes. */
const ASCII_SCAN_BYTES_MAX = 128

/** A UTF-8 string must be well formed and contain no U+0000 [MQTT-1.5.4-1] [MQTT-1.5.4-2]. */
function checkUtf8 (buf: Buffer, start: number, end: number): void {
  // Short ASCII (nearly every topic name) is checked in place: no view object per packet (fanin, issue 11).
  if (end - start <= ASCII_SCAN_BYTES_MAX) {
    let i = start
    while (i < end) {
      const b = buf[i] as number
      if (b === 0) throw new MalformedPacket('UTF-8 string contains U+0000')
      if (b >= 0x80) break
      i++
    }
    if (i === end) return
  }
  const s = buf.subarray(start, end)
  if (!isUtf8(s)) throw new MalformedPacket('invalid UTF-8 string')
  if (s.includes(0)) throw new MalformedPacket('UTF-8 string contains U+0000')
}

function readString (buf: Buffer, off: number, end: number): { start: number, next: number } {
  if (off + 2 > end) throw new MalformedPacket('truncated string length')
  const len = buf.readUInt16BE(off)
  const start = off + 2
  if (start + len > end) throw new MalformedPacket('string runs past the packet')
  checkUtf8(buf, start, start + len)
  return { start, next: start + len }
}

/** Skip a fixed header; returns the offset of the variable header. */
function bodyStart (packet: Buffer): number {
  return readVarInt(packet, 1).next
}

/**
 * Walk a v5 property block at `off`: checks UTF-8 of string properties and
 * returns the user properties in wire order and where the block ends.
 */
export function walkProperties (buf: Buffer, off: number, end: number): { userProperties: UserProperty[] | undefined, next: number } {
  const { value: len, next: start } = readVarInt(buf, off)
  const stop = start + len
  if (stop > end) throw new MalformedPacket('properties run past the packet')
  let p = start
  let userProperties: UserProperty[] | undefined
  while (p < stop) {
    const id = buf[p++] as number
    const type = PROPERTY_TYPES[id]
    if (type === undefined) throw new MalformedPacket(`unknown property 0x${id.toString(16)}`)
    switch (type) {
      case PropType.byte: p += 1; break
      case PropType.int16: p += 2; break
      case PropType.int32: p += 4; break
      case PropType.varint: p = readVarInt(buf, p).next; break
      case PropType.string: p = readString(buf, p, stop).next; break
      case PropType.binary: {
        if (p + 2 > stop) throw new MalformedPacket('truncated binary property')
        p += 2 + buf.readUInt16BE(p)
        break
      }
      case PropType.pair: {
        const k = readString(buf, p, stop)
        const v = readString(buf, k.next, stop)
        if (id === USER_PROPERTY_ID) {
          userProperties ??= []
          userProperties.push([buf.toString('utf8', k.start, k.next), buf.toString('utf8', v.start, v.next)])
        }
        p = v.next
        break
      }
    }
    if (p > stop) throw new MalformedPacket('property runs past the property block')
  }
  return { userProperties, next: stop }
}

/** 3.1.1 publishes have no properties: one shared answer instead of an object per publish. */
const NO_USER_PROPERTIES: { readonly userProperties: undefined } = Object.freeze({ userProperties: undefined })

/**
 * Raw checks of an inbound PUBLISH: topic is valid UTF-8, and (v5) the user
 * properties in wire order.
 */
export function inspectPublish (packet: Buffer, version: ProtocolVersion): { userProperties: UserProperty[] | undefined } {
  const qos = ((packet[0] as number) >> 1) & 3
  const off = bodyStart(packet)
  const topic = readString(packet, off, packet.length)
  let p = topic.next + (qos > 0 ? 2 : 0)
  if (version !== 5) return NO_USER_PROPERTIES
  if (p > packet.length) throw new MalformedPacket('truncated publish')
  const props = walkProperties(packet, p, packet.length)
  p = props.next
  return { userProperties: props.userProperties }
}

/** Raw checks of SUBSCRIBE / UNSUBSCRIBE: every topic filter is valid UTF-8. */
export function inspectFilters (packet: Buffer, version: ProtocolVersion, hasOptions: boolean): void {
  let p = bodyStart(packet) + 2
  if (version === 5) p = walkProperties(packet, p, packet.length).next
  while (p < packet.length) {
    p = readString(packet, p, packet.length).next + (hasOptions ? 1 : 0)
  }
}

/** Raw checks of CONNECT: client id, will topic and user name are UTF-8; will user properties in order. */
export function inspectConnect (packet: Buffer): { willUserProperties: UserProperty[] | undefined } {
  let p = bodyStart(packet)
  p = readString(packet, p, packet.length).next // protocol name
  const version = packet[p] as number
  const flags = packet[p + 1] as number
  p += 4 // version, flags, keep alive
  if (p > packet.length) throw new MalformedPacket('truncated connect')
  if ((version & 0x7f) === 5) p = walkProperties(packet, p, packet.length).next
  p = readString(packet, p, packet.length).next // client id
  let willUserProperties: UserProperty[] | undefined
  if ((flags & 0x04) !== 0) {
    if ((version & 0x7f) === 5) {
      const w = walkProperties(packet, p, packet.length)
      willUserProperties = w.userProperties
      p = w.next
    }
    p = readString(packet, p, packet.length).next // will topic
    if (p + 2 > packet.length) throw new MalformedPacket('truncated will payload')
    p += 2 + packet.readUInt16BE(p)
  }
  if ((flags & 0x80) !== 0) p = readString(packet, p, packet.length).next // user name
  return { willUserProperties }
}

// ---------------------------------------------------------------------------
// Outbound PUBLISH encoder

export interface OutboundPublish {
  /** Empty when a topic alias already known to the client replaces it. */
  topic: string
  qos: 0 | 1 | 2
  retain: boolean
  dup: boolean
  packetId?: number
  payload: Buffer
  // v5 properties; ignored for 3.1.1
  payloadFormat?: 0 | 1
  messageExpirySec?: number
  contentType?: string
  responseTopic?: string
  correlationData?: Buffer
  subscriptionIds?: readonly number[]
  topicAlias?: number
  /** The publisher's user properties, exactly and in order [MQTT-3.3.2-18]. */
  userProperties?: readonly UserProperty[]
  /** Ferry's own (delivery metadata), written after the publisher's; the connection drops them when they do not fit. */
  extraUserProperties?: readonly UserProperty[]
}

function varIntBytes (n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4
}

function writeVarInt (buf: Buffer, off: number, n: number): number {
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    buf[off++] = b
  } while (n > 0)
  return off
}

/** Size of the v5 property block contents (without its length prefix). */
function propsBytes (m: OutboundPublish): number {
  let n = 0
  if (m.payloadFormat !== undefined) n += 2
  if (m.messageExpirySec !== undefined) n += 5
  if (m.contentType !== undefined) n += 3 + Buffer.byteLength(m.contentType)
  if (m.responseTopic !== undefined) n += 3 + Buffer.byteLength(m.responseTopic)
  if (m.correlationData !== undefined) n += 3 + m.correlationData.length
  if (m.subscriptionIds !== undefined) for (const id of m.subscriptionIds) n += 1 + varIntBytes(id)
  if (m.topicAlias !== undefined) n += 3
  for (const list of [m.userProperties, m.extraUserProperties]) {
    if (list !== undefined) for (const [k, v] of list) n += 5 + Buffer.byteLength(k) + Buffer.byteLength(v)
  }
  return n
}

function writeStr (buf: Buffer, off: number, s: string): number {
  const len = buf.write(s, off + 2, 'utf8')
  buf.writeUInt16BE(len, off)
  return off + 2 + len
}

/** Size in bytes of the encoded packet (to check the client's Maximum Packet Size first). */
export function publishPacketBytes (m: OutboundPublish, version: ProtocolVersion): number {
  let remaining = 2 + Buffer.byteLength(m.topic) + (m.qos > 0 ? 2 : 0) + m.payload.length
  if (version === 5) {
    const pb = propsBytes(m)
    remaining += varIntBytes(pb) + pb
  }
  return 1 + varIntBytes(remaining) + remaining
}

export function encodePublish (m: OutboundPublish, version: ProtocolVersion): Buffer {
  const pb = version === 5 ? propsBytes(m) : 0
  const remaining = 2 + Buffer.byteLength(m.topic) + (m.qos > 0 ? 2 : 0) +
    (version === 5 ? varIntBytes(pb) + pb : 0) + m.payload.length
  const buf = Buffer.allocUnsafe(1 + varIntBytes(remaining) + remaining)
  buf[0] = 0x30 | (m.dup ? 0x08 : 0) | (m.qos << 1) | (m.retain ? 0x01 : 0)
  let off = writeVarInt(buf, 1, remaining)
  off = writeStr(buf, off, m.topic)
  if (m.qos > 0) { buf.writeUInt16BE(m.packetId ?? 0, off); off += 2 }
  if (version === 5) {
    off = writeVarInt(buf, off, pb)
    if (m.payloadFormat !== undefined) { buf[off++] = 0x01; buf[off++] = m.payloadFormat }
    if (m.messageExpirySec !== undefined) { buf[off++] = 0x02; buf.writeUInt32BE(m.messageExpirySec, off); off += 4 }
    if (m.contentType !== undefined) { buf[off++] = 0x03; off = writeStr(buf, off, m.contentType) }
    if (m.responseTopic !== undefined) { buf[off++] = 0x08; off = writeStr(buf, off, m.responseTopic) }
    if (m.correlationData !== undefined) {
      buf[off++] = 0x09
      buf.writeUInt16BE(m.correlationData.length, off)
      off += 2
      off += m.correlationData.copy(buf, off)
    }
    if (m.subscriptionIds !== undefined) for (const id of m.subscriptionIds) { buf[off++] = 0x0b; off = writeVarInt(buf, off, id) }
    if (m.topicAlias !== undefined) { buf[off++] = 0x23; buf.writeUInt16BE(m.topicAlias, off); off += 2 }
    for (const list of [m.userProperties, m.extraUserProperties]) {
      if (list !== undefined) for (const [k, v] of list) { buf[off++] = USER_PROPERTY_ID; off = writeStr(buf, off, k); off = writeStr(buf, off, v) }
    }
  }
  off += m.payload.copy(buf, off)
  return buf
}
