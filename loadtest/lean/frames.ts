/**
 * MQTT 3.1.1 frames built by hand for the lean load generator: precomputed
 * once per connection or per message, so the generator spends its time on the
 * socket and not in a client library. Only the packets a benchmark needs.
 */

export const PacketType = {
  connect: 1,
  connack: 2,
  publish: 3,
  puback: 4,
  subscribe: 8,
  suback: 9,
  pingreq: 12,
  pingresp: 13,
  disconnect: 14
} as const

/** Bytes of an MQTT remaining-length varint for n. */
function varintBytes (n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4
}

function writeVarint (buf: Buffer, at: number, n: number): number {
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    buf[at++] = b
  } while (n > 0)
  return at
}

function frame (first: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(1 + varintBytes(body.length) + body.length)
  out[0] = first
  const at = writeVarint(out, 1, body.length)
  body.copy(out, at)
  return out
}

function str (s: string): Buffer {
  const b = Buffer.from(s, 'utf8')
  const out = Buffer.allocUnsafe(2 + b.length)
  out.writeUInt16BE(b.length, 0)
  b.copy(out, 2)
  return out
}

/** CONNECT, MQTT 3.1.1, clean session, keep alive 0 (benchmarks are short). */
export function connectFrame (clientId: string, cleanSession = true): Buffer {
  const header = Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, cleanSession ? 0x02 : 0x00, 0, 0])
  return frame(PacketType.connect << 4, Buffer.concat([header, str(clientId)]))
}

export function subscribeFrame (packetId: number, filter: string, qos: 0 | 1): Buffer {
  const id = Buffer.allocUnsafe(2)
  id.writeUInt16BE(packetId, 0)
  return frame((PacketType.subscribe << 4) | 0x02, Buffer.concat([id, str(filter), Buffer.from([qos])]))
}

export function pubackFrame (packetId: number): Buffer {
  return Buffer.from([PacketType.puback << 4, 2, packetId >> 8, packetId & 0xff])
}

export const DISCONNECT_FRAME = Buffer.from([PacketType.disconnect << 4, 0])

/**
 * A PUBLISH template for one topic and payload size. `fill` rewrites the
 * packet id and the payload's first bytes (the stamp) in place and returns
 * the same buffer, so a publisher allocates nothing per message; callers that
 * keep several frames in flight in one write must copy (writes are batched
 * into one concatenated buffer, which copies anyway).
 */
export class PublishTemplate {
  readonly frame: Buffer
  private readonly packetIdAt: number
  readonly payloadAt: number

  constructor (topic: string, payloadBytes: number, readonly qos: 0 | 1) {
    const t = str(topic)
    const bodyLen = t.length + (qos > 0 ? 2 : 0) + payloadBytes
    this.frame = Buffer.alloc(1 + varintBytes(bodyLen) + bodyLen, 0x61)
    this.frame[0] = (PacketType.publish << 4) | (qos << 1)
    let at = writeVarint(this.frame, 1, bodyLen)
    t.copy(this.frame, at)
    at += t.length
    this.packetIdAt = at
    if (qos > 0) at += 2
    this.payloadAt = at
  }

  /** Stamp packet id and the 16-byte stamp (publisher, sequence, send time) into the frame. */
  fill (packetId: number, stamp: Stamp): Buffer {
    if (this.qos > 0) this.frame.writeUInt16BE(packetId, this.packetIdAt)
    writeStamp(this.frame, this.payloadAt, stamp)
    return this.frame
  }
}

/** What every generated payload starts with, so the receiver can check loss, duplicates and latency. */
export interface Stamp { publisher: number, seq: number, sentMs: number }

/** Bytes of the stamp: publisher u16, pad u16, seq u32, sent time float64 (ms, one clock per process). */
export const STAMP_BYTES = 16

export function writeStamp (buf: Buffer, at: number, s: Stamp): void {
  buf.writeUInt16BE(s.publisher, at)
  buf.writeUInt16BE(0, at + 2)
  buf.writeUInt32BE(s.seq >>> 0, at + 4)
  buf.writeDoubleBE(s.sentMs, at + 8)
}

export function readStamp (buf: Buffer, at: number): Stamp {
  return { publisher: buf.readUInt16BE(at), seq: buf.readUInt32BE(at + 4), sentMs: buf.readDoubleBE(at + 8) }
}
