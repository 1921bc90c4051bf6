/**
 * Reading one segment's frames from disk: walk them in order, verify each,
 * and tell where they end (the end of the file, preallocated zeros, a torn
 * write, or a bad frame) and which damaged ranges have valid frames after
 * them. It holds no ledger state and decides nothing: recovery.ts decides
 * what an end or a damaged range means at open (cut, quarantine, refuse),
 * and the ledger's background scrub (verifySealedSegment, here) reports it.
 * Separate from recovery.ts because both of those use the same walk, and
 * because the byte-level resynchronisation is a job of its own.
 */
import { RECOVERY_CHUNK_BYTES, RESYNC_WINDOW_BYTES_MIN } from './constants.js'
import type { Disk, DiskFile } from './disk/disk.js'
import { FRAME_HEADER_BYTES, FrameStatus, checkFrame } from './framing.js'
import { SEGMENT_HEADER_BYTES, checkSegmentHeader, segmentName } from './segment.js'

/** Where a segment's frames end: at the end of the file, at preallocated zeros, or at a bad frame with no valid one after it. */
export interface ScanEnd { headerOk: boolean, kind: 'clean' | 'zeros' | 'torn' | 'corrupt', end: number }
/** Damaged bytes followed by a valid frame (or by bytes known to be complete). */
export interface Damage { offset: number, bytes: number }

/** True when the file holds only zero bytes from `from` to `size` (preallocated space). */
async function zerosToEnd (file: DiskFile, from: number, size: number): Promise<boolean> {
  for (let pos = from; pos < size; pos += RECOVERY_CHUNK_BYTES) {
    const b = await file.read(pos, Math.min(RECOVERY_CHUNK_BYTES, size - pos))
    for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false
  }
  return true
}

/** Sequential reads in chunks, the next chunk read ahead while the previous one is parsed. */
class ChunkReader {
  private buf: Buffer = Buffer.alloc(0)
  private start = 0
  private ahead: { from: number, p: Promise<Buffer> } | null = null

  constructor (private readonly file: DiskFile, readonly size: number) {}

  /** Bytes [pos, pos + len) clipped to the file: `buf[at]` is the byte at pos. */
  async get (pos: number, len: number): Promise<{ buf: Buffer, at: number }> {
    const end = Math.min(this.size, pos + len)
    if (pos >= this.start && end <= this.start + this.buf.length) return { buf: this.buf, at: pos - this.start }
    const parts: Buffer[] = []
    if (pos >= this.start && pos < this.start + this.buf.length) parts.push(this.buf.subarray(pos - this.start))
    let have = pos + (parts[0]?.length ?? 0)
    while (have < end) {
      let chunk: Buffer
      if (this.ahead !== null && this.ahead.from === have) {
        chunk = await this.ahead.p
      } else {
        chunk = await this.file.read(have, Math.min(this.size - have, Math.max(RECOVERY_CHUNK_BYTES, end - have)))
      }
      this.ahead = null
      if (chunk.length === 0) break
      parts.push(chunk)
      have += chunk.length
    }
    this.buf = parts.length === 1 ? parts[0] as Buffer : Buffer.concat(parts)
    this.start = pos
    if (have < this.size && this.ahead === null) {
      const p = this.file.read(have, Math.min(RECOVERY_CHUNK_BYTES, this.size - have))
      p.catch(() => {})
      this.ahead = { from: have, p }
    }
    return { buf: this.buf, at: 0 }
  }
}

/** The first position in [from, from + windowBytes] holding a valid frame, if any. */
async function nextValidFrame (r: ChunkReader, segmentId: number, from: number, windowBytes: number, payloadBytesMax: number): Promise<number | undefined> {
  const last = Math.min(r.size - FRAME_HEADER_BYTES - 1, from + windowBytes)
  if (last < from) return undefined
  const { buf, at } = await r.get(from, last - from + FRAME_HEADER_BYTES)
  for (let c = from; c <= last; c++) {
    const i = at + c - from
    if (i + FRAME_HEADER_BYTES > buf.length) break
    const len = buf.readUInt32LE(i)
    if (len === 0 || len > payloadBytesMax || c + FRAME_HEADER_BYTES + len > r.size) continue
    let b = buf
    let j = i
    if (j + FRAME_HEADER_BYTES + len > buf.length) ({ buf: b, at: j } = await r.get(c, FRAME_HEADER_BYTES + len))
    if (checkFrame(b, j, segmentId, c, payloadBytesMax).status === FrameStatus.ok) return c
  }
  return undefined
}

