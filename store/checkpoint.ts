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

export interface SnapshotParts {
  replayFrom: number
  nextTopicId: number
  rows: Buffer[]
  meta: Map<string, Map<string, MetaValue>>
  segmentTimes: Array<[number, number]>
}

export function encodeSnapshot (s: SnapshotParts): Buffer {
  const meta: Array<[string, Array<[string, MetaValue]>]> = []
  for (const [space, m] of s.meta) meta.push([space, [...m.entries()]])
  return encodeValue({ v: VERSION, replayFrom: s.replayFrom, nextTopicId: s.nextTopicId, rows: s.rows, meta, segmentTimes: s.segmentTimes })
}

export function decodeSnapshot (body: Buffer): Snapshot {
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

export async function writeCheckpointFile (disk: Disk, dir: string, replayFrom: number, body: Buffer): Promise<string> {
  const header = Buffer.alloc(HEADER_BYTES)
  MAGIC.copy(header, 0)
  header.writeUInt32LE(VERSION, 8)
  header.writeUInt32LE(crc32c(body) >>> 0, 12)
  header.writeDoubleLE(body.length, 16)
  const name = checkpointName(replayFrom)
  const tmp = `${dir}/${name}.tmp`
  const f = await disk.open(tmp, true)
  try {
    await f.truncate(0)
    await f.write(header, 0)
    await f.write(body, HEADER_BYTES)
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
