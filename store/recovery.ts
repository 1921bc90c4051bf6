/**
 * Opening the log: pick the newest readable checkpoint, verify every frame of
 * every segment, replay the records after the checkpoint, and cut the log at
 * its first bad byte. See the decision table in ledger-file.ts.
 */
import { RECOVERY_CHUNK_BYTES } from './constants.js'
import { FRAME_HEADER_BYTES, FrameStatus, checkFrame } from './framing.js'
import { checkpointName, decodeSnapshot, parseCheckpointName, readCheckpointFile, type Snapshot } from './checkpoint.js'
import { decodeRecord, peekMessage, type LogRecord } from './records.js'
import {
  SEGMENT_HEADER_BYTES, checkSegmentHeader, encodeSegmentHeader, lsnOf, offsetOfLsn, parseSegmentName, segmentName, segmentOfLsn
} from './segment.js'
import { StoreCode, storeError } from './errors.js'
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

type ScanEnd = { kind: 'clean', end: number } | { kind: 'torn', end: number } | { kind: 'corrupt', end: number } | { kind: 'badHeader', end: number } | { kind: 'zeros', end: number }

/** True when the file holds only zero bytes from `from` to `size` (preallocated space). */
async function zerosToEnd (file: DiskFile, from: number, size: number): Promise<boolean> {
  for (let pos = from; pos < size; pos += RECOVERY_CHUNK_BYTES) {
    const b = await file.read(pos, Math.min(RECOVERY_CHUNK_BYTES, size - pos))
    for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false
  }
  return true
}

/** Walk the frames of one segment; call onRecord for those at or after fromLsn. */
async function scanSegment (file: DiskFile, segmentId: number, size: number, payloadBytesMax: number, onFrame: (buf: Buffer, at: number, offset: number, payloadBytes: number) => void): Promise<ScanEnd> {
  const header = await file.read(0, SEGMENT_HEADER_BYTES)
  if (!checkSegmentHeader(header, segmentId)) return { kind: 'badHeader', end: 0 }
  // Chunks are read ahead while the previous one is parsed; a frame cut by a chunk edge is carried over.
  const readAt = (from: number): Promise<Buffer> | null => {
    if (from >= size) return null
    const p = file.read(from, Math.min(RECOVERY_CHUNK_BYTES, size - from))
    p.catch(() => {})
    return p
  }
  let pos = SEGMENT_HEADER_BYTES
  let buf = await (readAt(pos) ?? Promise.resolve(Buffer.alloc(0)))
  let nextFrom = pos + buf.length
  let next = readAt(nextFrom)
  let at = 0
  for (;;) {
    const r = checkFrame(buf, at, segmentId, pos + at, payloadBytesMax)
    if (r.status === FrameStatus.ok) {
      onFrame(buf, at, pos + at, r.payloadBytes)
      at += FRAME_HEADER_BYTES + r.payloadBytes
      continue
    }
    if (r.status === FrameStatus.short) {
      const needed = at + FRAME_HEADER_BYTES > buf.length ? FRAME_HEADER_BYTES : FRAME_HEADER_BYTES + r.payloadBytes
      if (pos + at + needed > size || next === null) return { kind: pos + at === size ? 'clean' : 'torn', end: pos + at }
      const more = await next
      buf = at < buf.length ? Buffer.concat([buf.subarray(at), more]) : more
      pos += at
      at = 0
      nextFrom += more.length
      next = readAt(nextFrom)
      continue
    }
    if (r.status === FrameStatus.badLength && r.payloadBytes === 0 && buf.readUInt32LE(at + 4) === 0 && await zerosToEnd(file, pos + at, size)) {
      return { kind: 'zeros', end: pos + at }
    }
    return { kind: 'corrupt', end: pos + at }
  }
}

