/**
 * SegmentReads: FileLedger's reads of its segment files. It owns the open
 * read handles of sealed segments (at most READ_HANDLES_MAX, the oldest
 * closed first) and turns an index range of a topic into entries: from the
 * writer's tail cache when the entry is still there, else one block read
 * covering as many of the topic's following entries as fit, each frame
 * checked and decoded. Separate from ledger-file.ts because it holds no log
 * state of its own beyond the handles: what it may read (the segment list,
 * the writer, the damaged ranges) it asks the ledger for.
 */
import * as C from './constants.js'
import type { Disk, DiskFile } from './disk/disk.js'
import { StoreCode, storeError } from './errors.js'
import { FRAME_HEADER_BYTES, FrameStatus, checkFrame } from './framing.js'
import type { LogWriter } from './log-writer.js'
import type { DamageTracker } from './quarantine.js'
import { RecordKind, decodeRecord, peekMessageWithPayload } from './records.js'
import { offsetOfLsn, segmentName, segmentOfLsn } from './segment.js'
import type { TopicState } from './topic-state.js'
import type { EntryId, LedgerEntry, Lsn } from './types.js'

/** Open read handles of sealed segments kept at once. */
const READ_HANDLES_MAX = 32
const EMPTY_PAYLOAD = Buffer.alloc(0)

/** What the reads ask of the ledger, each time (the writer and the damage are replaced by a reopen). */
export interface SegmentReadSource {
  readonly disk: Disk
  readonly dir: string
  readonly payloadBytesMax: number
  writer: () => LogWriter | null
  damage: () => DamageTracker
  /** The log's segment ids (a read of one that is gone returns nothing). */
  segments: () => readonly number[]
  /** close() has begun: no handle is opened again. */
  closing: () => boolean
}

export class SegmentReads {
  private readonly files = new Map<number, Promise<DiskFile>>()

  constructor (private readonly src: SegmentReadSource) {}

  /** Entries [from, to) of a disk-backed topic, honouring maxBytes (the caller waited out a reopen). */
  async entries (t: TopicState, from: EntryId, to: EntryId, maxBytes: number): Promise<LedgerEntry[]> {
    const w = this.src.writer()
    if (w === null) throw storeError(StoreCode.STORE_CLOSED, 'ledger is not open')
    const out: LedgerEntry[] = []
    let payloadBytes = 0
    let block: Buffer | undefined
    let blockLsn = 0
    let id = from
    while (id < to && id < t.index.next && id >= t.index.first) {
      const lsn = t.index.lsnOf(id)
      if (this.src.damage().isLostEntry(t, id, lsn)) {
        // Its record was quarantined: an empty, tombstoned entry (readers acknowledge and skip it).
        out.push({ topic: t.name, entryId: id, lsn, publishTime: 0, payload: EMPTY_PAYLOAD, props: {} })
        id++
        continue
      }
      // fanin (issue 11): the entry as appended, when still kept (tail-cache.ts); else check and decode its frame.
      const kept = w.tail.entry(lsn, t, id)
      if (kept !== undefined) {
        if (out.length > 0 && payloadBytes + kept.payload.length > maxBytes) break
        payloadBytes += kept.payload.length
        out.push(kept)
        id++
        continue
      }
      const bytes = t.index.bytesOf(id)
      let frame = w.tail.get(lsn, bytes)
      // The writer's own bytes never left this process: their checksum guards against what disks do, so it is
      // not checked again (as the log tail does, log-tail.ts); their length and record still are. A replicated
      // plain record is never kept as an object (ledger-replicated.ts): its subscribers' reads come this way.
      const fromMemory = frame !== undefined
      if (frame === undefined) {
        if (block === undefined || lsn < blockLsn || lsn + bytes > blockLsn + block.length) {
          // One read covering this entry and as many following ones of the topic as fit in a block.
          const seg = segmentOfLsn(lsn)
          let endLsn = lsn + bytes
          let budget = maxBytes - payloadBytes
          for (let k = id + 1; k < to && budget > 0; k++) {
            const l = t.index.lsnOf(k)
            const b = t.index.bytesOf(k)
            if (segmentOfLsn(l) !== seg || l + b - lsn > C.READ_BLOCK_BYTES_MAX) break
            endLsn = l + b
            budget -= b
          }
          block = await this.block(seg, offsetOfLsn(lsn), endLsn - lsn)
          blockLsn = lsn
          if (block.length < bytes) break // the segment went away under us (retention)
        }
        frame = block.subarray(lsn - blockLsn, lsn - blockLsn + bytes)
      }
      const e = this.decodeEntry(t, id, lsn, frame, fromMemory)
      if (out.length > 0 && payloadBytes + e.payload.length > maxBytes) break
      payloadBytes += e.payload.length
      out.push(e)
      id++
    }
    return out
  }