/**
 * Walk the frames of one segment. A bad frame followed by a valid one within
 * a maximal frame's length (or lying before `completeTo`, below which the
 * segment is known to be whole) is damage: reported through onDamage, and the
 * walk goes on after it. A bad frame with nothing valid after it ends the walk.
 */
export async function scanSegment (
  file: DiskFile, segmentId: number, size: number, payloadBytesMax: number, completeTo: number,
  onFrame: (buf: Buffer, at: number, offset: number, payloadBytes: number) => void,
  onDamage: (d: Damage, bytes: Buffer) => Promise<void>
): Promise<ScanEnd> {
  const r = new ChunkReader(file, size)
  const headerOk = checkSegmentHeader(await file.read(0, SEGMENT_HEADER_BYTES), segmentId)
  const windowBytes = Math.max(RESYNC_WINDOW_BYTES_MIN, FRAME_HEADER_BYTES + payloadBytesMax)
  const damaged = async (from: number, to: number): Promise<void> => {
    const { buf, at } = await r.get(from, to - from)
    await onDamage({ offset: from, bytes: to - from }, Buffer.from(buf.subarray(at, at + to - from)))
  }
  let pos = SEGMENT_HEADER_BYTES
  if (!headerOk) {
    // A torn creation has no valid frame after the header; a damaged header has.
    const q = await nextValidFrame(r, segmentId, pos, windowBytes, payloadBytesMax)
    if (q === undefined) return { headerOk, kind: 'torn', end: 0 }
    if (q > pos) await damaged(pos, q)
    pos = q
  }
  for (;;) {
    if (pos >= size) return { headerOk, kind: 'clean', end: pos }
    let kind: 'torn' | 'corrupt'
    if (size - pos < FRAME_HEADER_BYTES) {
      kind = 'torn'
    } else {
      const h = await r.get(pos, FRAME_HEADER_BYTES)
      const len = h.buf.readUInt32LE(h.at)
      if (len === 0 || len > payloadBytesMax) {
        if (len === 0 && h.buf.readUInt32LE(h.at + 4) === 0 && await zerosToEnd(file, pos, size)) return { headerOk, kind: 'zeros', end: pos }
        kind = 'corrupt'
      } else if (pos + FRAME_HEADER_BYTES + len > size) {
        kind = 'torn' // a partial last frame, or a damaged length pointing past the end
      } else {
        const f = await r.get(pos, FRAME_HEADER_BYTES + len)
        if (checkFrame(f.buf, f.at, segmentId, pos, payloadBytesMax).status === FrameStatus.ok) {
          onFrame(f.buf, f.at, pos, len)
          pos += FRAME_HEADER_BYTES + len
          continue
        }
        kind = 'corrupt'
      }
    }
    // A torn write can only be the end of the last write: valid frames after it mean damage.
    const q = await nextValidFrame(r, segmentId, pos + 1, windowBytes, payloadBytesMax)
    const to = q ?? (completeTo > pos ? completeTo : undefined)
    if (to === undefined) return { headerOk, kind, end: pos }
    await damaged(pos, to)
    pos = to
  }
}

/**
 * Background scrub of one sealed segment: verify every frame. Returns
 * undefined when intact (damage already quarantined at `knownOffsets` counts
 * as intact), else where the first new damage is.
 */
export async function verifySealedSegment (disk: Disk, dir: string, id: number, payloadBytesMax: number, knownOffsets: ReadonlySet<number>): Promise<{ offset: number, reason: string } | undefined> {
  const file = await disk.open(`${dir}/${segmentName(id)}`, false)
  try {
    const size = await file.size()
    let found: { offset: number, reason: string } | undefined
    const end = await scanSegment(file, id, size, payloadBytesMax, size, () => {}, async (d) => {
      if (found === undefined && !knownOffsets.has(d.offset)) found = { offset: d.offset, reason: 'corrupt' }
    })
    if (!end.headerOk && found === undefined) found = { offset: 0, reason: 'badHeader' }
    return found
  } finally {
    await file.close()
  }
}
