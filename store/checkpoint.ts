/**
 * Checkpoints: a snapshot of every persistent topic's index, cursors, dedup,
 * delayed index and tombstones, plus the meta KV. Fuzzy (ARIES-style): it is
 * built in slices while the ledger keeps running, so it holds every record
 * below `replayFrom` and possibly some after it; replay from `replayFrom` is
 * idempotent (ledger-base.ts applyRecord), so recovery loads the newest
 * readable checkpoint and replays the log from `replayFrom` only.
 *
 * File `ckpt-<replayFrom, 16 hex digits>.ckpt`: magic "FERRYCKP", u32
 * version, u32 crc32c of the body, f64 body length, then the CBOR body.
 * Written to a .tmp file, fdatasync'ed, renamed, and the directory synced;
 * only then may older segments be deleted.
 */
import { crc32c } from '@node-rs/crc32'
import { CursorState, type CursorSnapshot } from './cursor-state.js'
import { DelayedIndex, type DelayedSnapshot } from './delayed-index.js'
import { ProducerDedup, type DedupSnapshot } from './dedup.js'
import { decodeValue, encodeValue } from './records.js'
import { TopicState } from './topic-state.js'
import type { Disk } from './disk/disk.js'
import type { Durability, MetaValue } from './types.js'

const MAGIC = Buffer.from('FERRYCKP')
const VERSION = 2
const HEADER_BYTES = 24

export function checkpointName (replayFrom: number): string {
  return `ckpt-${replayFrom.toString(16).padStart(16, '0')}.ckpt`
}

export function parseCheckpointName (name: string): number | undefined {
  const m = /^ckpt-([0-9a-f]{16})\.ckpt$/.exec(name)
  return m === null ? undefined : parseInt(m[1] as string, 16)
}

/** [id, name, durability, first, lsns, ends, dedup, delayed, cancelled, cursors] */
type TopicRow = [number, string, Durability, number, Float64Array | number[], Float64Array | number[], DedupSnapshot | null, DelayedSnapshot | null, number[] | null, CursorSnapshot[] | null]

export interface Snapshot {
  replayFrom: number
  nextTopicId: number
  topics: TopicState[]
  meta: Map<string, Map<string, MetaValue>>
  /** [segmentId, newest publish time ms] */
  segmentTimes: Array<[number, number]>
}

/** Small arrays as plain CBOR arrays (cheaper than a typed-array tag for idle topics). */
function compactArray (a: Float64Array): Float64Array | number[] {
  return a.length <= 4 ? Array.from(a) : a
}

/** One topic's row, encoded on its own so a checkpoint can be built in slices. */
export function encodeTopicRow (t: TopicState): Buffer {
  const ix = t.index.snapshot()
  const cursors: CursorSnapshot[] = []
  for (const c of t.cursorList()) if (c.durable) cursors.push(c.snapshot())
  const row: TopicRow = [
    t.id, t.name, t.durability, ix.first, compactArray(ix.lsns), compactArray(ix.ends),
    t.dedup?.snapshot() ?? null, t.delayed?.snapshot() ?? null,
    t.cancelled === null ? null : [...t.cancelled], cursors.length === 0 ? null : cursors
  ]
  return encodeValue(row)
}

/** Bytes of one chunk of encoded rows: the rows of a checkpoint are packed into chunks of this size. */
const ROW_CHUNK_BYTES = 1 << 20

/**
 * The rows of a checkpoint being built, packed as CBOR byte strings into large chunks. A Buffer per row held
 * until the end would cost ~220 B per topic (the Buffer object and its own backing store) on top of the ~45 B
 * of row bytes: 200+ MB extra at a million topics while every checkpoint runs.
 */
export class RowChunks {
  readonly chunks: Buffer[] = []
  count = 0
  private chunk: Buffer = Buffer.allocUnsafe(0)
  private used = 0

  add (t: TopicState): void {
    const row = encodeTopicRow(t)
    const need = byteStringHeaderBytes(row.length) + row.length
    if (this.used + need > this.chunk.length) {
      if (this.used > 0) this.chunks.push(this.chunk.subarray(0, this.used))
      this.chunk = Buffer.allocUnsafe(Math.max(ROW_CHUNK_BYTES, need))
      this.used = 0
    }
    this.used += writeByteStringHeader(this.chunk, this.used, row.length)
    this.used += row.copy(this.chunk, this.used)
    this.count++
  }

  /** The chunks, each a run of complete byte strings. */
  finish (): Buffer[] {
    if (this.used > 0) this.chunks.push(this.chunk.subarray(0, this.used))
    this.chunk = Buffer.allocUnsafe(0)
    this.used = 0
    return this.chunks
  }
}

function byteStringHeaderBytes (len: number): number {
  return len < 24 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : 5
}

/** CBOR major type 2 (byte string) header for LEN bytes at OFF; returns its size. */
function writeByteStringHeader (b: Buffer, off: number, len: number): number {
  if (len < 24) { b[off] = 0x40 | len; return 1 }
  if (len < 0x100) { b[off] = 0x58; b[off + 1] = len; return 2 }
  if (len < 0x10000) { b[off] = 0x59; b.writeUInt16BE(len, off + 1); return 3 }
  b[off] = 0x5a; b.writeUInt32BE(len, off + 1); return 5
}

export interface SnapshotParts {
  replayFrom: number
  nextTopicId: number
  rows: RowChunks
  meta: Map<string, Map<string, MetaValue>>
  segmentTimes: Array<[number, number]>
}

