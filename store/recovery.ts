/**
 * Opening the log: pick the newest readable checkpoint, verify every frame of
 * every segment, replay the records after the checkpoint, and cut the log at
 * its first bad byte. How a segment's frames are walked and resynchronised
 * after damage is segment-scan.ts; this file decides what the walk's findings
 * mean, so the store's fault model and its recovery decision table are here
 * (test/store/recovery-table.test.ts enumerates the table; the runtime
 * decisions after a failed write or fsync are in ledger-file.ts).
 *
 * Fault model (what the disk may do to us; disk/sim-disk.ts simulates each):
 *  1. Power loss: bytes not fdatasync'ed may be lost, partly written (torn),
 *     or filled with garbage; directory changes not synced may be undone.
 *  2. Bit rot / misdirected writes: any byte at rest may change. The frame
 *     checksum covers the frame's own position, so a frame at the wrong place
 *     fails like a flipped bit.
 *  3. fdatasync fails (EIO, or ENOSPC on delayed allocation / thin
 *     provisioning): the pages it covered can no longer be trusted, and a
 *     retried fsync may report success without writing them (PostgreSQL
 *     "fsyncgate"). We never retry.
 *  4. Write fails with ENOSPC (possibly after a partial write) or EIO.
 *  5. Another process opens the same directory: prevented by the directory
 *     lock (dir-lock.ts, E_STORE_LOCKED), released by the kernel when the
 *     holder dies.
 *
 * Recovery decisions (this file, ledger-file-replay.ts, quarantine.ts), one per case. The promise:
 * an acknowledged record is lost only if its own bytes are damaged, every
 * valid record after a damaged one is kept, and no acknowledged entry id is
 * given out twice. A torn write can only be the end of the last write, so
 * damage followed by a valid frame (found by scanning forward at most one
 * maximal frame) is corruption, never a torn tail.
 *  | what is found                                   | decision                                              |
 *  |-------------------------------------------------|-------------------------------------------------------|
 *  | last segment ends in zeros to end of file       | preallocated space: the log ends there (no report)     |
 *  | last segment ends in a bad or partial frame     | end of the last write: cut there (truncatedBytes;      |
 *  |   with no valid frame after it                  |   corruptRecords when not merely short). Its entry id  |
 *  |                                                 |   is retired (tombstoned placeholder), since a damaged |
 *  |                                                 |   acknowledged last record looks the same              |
 *  | checksum or length mismatch (a length pointing  | E_STORE_CORRUPT reported, not fatal: the damaged bytes |
 *  |   past the end included) in the last segment,   |   are copied to seg-N.log.damaged-<offset> and skipped;|
 *  |   followed by a valid frame, or lying below the |   every valid record after them is kept; the entry ids |
 *  |   checkpoint's replay point (fsynced: rot)      |   they held stay taken (lost entries: read back empty, |
 *  |                                                 |   tombstoned so consumers acknowledge past them)       |
 *  | last segment with a damaged header, valid       | header rewritten (it holds only magic and id), every   |
 *  |   frames after it                               |   frame kept, corruptRecords++                         |
 *  | last segment with a bad header, no valid frame  | torn creation: header rewritten, its bytes truncated   |
 *  | the same damage in a sealed (fully fsynced, not | E_STORE_CORRUPT on open (details: segment, offset);    |
 *  |   last) segment that open reads (at or after    |   with repair: true quarantined like the row above:    |
 *  |   the checkpoint's segment, or verifyAllOnOpen) |   the damaged record only, nothing after it            |
 *  | damage already quarantined by an earlier open   | skipped silently (its copy is the record of it), the   |
 *  |                                                 |   segment sealed or not                                |
 *  | sealed segments wholly before the checkpoint    | not read at open (a restart must not reread the whole  |
 *  |                                                 |   log): a background scrub reports new damage as the   |
 *  |                                                 |   event 'sealed-segment-corrupt'; reads of it fail     |
 *  |                                                 |   with E_STORE_CORRUPT                                 |
 *  | records of a topic whose naming record was      | kept under '$lost/topic-<id>' (the name is gone)       |
 *  |   quarantined                                   |                                                        |
 *  | checkpoint unreadable (checksum, version)       | use the previous one, corruptRecords++                 |
 *  | a segment id missing between two others         | E_STORE_CORRUPT                                        |
 *  | no checkpoint and the first segment is not 1    | E_STORE_CORRUPT                                        |
 *  | valid checksum but undecodable CBOR             | E_STORE_CORRUPT (a bug, not a disk fault)              |
 * Every quarantine is reported as the event 'corrupt-record-quarantined'
 * (code E_STORE_CORRUPT) and counted in RecoveryReport.quarantinedRecords /
 * lostEntries and stats().quarantinedRecords / lostEntries.
 */
import assert from 'node:assert/strict'
import { parseQuarantineName, quarantineName, writeQuarantineFile, type DamagedRange } from './quarantine.js'
import { FRAME_HEADER_BYTES } from './framing.js'
import { checkpointName, decodeSnapshot, parseCheckpointName, readCheckpointFile, type Snapshot } from './checkpoint.js'
import { decodeRecord, peekMessage, type LogRecord } from './records.js'
import { scanSegment } from './segment-scan.js'
import {
  SEGMENT_HEADER_BYTES, encodeSegmentHeader, isSpareSegmentName, lsnOf, offsetOfLsn, parseSegmentName, segmentName, segmentOfLsn
} from './segment.js'
import { StoreCode, storeError } from './errors.js'
import type { Disk, DiskFile } from './disk/disk.js'

/** Bytes of a cut tail frame read to guess its entry id (a message header is well under this). */
const TAIL_HEAD_BYTES = 64

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
