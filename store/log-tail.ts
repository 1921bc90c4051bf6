/**
 * The log tail: a site's durable log read in lsn order from a position, for
 * the replicator (one position per remote site, not per topic: O(sites)
 * state against a design point of a million topics).
 *
 * Positions are the lsn of the last record a reader has consumed (-1: none).
 * `readLog(after)` returns the records after it that the filter keeps and the
 * lsn of the last record it examined (`throughLsn`, kept or not), so the next
 * read continues right after. Only durable bytes are read (fdatasync'ed: a
 * record a crash could still take back is never shipped). Memory-durability
 * topics never reach the log and are not part of the tail.
 *
 * The file ledger reads its segment files frame by frame (every frame read
 * from a file is checksum-verified; damage is E_STORE_CORRUPT with the lsn).
 * The freshly written tail comes from the writer's memory instead when it is
 * still there: those bytes never left this process (the checksum guards
 * against what disks do, so it is not checked again; lengths still are). The
 * memory ledger keeps its own bounded array of records (it has no file).
 */
import { FRAME_HEADER_BYTES, FrameStatus, checkFrame } from './framing.js'
import { RecordKind, decodeRecord, peekKindAndTopic, peekMessageWithPayload, peekRoute, type LogRecord } from './records.js'
import { LSN_SEGMENT_FACTOR, offsetOfLsn, segmentOfLsn } from './segment.js'
import { readPlain, type PlainFields } from './plain-record.js'
import { StoreCode, storeError } from './errors.js'
import { READ_BLOCK_BYTES_MAX } from './constants.js'
import { ReadBlocks, type ReadBlock } from './read-blocks.js'
import { firstRunAfter, type ViaRun, type ViaRuns } from './via-runs.js'
import type { EntryId, Lsn, MessageProps, MetaValue, TopicName } from './types.js'

/** One record of the tail, in a form that needs no knowledge of the log's dictionary. */
export type LogItem =
  | { kind: 'message', lsn: Lsn, topic: TopicName, entryId: EntryId, publishTime: number, payload: Buffer, props: MessageProps }
  | { kind: 'cancel', lsn: Lsn, topic: TopicName, entryId: EntryId }
  | { kind: 'meta', lsn: Lsn, space: string, key: string, value: MetaValue | undefined }
  /**
   * A message record as the log holds it, when the read asks for them (`plain`) and the record is plain
   * (plain-record.ts: no origin, route or producer props): where its bytes are (src[start, end), the log's
   * own block: no view per record), and the fields a reader filters by.
   */
  | { kind: 'plain', lsn: Lsn, topic: TopicName, entryId: EntryId, publishTime: number, priority: number | undefined, src: Buffer, start: number, end: number }

export interface LogReadOptions {
  /** Most items returned (records filtered out do not count). */
  maxItems: number
  /** Most payload bytes returned (at least one item is returned if any is found). */
  maxBytes: number
  /** Most bytes of log examined by one call, kept or not: bounds the work of a call over a log full of other records. */
  maxScanBytes?: number
  /** Keep message and cancel records of these topics; default none. */
  topics?: (topic: TopicName) => boolean
  /** Keep meta records of these spaces (key filter optional); default none. */
  meta?: (space: string, key: string) => boolean
  /**
   * Leave out message records whose replicatedVia names this site (a link to
   * it never ships them: loop prevention), decided from the bytes where
   * possible instead of decoding the record.
   */
  skipVia?: string
  /**
   * Keep only message records whose priority this accepts (a replication
   * lane's records: origin-marks.ts laneOfPriority), decided from the bytes
   * where possible: a lane decodes only what it ships. Cancel records are
   * kept whatever their entry's priority (the caller finds their lane).
   */
  priorities?: (priority: number | undefined) => boolean
  /**
   * Return plain message records (plain-record.ts) as `plain` items: where their bytes are in the block read (no
   * decode, no view); other records as before. The memory ledger's log has no bytes: it returns `message` items.
   */
  plain?: boolean
}