export async function recoverLog (inp: RecoveryInput): Promise<RecoveryOutput> {
  const { disk, dir } = inp
  await disk.mkdirp(dir)
  const names = await disk.list(dir)
  for (const n of names) if (n.endsWith('.tmp')) await disk.unlink(`${dir}/${n}`)
  let segmentIds = names.map(parseSegmentName).filter((x): x is number => x !== undefined).sort((a, b) => a - b)
  const ckptLsns = names.map(parseCheckpointName).filter((x): x is number => x !== undefined).sort((a, b) => b - a)
  let truncatedBytes = 0
  let corruptRecords = 0
  let recordsReplayed = 0

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
      await f.truncate(Math.min(size, offsetOfLsn(inp.cutLsn)))
      await f.datasync()
      await f.close()
    }
    await disk.syncDir(dir)
  }

  // 2. Segments must be contiguous.
  for (let i = 1; i < segmentIds.length; i++) {
    if (segmentIds[i] !== (segmentIds[i - 1] as number) + 1) {
      throw storeError(StoreCode.STORE_CORRUPT, `segment ${segmentName((segmentIds[i - 1] as number) + 1)} is missing`, { details: { dir } })
    }
  }

  // 3. Newest readable checkpoint whose replay point lies inside the log.
  let snapshot: Snapshot | undefined
  const firstSeg = segmentIds[0]
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
  if (snapshot === undefined && firstSeg !== undefined && firstSeg !== 1) {
    throw storeError(StoreCode.STORE_CORRUPT, 'no readable checkpoint and the log does not start at its first segment', { details: { dir, firstSegment: firstSeg } })
  }
  const replayFrom = snapshot?.replayFrom ?? 0
  if (snapshot !== undefined) inp.restore(snapshot)

  // 4. Verify every segment; replay what the checkpoint lacks.
  let lastFile: DiskFile | undefined
  const skippedSegmentIds: number[] = []
  let endOffset = SEGMENT_HEADER_BYTES
  let lastSize = 0
  const replaySegment = segmentOfLsn(replayFrom)
  for (let i = 0; i < segmentIds.length; i++) {
    const id = segmentIds[i] as number
    const isLast = i === segmentIds.length - 1
    // Sealed segments the checkpoint covers are not read at open (restart must not rescan the whole log).
    if (!inp.verifyAll && !isLast && id < replaySegment) { skippedSegmentIds.push(id); continue }
    const path = `${dir}/${segmentName(id)}`
    const file = await disk.open(path, false)
    const size = await file.size()
    let decodeFailedAt: number | undefined
    const end = await scanSegment(file, id, size, inp.payloadBytesMax, (buf, at, offset, payloadBytes) => {
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
    })
    if (decodeFailedAt !== undefined) throw storeError(StoreCode.STORE_CORRUPT, `undecodable record with a valid checksum in ${segmentName(id)} at ${decodeFailedAt}`)
    if (end.kind === 'clean' && end.end === size) {
      if (isLast) { lastFile = file; endOffset = Math.max(SEGMENT_HEADER_BYTES, end.end); lastSize = size } else await file.close()
      continue
    }
    if (end.kind === 'zeros' && isLast) {
      // The log ends where the preallocated zeros begin.
      lastFile = file
      endOffset = Math.max(SEGMENT_HEADER_BYTES, end.end)
      lastSize = size
      continue
    }
    // Something is wrong at end.end.
    const torn = end.kind === 'torn'
    if (!torn) corruptRecords++
    // Below the checkpoint's replay point everything was fsynced: damage there is rot, not a torn write.
    const belowCheckpoint = lsnOf(id, end.end) < replayFrom
    if (isLast && !belowCheckpoint) {
      if (end.kind === 'badHeader') {
        // A segment whose creation was torn: start it again.
        inp.onEvent('segment-header-rewritten', { segment: segmentName(id), size })
        truncatedBytes += size
        await file.truncate(0)
        await file.write(encodeSegmentHeader(id), 0)
      } else {
        truncatedBytes += size - end.end
        inp.onEvent('log-tail-cut', { segment: segmentName(id), offset: end.end, bytes: size - end.end, reason: end.kind })
        await file.truncate(end.end)
      }
      await file.datasync()
      lastFile = file
      endOffset = Math.max(SEGMENT_HEADER_BYTES, end.kind === 'badHeader' ? SEGMENT_HEADER_BYTES : end.end)
      lastSize = endOffset
      continue
    }
    // A sealed, fully fsynced segment (or fsynced part of the last one) is damaged.
    const details = { segment: segmentName(id), offset: end.end, reason: end.kind }
    inp.onEvent('sealed-segment-corrupt', details)
    if (!inp.repair && !belowCheckpoint) {
      await file.close()
      throw storeError(StoreCode.STORE_CORRUPT, `sealed segment ${segmentName(id)} is damaged at offset ${end.end} (${end.kind}); open with repair: true to cut the log there`, { details })
    }
    if (belowCheckpoint) {
      await file.close()
      throw storeError(StoreCode.STORE_CORRUPT, `segment ${segmentName(id)} is damaged at ${end.end}, before the checkpoint: not repairable by cutting`, { details })
    }
    // repair: cut the log here; later segments are set aside, not deleted.
    truncatedBytes += size - end.end
    await file.truncate(Math.max(SEGMENT_HEADER_BYTES, end.end))
    if (end.kind === 'badHeader') await file.write(encodeSegmentHeader(id), 0)
    await file.datasync()
    for (const later of segmentIds.slice(i + 1)) {
      const p = `${dir}/${segmentName(later)}`
      truncatedBytes += (await disk.stat(p)) ?? 0
      await disk.rename(p, `${p}.quarantined`)
    }
    await disk.syncDir(dir)
    segmentIds = segmentIds.slice(0, i + 1)
    lastFile = file
    endOffset = Math.max(SEGMENT_HEADER_BYTES, end.end)
    lastSize = endOffset
    break
  }

  // 5. An empty directory gets its first segment.
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
  const lastSegmentId = segmentIds[segmentIds.length - 1] as number
  if (replayFrom > lsnOf(lastSegmentId, endOffset)) {
    throw storeError(StoreCode.STORE_CORRUPT, 'the checkpoint is ahead of the recovered log', { details: { replayFrom, end: lsnOf(lastSegmentId, endOffset) } })
  }
  return { segmentIds, checkpointLsns: ckptLsns, lastSegmentId, endOffset, skippedSegmentIds, lastFileSize: lastSize, file: lastFile, recordsReplayed, truncatedBytes, corruptRecords }
}

/**
 * Background scrub of one sealed segment: verify every frame. Returns
 * undefined when intact, else where and how it is damaged.
 */
export async function verifySealedSegment (disk: Disk, dir: string, id: number, payloadBytesMax: number): Promise<{ offset: number, reason: string } | undefined> {
  const file = await disk.open(`${dir}/${segmentName(id)}`, false)
  try {
    const size = await file.size()
    const end = await scanSegment(file, id, size, payloadBytesMax, () => {})
    return end.kind === 'clean' && end.end === size ? undefined : { offset: end.end, reason: end.kind }
  } finally {
    await file.close()
  }
}
