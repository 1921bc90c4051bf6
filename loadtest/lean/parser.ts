/**
 * Streaming MQTT fixed-header splitter for the lean load generator: input
 * split across reads is joined on purpose, and each whole packet is handed to
 * `onPacket` as (first byte, buffer, body start, body end) without copying
 * when a packet lies inside one read.
 */

/** Largest packet the generator accepts, bytes: far above any benchmark payload; a bigger one means a framing bug. */
export const LEAN_PACKET_BYTES_MAX = 16 * 1024 * 1024

export type PacketHandler = (first: number, buf: Buffer, bodyAt: number, bodyEnd: number) => void

export class FrameSplitter {
  private pending: Buffer | null = null

  constructor (private readonly onPacket: PacketHandler) {}

  push (chunk: Buffer): void {
    let buf = chunk
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk])
      this.pending = null
    }
    let at = 0
    while (at < buf.length) {
      if (buf.length - at < 2) break
      let len = 0
      let mul = 1
      let i = at + 1
      let complete = false
      for (let k = 0; k < 4 && i < buf.length; k++, i++) {
        const b = buf[i] as number
        len += (b & 0x7f) * mul
        mul *= 128
        if ((b & 0x80) === 0) { complete = true; i++; break }
      }
      if (!complete) {
        if (i - at > 4) throw new Error('lean parser: remaining length longer than 4 bytes')
        break
      }
      if (len > LEAN_PACKET_BYTES_MAX) throw new Error(`lean parser: packet of ${len} bytes`)
      if (i + len > buf.length) break
      this.onPacket(buf[at] as number, buf, i, i + len)
      at = i + len
    }
    if (at < buf.length) this.pending = buf.subarray(at)
  }
}

/** Where a PUBLISH's packet id and payload are, given its first byte and body. */
export function publishParts (first: number, buf: Buffer, bodyAt: number): { packetId: number, payloadAt: number, qos: number } {
  const qos = (first >> 1) & 0x03
  const topicLen = buf.readUInt16BE(bodyAt)
  let at = bodyAt + 2 + topicLen
  let packetId = 0
  if (qos > 0) { packetId = buf.readUInt16BE(at); at += 2 }
  return { packetId, payloadAt: at, qos }
}