  private decodeEntry (t: TopicState, entryId: EntryId, lsn: Lsn, frame: Buffer, fromMemory: boolean): LedgerEntry {
    if (fromMemory) {
      if (frame.length < FRAME_HEADER_BYTES || frame.readUInt32LE(0) + FRAME_HEADER_BYTES !== frame.length) {
        throw storeError(StoreCode.STORE_CORRUPT, `entry ${t.name}#${entryId} has a frame of another length at lsn ${lsn}`, { details: { topic: t.name, entryId, lsn } })
      }
    } else {
      const r = checkFrame(frame, 0, segmentOfLsn(lsn), offsetOfLsn(lsn), this.src.payloadBytesMax)
      if (r.status !== FrameStatus.ok || r.payloadBytes + FRAME_HEADER_BYTES !== frame.length) {
        throw storeError(StoreCode.STORE_CORRUPT, `entry ${t.name}#${entryId} fails its checksum at lsn ${lsn}`, { details: { topic: t.name, entryId, lsn } })
      }
    }
    // Message records of the usual shape without the generic decoder (records.ts), as the log tail reads them.
    const rec = peekMessageWithPayload(frame, FRAME_HEADER_BYTES, frame.length) ?? decodeRecord(frame.subarray(FRAME_HEADER_BYTES))
    if (rec.kind !== RecordKind.message || rec.entryId !== entryId || rec.topicId !== t.id) {
      throw storeError(StoreCode.STORE_CORRUPT, `index points ${t.name}#${entryId} at a different record (lsn ${lsn})`)
    }
    return { topic: t.name, entryId, lsn, publishTime: rec.publishTime, payload: rec.payload, props: rec.props }
  }

  /** Bytes of a segment (the active one through the writer's file). `retried`: this is the one retry of a read whose handle an eviction closed under it. */
  async block (segmentId: number, offset: number, length: number, retried = false): Promise<Buffer> {
    const w = this.src.writer() as LogWriter
    if (segmentId === w.activeSegmentId) return await w.activeFile.read(offset, length)
    let fp = this.files.get(segmentId)
    if (fp === undefined) {
      if (this.files.size >= READ_HANDLES_MAX) {
        const [oldId, old] = this.files.entries().next().value as [number, Promise<DiskFile>]
        this.files.delete(oldId)
        old.then(async (f) => { await f.close() }, () => {})
      }
      fp = this.src.disk.open(`${this.src.dir}/${segmentName(segmentId)}`, false)
      this.files.set(segmentId, fp)
    }
    try {
      return await (await fp).read(offset, length)
    } catch (err) {
      // Drop this handle, closed: a failed read must not leave its descriptor to the garbage collector. Only our
      // own entry: another read may have opened the segment again since (an eviction or retention closed ours).
      const ours = this.files.get(segmentId) === fp
      if (ours) {
        this.files.delete(segmentId)
        await fp.then(async (f) => { await f.close() }, () => {}).catch(() => {})
      }
      if (!this.src.segments().includes(segmentId)) return Buffer.alloc(0)
      // Not ours any more: an eviction (READ_HANDLES_MAX) closed the handle mid-read; once more with a fresh one.
      if (!ours && !retried && !this.src.closing() && this.src.writer() !== null) return await this.block(segmentId, offset, length, true)
      throw storeError(StoreCode.IO, `read of ${segmentName(segmentId)} failed`, { cause: err })
    }
  }

  /** Retention is deleting the segment: close its handle, if one is open. */
  async closeSegment (segmentId: number): Promise<void> {
    const fp = this.files.get(segmentId)
    this.files.delete(segmentId)
    if (fp !== undefined) await fp.then(async (f) => { await f.close() }, () => {})
  }

  async closeAll (): Promise<void> {
    const all = [...this.files.values()]
    this.files.clear()
    for (const fp of all) await fp.then(async (f) => { await f.close() }, () => {})
  }
}