export interface LogReadResult {
  items: LogItem[]
  /** Lsn of the last record examined (kept or filtered out); equals the position passed when nothing was examined. */
  throughLsn: Lsn
  /** Lsn where the durable log currently ends (exclusive); a reader is caught up when throughLsn's record ends there. */
  endLsn: Lsn
  /** Set when the records right after the position are gone (retention): the first lsn that could be read. */
  gapToLsn?: Lsn
}

/** What the file ledger lends the tail reader. */
export interface FileLogSource {
  /** Ids of the segments present, ascending. */
  segmentIds: () => readonly number[]
  /** End of the durable bytes (exclusive). */
  durableEndLsn: () => Lsn
  /** Bytes [offset, offset + length) of a segment; shorter at the end of a file. */
  read: (segmentId: number, offset: number, length: number) => Promise<Buffer>
  topicName: (topicId: number) => TopicName | undefined
  payloadBytesMax: number
  segmentHeaderBytes: number
  /**
   * Bytes this process wrote, from `lsn` to the end of the one write that holds
   * them (whole frames), while the writer still has them in memory
   * (store/tail-cache.ts); undefined sends the read to the file.
   */
  written?: (lsn: Lsn) => Buffer | undefined
  /** Blocks read from files by earlier calls, kept for the calls that follow (store/read-blocks.ts). */
  blocks?: ReadBlocks
  /** repl: runs of records that came from a site (via-runs.ts): a read with that site's `skipVia` steps over them whole. */
  viaRuns?: ViaRuns
}

/** Without decoding it: can the record at body[at] be of no interest to this read? (viewOf decides for the rest.) */
function surelyUnwanted (body: Buffer, at: number, end: number, topicName: (id: number) => TopicName | undefined, opts: LogReadOptions, skipVia: Buffer | undefined): boolean {
  const p = peekKindAndTopic(body, at)
  if (p === undefined) return false
  if (p.kind === RecordKind.message || p.kind === RecordKind.cancel) {
    if (opts.topics === undefined) return true
    const topic = topicName(p.topicId)
    if (topic === undefined || !opts.topics(topic)) return true
    if (p.kind !== RecordKind.message || (skipVia === undefined && opts.priorities === undefined)) return false
    const r = peekRoute(body, at, end, skipVia)
    if (r === undefined) return false
    return r.via || (opts.priorities !== undefined && !opts.priorities(r.priority))
  }
  if (p.kind === RecordKind.metaPut || p.kind === RecordKind.metaDelete) return opts.meta === undefined
  return true // no other kind is ever part of the tail
}

/** Examined per call when the caller sets no bound: a few ms of reading. */
const SCAN_BYTES_MAX_DEFAULT = 8 * 1024 * 1024

function viewOf (rec: LogRecord, lsn: Lsn, topicName: (id: number) => TopicName | undefined, opts: LogReadOptions): LogItem | undefined {
  switch (rec.kind) {
    case RecordKind.message: {
      const topic = topicName(rec.topicId)
      if (topic === undefined || opts.topics?.(topic) !== true) return undefined
      if (opts.skipVia !== undefined && rec.props.replicatedVia?.includes(opts.skipVia) === true) return undefined
      if (opts.priorities !== undefined && !opts.priorities(rec.props.priority)) return undefined
      return { kind: 'message', lsn, topic, entryId: rec.entryId, publishTime: rec.publishTime, payload: rec.payload, props: rec.props }
    }
    case RecordKind.cancel: {
      const topic = topicName(rec.topicId)
      if (topic === undefined || opts.topics?.(topic) !== true) return undefined
      return { kind: 'cancel', lsn, topic, entryId: rec.entryId }
    }
    case RecordKind.metaPut:
      return opts.meta?.(rec.space, rec.key) === true ? { kind: 'meta', lsn, space: rec.space, key: rec.key, value: rec.value } : undefined
    case RecordKind.metaDelete:
      return opts.meta?.(rec.space, rec.key) === true ? { kind: 'meta', lsn, space: rec.space, key: rec.key, value: undefined } : undefined
    default:
      return undefined
  }
}

