/**
 * Record framing: [u32le payloadBytes][u32le crc32c][payload].
 *
 * The checksum covers the record's own position (segment id and offset)
 * before the payload, so a record written to, or read from, the wrong place
 * (misdirected write, stale file) fails its check like a flipped bit does.
 */
import { crc32c } from '@node-rs/crc32'

export const FRAME_HEADER_BYTES = 8

/**
 * The crc32c of the payload, started from a state derived from the position
 * (one native call per frame instead of two).
 */
export function frameChecksum (segmentId: number, offset: number, payload: Uint8Array): number {
  const seed = (Math.imul(segmentId, 0x9E3779B1) ^ offset) >>> 0
  return crc32c(payload, seed) >>> 0
}

/** Write the frame header for `payload` at buf[at]. */
export function writeFrameHeader (buf: Buffer, at: number, payloadBytes: number, checksum: number): void {
  buf.writeUInt32LE(payloadBytes, at)
  buf.writeUInt32LE(checksum >>> 0, at + 4)
}

export const FrameStatus = {
  ok: 0,
  /** Not enough bytes for the header or the payload: end of data (torn or just the end). */
  short: 1,
  /** Length is zero or beyond the limit: garbage. */
  badLength: 2,
  /** Checksum mismatch. */
  badChecksum: 3
} as const
export type FrameStatus = typeof FrameStatus[keyof typeof FrameStatus]

/**
 * Check the frame at buf[at]; `offset` is its position in the segment.
 * Returns the status and, when ok, the payload length.
 */
export function checkFrame (buf: Buffer, at: number, segmentId: number, offset: number, payloadBytesMax: number): { status: FrameStatus, payloadBytes: number } {
  if (at + FRAME_HEADER_BYTES > buf.length) return { status: FrameStatus.short, payloadBytes: 0 }
  const payloadBytes = buf.readUInt32LE(at)
  if (payloadBytes === 0 || payloadBytes > payloadBytesMax) return { status: FrameStatus.badLength, payloadBytes }
  if (at + FRAME_HEADER_BYTES + payloadBytes > buf.length) return { status: FrameStatus.short, payloadBytes }
  const want = buf.readUInt32LE(at + 4)
  const got = frameChecksum(segmentId, offset, buf.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + payloadBytes)) >>> 0
  return { status: got === want ? FrameStatus.ok : FrameStatus.badChecksum, payloadBytes }
}
