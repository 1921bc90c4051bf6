/**
 * Opening the log: pick the newest readable checkpoint, verify every frame of
 * every segment, replay the records after the checkpoint, and cut the log at
 * its first bad byte. See the decision table in ledger-file.ts.
 */
import assert from 'node:assert/strict'
import { RECOVERY_CHUNK_BYTES, RESYNC_WINDOW_BYTES_MIN } from './constants.js'
import { parseQuarantineName, quarantineName, writeQuarantineFile, type DamagedRange } from './quarantine.js'
import { FRAME_HEADER_BYTES, FrameStatus, checkFrame } from './framing.js'
import { checkpointName, decodeSnapshot, parseCheckpointName, readCheckpointFile, type Snapshot } from './checkpoint.js'
import { decodeRecord, peekMessage, type LogRecord } from './records.js'
import {
  SEGMENT_HEADER_BYTES, checkSegmentHeader, encodeSegmentHeader, isSpareSegmentName, lsnOf, offsetOfLsn, parseSegmentName, segmentName, segmentOfLsn
} from './segment.js'
import { StoreCode, storeError } from './errors.js'

/** Bytes of a cut tail frame read to guess its entry id (a message header is well under this). */
const TAIL_HEAD_BYTES = 64
import type { Disk, DiskFile } from './disk/disk.js'

export interface RecoveryInput {
  disk: Disk
  dir: string
  repair: boolean
  /** Verify sealed segments wholly before the checkpoint too (otherwise the ledger scrubs them in the background). */
  verifyAll: boolean
  payloadBytesMax: number
  /** After a failed write or fsync: nothing at or after this lsn may survive. */
  cutLsn: number | undefined
  onEvent: (event: string, details: Record<string, unknown>) => void
  restore: (s: Snapshot) => void
  apply: (rec: LogRecord, lsn: number, bytes: number) => void
  /**
   * A damaged range set aside (new or known from an earlier open), in log
   * order with the records around it. `payload`: its bytes after the frame
   * header when it lies at or after the replay point (its record is not in
   * the checkpoint), for guessing which entry id it held.
   */
  onDamage: (range: DamagedRange, payload: Buffer | undefined) => void
  /** The log is cut at tailLsn, at a bad frame; `payload` holds its first bytes after the frame header. */
  onTailCut: (tailLsn: number, payload: Buffer) => void
}

export interface RecoveryOutput {
  segmentIds: number[]
  checkpointLsns: number[]
  lastSegmentId: number
  endOffset: number
  /** Sealed segments not verified at open (before the checkpoint); the ledger scrubs them. */
  skippedSegmentIds: number[]
  /** Size of the last segment file (>= endOffset: preallocated zeros follow the log). */
  lastFileSize: number
  file: DiskFile
  recordsReplayed: number
  truncatedBytes: number
  corruptRecords: number
}