function payloadBytesOf (item: LogItem): number {
  return item.kind === 'message' ? item.payload.length : item.kind === 'plain' ? item.end - item.start : 64
}

/** The plain read's fields (one object, overwritten by each record). */
const plainFields: PlainFields = { topicId: 0, entryId: 0, publishTime: 0, publishAt: 0, payloadAt: 0, payloadEnd: 0, pairs: 0, pairsAt: 0, end: 0, priority: undefined, deliverAt: undefined }

/**
 * The record in body[start, end) as a `plain` item when it is a plain message record of a topic the read keeps
 * (undefined: it is one the read leaves out), or null when it is not plain (read it the other way).
 */
function plainAt (body: Buffer, start: number, end: number, lsn: Lsn, topicName: (id: number) => TopicName | undefined, opts: LogReadOptions): LogItem | undefined | null {
  const p = peekKindAndTopic(body, start)
  if (p === undefined || p.kind !== RecordKind.message) return null
  const topic = topicName(p.topicId)
  if (topic === undefined || opts.topics?.(topic) !== true) return undefined
  const f = plainFields
  if (!readPlain(body, start, end, f)) return null
  // No route of its own: a plain record never came through the link's destination (skipVia).
  if (opts.priorities !== undefined && !opts.priorities(f.priority)) return undefined
  return { kind: 'plain', lsn, topic, entryId: f.entryId, publishTime: f.publishTime, priority: f.priority, src: body, start, end }
}