/** A checkpoint body as the pieces it is written from, in order (never joined into one Buffer to write it). */
export interface SnapshotBody {
  readonly parts: readonly Buffer[]
  /** Bytes of all parts. */
  readonly length: number
}

/**
 * The body: the same CBOR map cbor-x would make of { v, replayFrom, nextTopicId, rows: Buffer[], meta,
 * segmentTimes } (decodeSnapshot reads it with cbor-x), written by hand around the packed rows so that they are
 * never held as one object per topic, and kept as parts (the row chunks themselves between a head and a tail):
 * joining them cost a second copy of every row while the file was written (~45 MB at a million idle topics,
 * more with cursors).
 */
export function encodeSnapshot (s: SnapshotParts): SnapshotBody {
  const meta: Array<[string, Array<[string, MetaValue]>]> = []
  for (const [space, m] of s.meta) meta.push([space, [...m.entries()]])
  const rowsHeader = Buffer.alloc(5)
  rowsHeader[0] = 0x9a // array, 32-bit length
  rowsHeader.writeUInt32BE(s.rows.count, 1)
  const head = Buffer.concat([
    Buffer.from([0xa6]), // map of 6 pairs
    encodeValue('v'), encodeValue(VERSION),
    encodeValue('replayFrom'), encodeValue(s.replayFrom),
    encodeValue('nextTopicId'), encodeValue(s.nextTopicId),
    encodeValue('rows'), rowsHeader
  ])
  const tail = Buffer.concat([
    encodeValue('meta'), encodeValue(meta),
    encodeValue('segmentTimes'), encodeValue(s.segmentTimes)
  ])
  const parts = [head, ...s.rows.finish(), tail]
  let length = 0
  for (const p of parts) length += p.length
  return { parts, length }
}

export function decodeSnapshot (body: Buffer | SnapshotBody): Snapshot {
  if (!Buffer.isBuffer(body)) body = Buffer.concat(body.parts as Buffer[])
  const o = decodeValue(body) as { v: number, replayFrom: number, nextTopicId: number, rows: Buffer[], meta: Array<[string, Array<[string, MetaValue]>]>, segmentTimes: Array<[number, number]> }
  if (o.v !== VERSION) throw new Error(`checkpoint version ${o.v} unknown`)
  const topics: TopicState[] = []
  for (const rowBytes of o.rows) {
    const [id, name, durability, first, lsns, ends, dedup, delayed, cancelled, cursors] = decodeValue(rowBytes) as TopicRow
    const t = new TopicState(name, id, durability, false)
    t.loadSnapshot({ first, count: lsns.length, lsns: Float64Array.from(lsns), ends: Float64Array.from(ends) })
    t.committedNext = t.index.next
    if (dedup !== null) t.dedup = ProducerDedup.fromSnapshot(dedup)
    if (delayed !== null) t.delayed = DelayedIndex.fromSnapshot([Float64Array.from(delayed[0]), Float64Array.from(delayed[1])])
    if (cancelled !== null) t.cancelled = new Set(cancelled)
    if (cursors !== null) for (const c of cursors) t.putCursor(CursorState.fromSnapshot(c))
    topics.push(t)
  }
  const meta = new Map<string, Map<string, MetaValue>>()
  for (const [space, entries] of o.meta) meta.set(space, new Map(entries))
  return { replayFrom: o.replayFrom, nextTopicId: o.nextTopicId, topics, meta, segmentTimes: o.segmentTimes }
}

export async function writeCheckpointFile (disk: Disk, dir: string, replayFrom: number, body: Buffer | SnapshotBody): Promise<string> {
  const parts = Buffer.isBuffer(body) ? [body] : body.parts
  let crc = 0
  for (const p of parts) crc = crc32c(p, crc)
  const header = Buffer.alloc(HEADER_BYTES)
  MAGIC.copy(header, 0)
  header.writeUInt32LE(VERSION, 8)
  header.writeUInt32LE(crc >>> 0, 12)
  header.writeDoubleLE(body.length, 16)
  const name = checkpointName(replayFrom)
  const tmp = `${dir}/${name}.tmp`
  const f = await disk.open(tmp, true)
  try {
    await f.truncate(0)
    await f.write(header, 0)
    let at = HEADER_BYTES
    for (const p of parts) { await f.write(p, at); at += p.length }
    await f.datasync()
  } catch (err) {
    await f.close().catch(() => {})
    await disk.unlink(tmp).catch(() => {})
    throw err
  }
  await f.close()
  await disk.rename(tmp, `${dir}/${name}`)
  await disk.syncDir(dir)
  return name
}

/** The checkpoint body, or undefined when the file is damaged. */
export async function readCheckpointFile (disk: Disk, path: string): Promise<Buffer | undefined> {
  const f = await disk.open(path, false)
  try {
    const size = await f.size()
    if (size < HEADER_BYTES) return undefined
    const all = await f.read(0, size)
    if (!all.subarray(0, 8).equals(MAGIC) || all.readUInt32LE(8) !== VERSION) return undefined
    const len = all.readDoubleLE(16)
    if (len !== size - HEADER_BYTES) return undefined
    const body = all.subarray(HEADER_BYTES)
    if ((crc32c(body) >>> 0) !== all.readUInt32LE(12)) return undefined
    return body
  } finally {
    await f.close()
  }
}
