/**
 * Splits a byte stream into whole MQTT packets, before any parsing: an
 * explicit state machine (fixed header → body) that handles packets split
 * across reads or packed within one, and refuses a packet as soon as its
 * Remaining Length says it is too big — so an oversized packet never gets
 * buffered. Whole packets go to mqtt-packet one at a time, which also lets
 * us look at the raw bytes (ordered user properties, UTF-8 checks).
 */

export const FrameError = {
  /** Remaining Length uses more than 4 bytes [MQTT-1.5.5-1] / 2.1.4. */
  malformedLength: 'malformed_length',
  /** Packet bigger than our Maximum Packet Size, which the client must not send [MQTT-3.2.2-15]. */
  tooLarge: 'too_large'
} as const
export type FrameError = typeof FrameError[keyof typeof FrameError]

/** Fixed header is 1 type byte + up to 4 Remaining Length bytes. */
const FIXED_HEADER_BYTES_MAX = 5

export class Framer {
  /** Bytes of a fixed header split across reads (at most 4 kept). */
  private head: Buffer | undefined
  /** Packet being filled once its size is known. */
  private body: Buffer | undefined
  private filled = 0

  constructor (private readonly maxPacketBytes: number) {}

  /** Bytes held for an incomplete packet. */
  bufferedBytes (): number {
    return (this.head?.length ?? 0) + this.filled
  }

  /**
   * Feed received bytes; `onPacket` is called for each whole packet, in
   * order (the buffer may be a view into `chunk`: consume it synchronously or
   * copy). Returns an error and stops at the first bad packet.
   */
  push (chunk: Buffer, onPacket: (packet: Buffer) => boolean): FrameError | undefined {
    let data = chunk
    let off = 0
    if (this.head !== undefined) {
      data = Buffer.concat([this.head, chunk])
      this.head = undefined
    }
    while (off < data.length) {
      if (this.body !== undefined) {
        const n = Math.min(this.body.length - this.filled, data.length - off)
        data.copy(this.body, this.filled, off, off + n)
        this.filled += n
        off += n
        if (this.filled < this.body.length) return undefined
        const packet = this.body
        this.body = undefined
        this.filled = 0
        if (!onPacket(packet)) return undefined
        continue
      }
      // Fixed header: type byte, then the variable byte integer Remaining Length.
      let remaining = 0
      let multiplier = 1
      let i = off + 1
      let complete = false
      for (; i < data.length && i - off < FIXED_HEADER_BYTES_MAX; i++) {
        const b = data[i] as number
        remaining += (b & 0x7f) * multiplier
        multiplier *= 128
        if ((b & 0x80) === 0) { complete = true; i++; break }
      }
      if (!complete) {
        if (i - off >= FIXED_HEADER_BYTES_MAX) return FrameError.malformedLength
        this.head = Buffer.from(data.subarray(off))
        return undefined
      }
      const total = (i - off) + remaining
      if (total > this.maxPacketBytes) return FrameError.tooLarge
      if (data.length - off >= total) {
        const packet = data.subarray(off, off + total)
        off += total
        if (!onPacket(packet)) return undefined
        continue
      }
      this.body = Buffer.allocUnsafe(total)
      this.filled = data.length - off
      data.copy(this.body, 0, off)
      return undefined
    }
    return undefined
  }
}