/** Read the file ledger's durable log after `afterLsn`. */
export async function readFileLog (src: FileLogSource, afterLsn: Lsn, opts: LogReadOptions): Promise<LogReadResult> {
  const endLsn = src.durableEndLsn()
  const ids = src.segmentIds()
  const out: LogReadResult = { items: [], throughLsn: afterLsn, endLsn }
  if (ids.length === 0) return out
  const firstLsn = (ids[0] as number) * LSN_SEGMENT_FACTOR + src.segmentHeaderBytes
  let cur: Lsn
  let skipFirst = false
  if (afterLsn < firstLsn) {
    cur = firstLsn
    // A reader that had consumed something in a segment now gone lost what lay between.
    if (afterLsn >= 0 && segmentOfLsn(afterLsn) < (ids[0] as number)) out.gapToLsn = firstLsn
  } else {
    cur = afterLsn
    skipFirst = true // the record at afterLsn was consumed already
  }
  const scanMax = opts.maxScanBytes ?? SCAN_BYTES_MAX_DEFAULT
  let scanned = 0
  let bytes = 0
  let block: Buffer = Buffer.alloc(0)
  let blockLsn = cur
  /** The block is the writer's own bytes (not read from a file). */
  let fromMemory = false
  /** The block as kept for later calls (its frames checked already are not checked again), when it is one. */
  let kept: ReadBlock | undefined
  const segIndex = (seg: number): number => ids.indexOf(seg)
  // Whether the block holds `need` bytes at cur (one closure for the call, not one per frame).
  const have = (need: number): boolean => cur >= blockLsn && cur + need <= blockLsn + block.length
  /** The block holding `need` bytes at cur from the file: one kept by an earlier read, else read now (and kept). */
  const fileBlock = async (seg: number, off: number, need: number): Promise<void> => {
    const k = src.blocks?.holding(cur, need)
    if (k !== undefined) {
      block = k.buf
      blockLsn = k.lsn
      kept = k
    } else {
      block = await src.read(seg, off, blockBytes(src, cur, need))
      blockLsn = cur
      kept = keepBlock(src, cur, block)
    }
    fromMemory = false
  }
  const skipVia = opts.skipVia === undefined ? undefined : viaBytesOf(opts.skipVia)
  const runs = opts.skipVia === undefined ? undefined : src.viaRuns?.of(opts.skipVia)
  let run = runs === undefined ? undefined : runs[firstRunAfter(runs, cur)]
  while (cur < endLsn && out.items.length < opts.maxItems && scanned < scanMax) {
    if (run !== undefined && cur >= run.firstLsn) {
      const past = pastRun(run, cur, endLsn)
      if (past !== undefined) {
        // Every record of the run is one this read leaves out (skipVia): stepped over unread, examined all the same.
        out.throughLsn = Math.max(out.throughLsn, run.lastLsn)
        cur = past
        skipFirst = false
      } else if (cur <= run.lastLsn) {
        run = undefined // its end is not durable yet, nor is anything after it: walked as before
        continue
      }
      run = (runs as readonly ViaRun[])[firstRunAfter(runs as readonly ViaRun[], cur)]
      continue
    }
    const seg = segmentOfLsn(cur)
    const off = offsetOfLsn(cur)
    if (!have(FRAME_HEADER_BYTES)) {
      const mem = src.written?.(cur)
      if (mem !== undefined && mem.length >= FRAME_HEADER_BYTES) {
        // Never past the durable end (the writer's memory also holds bytes not yet synced).
        block = segmentOfLsn(endLsn) === seg && endLsn - cur < mem.length ? mem.subarray(0, endLsn - cur) : mem
        blockLsn = cur
        fromMemory = true
        kept = undefined
      } else {
        await fileBlock(seg, off, FRAME_HEADER_BYTES)
      }
    }
    let payloadBytes = have(FRAME_HEADER_BYTES) ? block.readUInt32LE(cur - blockLsn) : 0
    if (payloadBytes === 0) {
      // End of this segment (end of file, or preallocated zeros): continue in the next one.
      const i = segIndex(seg)
      const next = i >= 0 ? ids[i + 1] : undefined
      if (next === undefined) break
      cur = next * LSN_SEGMENT_FACTOR + src.segmentHeaderBytes
      skipFirst = false
      continue
    }
    const frameBytes = FRAME_HEADER_BYTES + payloadBytes
    if (!have(frameBytes)) {
      await fileBlock(seg, off, frameBytes)
      payloadBytes = have(FRAME_HEADER_BYTES) ? block.readUInt32LE(cur - blockLsn) : 0
      if (!have(frameBytes)) throw corrupt(cur, 'frame runs past the end of its segment')
    }
    const at = cur - blockLsn
    if (fromMemory) {
      if (payloadBytes > src.payloadBytesMax) throw corrupt(cur, `frame length ${payloadBytes} beyond the limit`)
    } else if (kept === undefined || !ReadBlocks.checkThrough(kept, cur, cur + frameBytes, src.payloadBytesMax)) {
      const check = checkFrame(block, at, seg, off, src.payloadBytesMax)
      if (check.status !== FrameStatus.ok) throw corrupt(cur, `frame check failed (status ${check.status})`)
    }
    if (skipFirst) {
      skipFirst = false
    } else {
      // Every frame from a file is checksum-verified above; only records the reader may want are decoded.
      const start = at + FRAME_HEADER_BYTES
      const end = at + frameBytes
      const plain = opts.plain === true ? plainAt(block, start, end, cur, src.topicName, opts) : null
      const item = plain !== null
        ? plain
        : surelyUnwanted(block, start, end, src.topicName, opts, skipVia) ? undefined : viewOf(recordAt(block, start, end), cur, src.topicName, opts)
      if (item !== undefined) {
        if (out.items.length > 0 && bytes + payloadBytesOf(item) > opts.maxBytes) break
        bytes += payloadBytesOf(item)
        out.items.push(item)
      }
      out.throughLsn = cur
      scanned += frameBytes
    }
    cur += frameBytes
  }
  return out
}

/** Where a read at the frame `cur` inside `run` goes on past it, when the whole run is durable (before `endLsn`). */
function pastRun (run: ViaRun, cur: Lsn, endLsn: Lsn): Lsn | undefined {
  return cur <= run.lastLsn && run.endLsn <= endLsn ? run.endLsn : undefined
}