/** Where a segment's frames end: at the end of the file, at preallocated zeros, or at a bad frame with no valid one after it. */
interface ScanEnd { headerOk: boolean, kind: 'clean' | 'zeros' | 'torn' | 'corrupt', end: number }
/** Damaged bytes followed by a valid frame (or by bytes known to be complete). */
interface Damage { offset: number, bytes: number }

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
async function scanSegment (
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

export async function recoverLog (inp: RecoveryInput): Promise<RecoveryOutput> {
  const { disk, dir } = inp
  await disk.mkdirp(dir)
  const names = await disk.list(dir)
  // Half-written checkpoints, and spare segments (prepared for a roll, never part of the log: spare-segment.ts).
  for (const n of names) if (n.endsWith('.tmp') || isSpareSegmentName(n)) await disk.unlink(`${dir}/${n}`)
  let segmentIds = names.map(parseSegmentName).filter((x): x is number => x !== undefined).sort((a, b) => a - b)
  const ckptLsns = names.map(parseCheckpointName).filter((x): x is number => x !== undefined).sort((a, b) => b - a)
  let truncatedBytes = 0
  let corruptRecords = 0
  let recordsReplayed = 0
  let dirDirty = false

  // 1. Apply a cut left by a failed write or fsync.
  if (inp.cutLsn !== undefined) {
    const cutSeg = segmentOfLsn(inp.cutLsn)
    for (const id of segmentIds.filter((s) => s > cutSeg)) {
      const p = `${dir}/${segmentName(id)}`
      truncatedBytes += (await disk.stat(p)) ?? 0
      await disk.unlink(p)
    }
    segmentIds = segmentIds.filter((s) => s <= cutSeg)
    if (segmentIds.includes(cutSeg)) {
      const f = await disk.open(`${dir}/${segmentName(cutSeg)}`, false)
      const size = await f.size()
      if (size > offsetOfLsn(inp.cutLsn)) truncatedBytes += size - offsetOfLsn(inp.cutLsn)
      // Always cut and sync: the failed writer may have cut the page cache already, but not the disk.
      try {
        await f.truncate(Math.min(size, offsetOfLsn(inp.cutLsn)))
        await f.datasync()
      } finally {
        await f.close()
      }
    }
    await disk.syncDir(dir)
  }

  // 2. Damage found by earlier opens (its copy lies next to the segment).
  const known = new Map<number, Map<number, string>>()
  for (const n of names) {
    const q = parseQuarantineName(n)
    if (q === undefined) continue
    if (!segmentIds.includes(q.segmentId)) continue // retention took the segment; the copy goes too
    let m = known.get(q.segmentId)
    if (m === undefined) { m = new Map(); known.set(q.segmentId, m) }
    m.set(q.offset, n)
  }

  // 3. Segments are contiguous, or a retention pass was cut short by a crash:
  //    a gap may only lie below the replay point of a usable checkpoint.
  let gapAbove: number | undefined
  for (let i = 1; i < segmentIds.length; i++) if (segmentIds[i] !== (segmentIds[i - 1] as number) + 1) gapAbove = i
  const firstSeg = gapAbove === undefined ? segmentIds[0] : segmentIds[gapAbove]

  // 4. Newest readable checkpoint whose replay point lies inside the (contiguous) log.
  let snapshot: Snapshot | undefined
  for (const lsn of ckptLsns) {
    const body = await readCheckpointFile(disk, `${dir}/${checkpointName(lsn)}`)
    if (body === undefined) {
      corruptRecords++
      inp.onEvent('checkpoint-unreadable', { file: checkpointName(lsn) })
      continue
    }
    if (firstSeg === undefined || segmentOfLsn(lsn) < firstSeg) {
      inp.onEvent('checkpoint-unusable', { file: checkpointName(lsn), reason: 'its segments are gone' })
      continue
    }
    try {
      snapshot = decodeSnapshot(body)
    } catch (err) {
      corruptRecords++
      inp.onEvent('checkpoint-unreadable', { file: checkpointName(lsn), err: String(err) })
      continue
    }
    break
  }
  if (gapAbove !== undefined) {
    const missing = segmentName((segmentIds[gapAbove - 1] as number) + 1)
    if (snapshot === undefined) throw storeError(StoreCode.STORE_CORRUPT, `segment ${missing} is missing`, { details: { dir } })
    // Everything below the gap was being deleted by retention (it deletes a prefix only): finish the job, oldest first.
    const leftovers = segmentIds.slice(0, gapAbove)
    for (const id of leftovers) {
      await disk.unlink(`${dir}/${segmentName(id)}`)
      for (const offset of known.get(id)?.keys() ?? []) await disk.unlink(`${dir}/${quarantineName(id, offset)}`).catch(() => {})
      known.delete(id)
      await disk.syncDir(dir)
    }
    segmentIds = segmentIds.slice(gapAbove)
    inp.onEvent('retention-finished', { reason: `segment ${missing} was deleted but older ones were not (a retention pass cut short)`, segmentsDeleted: leftovers.map(segmentName) })
  }
  if (snapshot === undefined && firstSeg !== undefined && firstSeg !== 1) {
    throw storeError(StoreCode.STORE_CORRUPT, 'no readable checkpoint and the log does not start at its first segment', { details: { dir, firstSegment: firstSeg } })
  }
  const replayFrom = snapshot?.replayFrom ?? 0
  if (snapshot !== undefined) inp.restore(snapshot)

  // 5. Verify every segment; replay what the checkpoint lacks; quarantine damage followed by valid frames.
  let lastFile: DiskFile | undefined
  const skippedSegmentIds: number[] = []
  let endOffset = SEGMENT_HEADER_BYTES
  let lastSize = 0
  const replaySegment = segmentOfLsn(replayFrom)
  // A failed open closes what it opened: the segment being read (`current`) and the last one (`lastFile`).
  let current: DiskFile | undefined
  let lastSegmentId: number
  try {
    for (let i = 0; i < segmentIds.length; i++) {
      const id = segmentIds[i] as number
      const isLast = i === segmentIds.length - 1
      const knownHere = known.get(id) ?? new Map<number, string>()
      // Sealed segments the checkpoint covers are not read at open (restart must not rescan the whole log).
      if (!inp.verifyAll && !isLast && id < replaySegment) {
        skippedSegmentIds.push(id)
        for (const [offset, file] of knownHere) inp.onDamage({ segmentId: id, offset, bytes: (await disk.stat(`${dir}/${file}`)) ?? 0, known: true, file }, undefined)
        continue
      }
      const path = `${dir}/${segmentName(id)}`
      const file = await disk.open(path, false)
      current = file
      const size = await file.size()
      // Below this offset the segment is known to be whole: all of a sealed one, the checkpointed part of the last one.
      const completeTo = !isLast ? size : id === replaySegment ? offsetOfLsn(replayFrom) : 0
      let decodeFailedAt: number | undefined
      const onDamage = async (d: { offset: number, bytes: number }, bytes: Buffer): Promise<void> => {
        let name = knownHere.get(d.offset)
        if (name === undefined) {
          const details = { code: StoreCode.STORE_CORRUPT, segment: segmentName(id), offset: d.offset, bytes: d.bytes }
          if (!isLast && !inp.repair) {
            inp.onEvent('sealed-segment-corrupt', details)
            throw storeError(StoreCode.STORE_CORRUPT, `sealed segment ${segmentName(id)} is damaged at offset ${d.offset}; open with repair: true to quarantine the damaged record and keep the rest`, { details })
          }
          name = await writeQuarantineFile(disk, dir, id, d.offset, bytes)
          dirDirty = true
          corruptRecords++
          inp.onEvent('corrupt-record-quarantined', { ...details, file: name })
        }
        const lsn = lsnOf(id, d.offset)
        inp.onDamage({ segmentId: id, offset: d.offset, bytes: d.bytes, known: knownHere.has(d.offset), file: name }, lsn >= replayFrom ? bytes.subarray(Math.min(bytes.length, FRAME_HEADER_BYTES)) : undefined)
      }
      const end = await scanSegment(file, id, size, inp.payloadBytesMax, completeTo, (buf, at, offset, payloadBytes) => {
        const lsn = lsnOf(id, offset)
        if (lsn < replayFrom || decodeFailedAt !== undefined) return
        let rec: LogRecord
        try {
          // Message records: read the few fields replay needs without decoding the payload.
          rec = peekMessage(buf, at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + payloadBytes) ??
            decodeRecord(buf.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + payloadBytes))
        } catch {
          decodeFailedAt = offset
          return
        }
        inp.apply(rec, lsn, FRAME_HEADER_BYTES + payloadBytes)
        recordsReplayed++
      }, onDamage)
      if (decodeFailedAt !== undefined) throw storeError(StoreCode.STORE_CORRUPT, `undecodable record with a valid checksum in ${segmentName(id)} at ${decodeFailedAt}`)
      if (!end.headerOk) {
        const torn = end.kind === 'torn' && end.end === 0
        if (!isLast && !inp.repair) {
          throw storeError(StoreCode.STORE_CORRUPT, `sealed segment ${segmentName(id)} has a damaged header; open with repair: true to rewrite it`, { details: { segment: segmentName(id) } })
        }
        if (torn && isLast) {
          // A segment whose creation was torn: start it again.
          inp.onEvent('segment-header-rewritten', { segment: segmentName(id), size, reason: 'torn creation' })
          truncatedBytes += size
          await file.truncate(0)
        } else {
          // Valid frames follow a damaged header: the header carries nothing but its own id; write it again, keep the frames.
          corruptRecords++
          inp.onEvent('segment-header-rewritten', { code: StoreCode.STORE_CORRUPT, segment: segmentName(id), size, reason: 'damaged header before valid frames' })
        }
        await file.write(encodeSegmentHeader(id), 0)
        await file.datasync()
        if (torn) {
          lastFile = file
          current = undefined
          endOffset = SEGMENT_HEADER_BYTES
          lastSize = endOffset
          continue
        }
      }
      if (end.kind === 'clean' || end.kind === 'zeros') {
        // zeros: the log ends where the preallocated zeros begin (only the last segment has them).
        current = undefined
        if (isLast) { lastFile = file; endOffset = Math.max(SEGMENT_HEADER_BYTES, end.end); lastSize = size } else await file.close()
        continue
      }
      // The last segment ends in a bad frame with nothing valid after it: the end of the last write. Cut there.
      assert.ok(isLast, 'a sealed segment is whole: its damage is quarantined or refused above')
      if (end.kind === 'corrupt') corruptRecords++
      const head = await file.read(end.end + FRAME_HEADER_BYTES, TAIL_HEAD_BYTES)
      inp.onTailCut(lsnOf(id, end.end), head)
      truncatedBytes += size - end.end
      inp.onEvent('log-tail-cut', { segment: segmentName(id), offset: end.end, bytes: size - end.end, reason: end.kind })
      await file.truncate(end.end)
      await file.datasync()
      lastFile = file
      current = undefined
      endOffset = Math.max(SEGMENT_HEADER_BYTES, end.end)
      lastSize = endOffset
    }
    if (dirDirty) await disk.syncDir(dir)

    // 6. An empty directory gets its first segment.
    if (lastFile === undefined) {
      const id = 1
      lastFile = await disk.open(`${dir}/${segmentName(id)}`, true)
      await lastFile.truncate(0)
      await lastFile.write(encodeSegmentHeader(id), 0)
      await lastFile.datasync()
      await disk.syncDir(dir)
      segmentIds = [id]
      endOffset = SEGMENT_HEADER_BYTES
      lastSize = endOffset
    }
    // The writer takes everything up to endOffset as durable: make it so (a crashed process may have left it in the page cache only).
    await lastFile.datasync()
    lastSegmentId = segmentIds[segmentIds.length - 1] as number
    if (replayFrom > lsnOf(lastSegmentId, endOffset)) {
      throw storeError(StoreCode.STORE_CORRUPT, 'the checkpoint is ahead of the recovered log', { details: { replayFrom, end: lsnOf(lastSegmentId, endOffset) } })
    }
  } catch (err) {
    await current?.close().catch(() => {})
    await lastFile?.close().catch(() => {})
    throw err
  }
  return { segmentIds, checkpointLsns: ckptLsns, lastSegmentId, endOffset, skippedSegmentIds, lastFileSize: lastSize, file: lastFile, recordsReplayed, truncatedBytes, corruptRecords }
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
