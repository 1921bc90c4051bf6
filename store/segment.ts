/**
 * Segment files: `seg-<id, 10 digits>.log`, a 32-byte header then frames
 * (`spare-<id>.seg`: the next one, prepared, not yet part of the log; named
 * apart from segments so nothing that looks for `seg-*.log` finds it).
 * Header: magic "FERRYSEG", u32 version, u32 segment id, 16 reserved zero
 * bytes... the last 4 being a crc32c of the first 28. Lsn = id * 2^32 + offset.
 */
import { crc32c } from '@node-rs/crc32'

export const SEGMENT_HEADER_BYTES = 32
export const SEGMENT_VERSION = 1
const MAGIC = Buffer.from('FERRYSEG')
export const LSN_SEGMENT_FACTOR = 2 ** 32

export function segmentName (id: number): string {
  return `seg-${String(id).padStart(10, '0')}.log`
}

/** The spare of segment `id`, prepared ahead of the roll (spare-segment.ts); recovery deletes spares. */
export function spareSegmentName (id: number): string {
  return `spare-${String(id).padStart(10, '0')}.seg`
}

export function isSpareSegmentName (name: string): boolean {
  return /^spare-\d{10}\.seg$/.test(name)
}

export function parseSegmentName (name: string): number | undefined {
  const m = /^seg-(\d{10})\.log$/.exec(name)
  return m === null ? undefined : Number(m[1])
}

export function lsnOf (segmentId: number, offset: number): number {
  return segmentId * LSN_SEGMENT_FACTOR + offset
}

export function segmentOfLsn (lsn: number): number {
  return Math.floor(lsn / LSN_SEGMENT_FACTOR)
}

export function offsetOfLsn (lsn: number): number {
  return lsn - segmentOfLsn(lsn) * LSN_SEGMENT_FACTOR
}

export function encodeSegmentHeader (id: number): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_BYTES)
  MAGIC.copy(b, 0)
  b.writeUInt32LE(SEGMENT_VERSION, 8)
  b.writeUInt32LE(id, 12)
  b.writeUInt32LE(crc32c(b.subarray(0, 28)) >>> 0, 28)
  return b
}

export function checkSegmentHeader (b: Buffer, id: number): boolean {
  if (b.length < SEGMENT_HEADER_BYTES) return false
  if (!b.subarray(0, 8).equals(MAGIC)) return false
  if (b.readUInt32LE(8) !== SEGMENT_VERSION || b.readUInt32LE(12) !== id) return false
  return (crc32c(b.subarray(0, 28)) >>> 0) === b.readUInt32LE(28)
}