/**
 * How much to read from a file at `lsn`: a block, or up to where a kept
 * block of the same segment starts (the reader goes on in that one, whose
 * frames are checked already), but never less than `minBytes`.
 */
function blockBytes (src: FileLogSource, lsn: Lsn, minBytes: number): number {
  const next = src.blocks?.nextStart(lsn, READ_BLOCK_BYTES_MAX)
  return Math.max(minBytes, next === undefined || segmentOfLsn(next) !== segmentOfLsn(lsn) ? READ_BLOCK_BYTES_MAX : next - lsn)
}

/** A block just read from a file, kept for the calls that follow when it holds a frame header at least. */
function keepBlock (src: FileLogSource, lsn: Lsn, block: Buffer): ReadBlock | undefined {
  return src.blocks === undefined || block.length < FRAME_HEADER_BYTES ? undefined : src.blocks.keep(lsn, block)
}

/** The utf8 bytes of a link's destination, kept for its next read (a link reads with the same one each time; a read can be a few records). */
let lastVia: { site: string, bytes: Buffer } | undefined
function viaBytesOf (site: string): Buffer {
  if (lastVia?.site !== site) lastVia = { site, bytes: Buffer.from(site) }
  return lastVia.bytes
}

/** The record in body[start, end): message records of the usual shape without the CBOR decoder (records.ts). */
function recordAt (body: Buffer, start: number, end: number): LogRecord {
  return peekMessageWithPayload(body, start, end) ?? decodeRecord(body.subarray(start, end))
}

function corrupt (lsn: Lsn, why: string): Error {
  return storeError(StoreCode.STORE_CORRUPT, `log tail at lsn ${lsn}: ${why}`, { details: { lsn } })
}

/** The memory ledger's log: records in lsn order, the oldest dropped beyond a bound. */
export class MemoryLog {
  private readonly records: Array<{ lsn: Lsn, rec: LogRecord }> = []
  private head = 0
  /** Lsn of the newest record dropped by the bound (-1: none). */
  private droppedThroughLsn = -1

  constructor (private readonly recordsMax: number) {}

  add (lsn: Lsn, rec: LogRecord): void {
    if (rec.kind !== RecordKind.message && rec.kind !== RecordKind.cancel && rec.kind !== RecordKind.metaPut && rec.kind !== RecordKind.metaDelete) return
    this.records.push({ lsn, rec })
    if (this.records.length - this.head > this.recordsMax) {
      this.droppedThroughLsn = (this.records[this.head] as { lsn: Lsn }).lsn
      this.records[this.head] = undefined as unknown as { lsn: Lsn, rec: LogRecord }
      this.head++
      if (this.head > 1024 && this.head * 2 > this.records.length) { this.records.splice(0, this.head); this.head = 0 }
    }
  }

  read (afterLsn: Lsn, endLsn: Lsn, topicName: (id: number) => TopicName | undefined, opts: LogReadOptions): LogReadResult {
    const out: LogReadResult = { items: [], throughLsn: afterLsn, endLsn }
    if (afterLsn < this.droppedThroughLsn) out.gapToLsn = this.droppedThroughLsn + 1
    // Binary search for the first record after afterLsn.
    let lo = this.head
    let hi = this.records.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((this.records[mid] as { lsn: Lsn }).lsn <= afterLsn) lo = mid + 1
      else hi = mid
    }
    let bytes = 0
    for (let i = lo; i < this.records.length && out.items.length < opts.maxItems; i++) {
      const { lsn, rec } = this.records[i] as { lsn: Lsn, rec: LogRecord }
      const item = viewOf(rec, lsn, topicName, opts)
      if (item !== undefined) {
        if (out.items.length > 0 && bytes + payloadBytesOf(item) > opts.maxBytes) break
        bytes += payloadBytesOf(item)
        out.items.push(item)
      }
      out.throughLsn = lsn
    }
    return out
  }
}
