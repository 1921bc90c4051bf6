/**
 * Segment roll-over for the log writer (store/log-writer.ts): sealing the
 * active segment and starting the next one. The writer decides when (a batch
 * of the next segment, every commit of the active one complete) and handles
 * a failure (cut + fence); this file does the disk work.
 *
 * Seal: stop the zero-fill ahead of the log and cut its zeros back to the
 * last record, so a sealed segment ends at its last frame; the writer then
 * fdatasyncs. Start: the spare segment when there is one (renamed in,
 * directory synced: spare-segment.ts), else open + header + fdatasync +
 * directory sync here, on the append path.
 */
import { SEGMENT_HEADER_BYTES, encodeSegmentHeader, segmentName } from './segment.js'
import { StoreCode, errnoCode, storeError } from './errors.js'
import type { Disk, DiskFile } from './disk/disk.js'
import type { FerryError } from '../common/errors.js'
import type { SpareSegment } from './spare-segment.js'
import type { ZeroAhead } from './zero-ahead.js'

/**
 * Stop zeroing and cut the zeros past `endOffset`. Returns true when it cut (the segment's size changed: it
 * needs an fdatasync even if every record was synced), throws a FerryError when the cut failed.
 */
export async function cutZerosAhead (file: DiskFile, zero: ZeroAhead, endOffset: number): Promise<boolean> {
  await zero.stop()
  if (zero.zeroedTo <= endOffset) return false
  try {
    await file.truncate(endOffset)
  } catch (err) {
    throw storeError(StoreCode.IO, 'could not seal the segment', { cause: err })
  }
  return true
}

export interface StartedSegment {
  file: DiskFile
  /** Bytes of the file (header, and the spare's zeros). */
  fileSize: number
}

/** Open segment `segmentId`, durable (header synced, directory entry synced). Throws a FerryError. */
export async function startSegment (disk: Disk, dir: string, spare: SpareSegment, segmentId: number): Promise<StartedSegment> {
  let file: DiskFile | null | undefined
  try {
    file = await spare.take(segmentId)
    if (file !== null) return { file, fileSize: spare.bytes }
    file = await disk.open(`${dir}/${segmentName(segmentId)}`, true)
    await file.write(encodeSegmentHeader(segmentId), 0)
    await file.datasync()
    await disk.syncDir(dir)
    return { file, fileSize: SEGMENT_HEADER_BYTES }
  } catch (err) {
    // The new file is not ours to keep: close it (recovery removes or rewrites the half-made segment).
    if (file !== undefined && file !== null) await file.close().catch(() => {})
    throw startError(err)
  }
}

function startError (err: unknown): FerryError {
  const code = errnoCode(err) === 'ENOSPC' ? StoreCode.DISK_FULL : StoreCode.IO
  return storeError(code, 'could not start a new segment', { cause: err })
}
