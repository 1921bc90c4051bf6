/**
 * The hot path's packets without mqtt-packet: PUBLISH, PUBACK and PINGREQ
 * in, PUBACK out. mqtt-packet's parser copies every packet into a BufferList (bl) and
 * calls `debug()` a dozen times per packet even when logging is off; in the
 * QoS 1 fan-in profile that was ~9% of the gateway's CPU (docs/BENCHMARKS.md).
 *
 * Only the common shapes take this path; anything else (a v5 PUBLISH with
 * properties, a PUBACK with properties, odd header flags) returns undefined
 * and goes to mqtt-packet, so error behaviour stays mqtt-packet's. The
 * objects built here have the fields and meaning mqtt-packet gives them.
 */
import type { IPingreqPacket, IPubackPacket, IPublishPacket } from 'mqtt-packet'
import type { ProtocolVersion } from './codec.js'

const TYPE_PUBLISH = 3
const TYPE_PUBACK = 4
const TYPE_PINGREQ = 12

/** MQTT 5 PUBACK reason codes a client may send (MQTT 5.0 3.4.2.1). */
const PUBACK_REASON_CODES = new Set([0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99])

/**
 * Decode a whole PUBLISH or PUBACK (from the Framer). Returns undefined for
 * any other packet or shape: the caller uses mqtt-packet for those.
 * The payload is a view into `bytes` (the caller copies, as for mqtt-packet's).
 */
export function fastDecode (bytes: Buffer, version: ProtocolVersion): IPublishPacket | IPubackPacket | IPingreqPacket | undefined {
  const b0 = bytes[0] as number
  const type = b0 >> 4
  if (type === TYPE_PINGREQ) {
    return b0 === 0xc0 && bytes.length === 2 ? { cmd: 'pingreq', retain: false, qos: 0, dup: false, length: 0, topic: null, payload: null } as unknown as IPingreqPacket : undefined
  }
  if (type !== TYPE_PUBLISH && type !== TYPE_PUBACK) return undefined
  // Remaining Length: the Framer has checked it and that the packet is whole.
  let p = 1
  let length = 0
  let mul = 1
  for (;;) {
    const b = bytes[p++] as number
    length += (b & 0x7f) * mul
    if ((b & 0x80) === 0) break
    mul *= 128
  }
  const end = bytes.length
  if (type === TYPE_PUBACK) {
    if ((b0 & 0x0f) !== 0) return undefined
    let reasonCode: number | undefined
    if (length === 2) reasonCode = version === 5 ? 0 : undefined
    else if (version !== 5) reasonCode = undefined // 3.1.1 ignores anything after the packet id, as mqtt-packet does
    else if (length === 3 || (length === 4 && bytes[p + 3] === 0)) reasonCode = bytes[p + 2] as number // v5: a reason code, maybe an empty property block
    else return undefined
    if (reasonCode !== undefined && !PUBACK_REASON_CODES.has(reasonCode)) return undefined
    const messageId = bytes.readUInt16BE(p)
    // Two literals, not a spread of `{ reasonCode }` or `{}`: a spread is a temporary object and a copy per PUBACK.
    if (reasonCode === undefined) return { cmd: 'puback', retain: false, qos: 0, dup: false, length, topic: null, payload: null, messageId } as unknown as IPubackPacket
    return { cmd: 'puback', retain: false, qos: 0, dup: false, length, topic: null, payload: null, messageId, reasonCode } as unknown as IPubackPacket
  }
  const qos = (b0 >> 1) & 3
  if (qos === 3) return undefined
  if (p + 2 > end) return undefined
  const topicLen = bytes.readUInt16BE(p)
  p += 2
  if (p + topicLen > end) return undefined
  const topic = bytes.toString('utf8', p, p + topicLen)
  p += topicLen
  let messageId: number | undefined
  if (qos > 0) {
    if (p + 2 > end) return undefined
    messageId = bytes.readUInt16BE(p)
    p += 2
  }
  if (version === 5) {
    // Only an empty property block takes the fast path.
    if (p >= end || bytes[p] !== 0) return undefined
    p += 1
  }
  // One object shape for every QoS (no property added afterwards, which would grow it per packet);
  // QoS 0 has no packet id, as with mqtt-packet, where `messageId` is absent.
  return {
    cmd: 'publish',
    retain: (b0 & 0x01) !== 0,
    qos,
    dup: (b0 & 0x08) !== 0,
    length,
    topic,
    payload: bytes.subarray(p),
    messageId
  } as IPublishPacket
}

/**
 * PUBACK with reason 0 and no properties: four bytes in every version
 * (MQTT 5 lets the reason code be left out when it is 0x00 with no
 * properties, 3.4.2.1).
 */
export function encodePubackSuccess (messageId: number): Buffer {
  const buf = Buffer.allocUnsafe(4)
  buf[0] = 0x40
  buf[1] = 2
  buf.writeUInt16BE(messageId, 2)
  return buf
}

/** Successful PUBACKs for `ids`, in order, in one buffer (4 bytes each, as encodePubackSuccess). */
export function encodePubacksSuccess (ids: readonly number[]): Buffer {
  const buf = Buffer.allocUnsafe(4 * ids.length)
  let o = 0
  for (const id of ids) {
    buf[o] = 0x40
    buf[o + 1] = 2
    buf[o + 2] = id >> 8
    buf[o + 3] = id & 0xff
    o += 4
  }
  return buf
}
