/**
 * The wire format of a link: one CBOR map per batch and one per answer.
 *
 * Batch  { v: 1, from, to, lane, after, through, items: [item...] }
 *   lane:    0 control, 1 high priority, 2 normal (store/origin-marks.ts); positions are per lane
 *   after:   the position the sender believes the receiver holds (lsn in the sender's log, -1 for none)
 *   through: the sender lsn the batch covers up to (inclusive; records it skipped included)
 *   item:    ['m', lsn, topic, entryId, publishTime, payload, props] | ['d', lsn, space, key, value|null]
 *          | ['c', lsn, topic, originSite, originEntryId]  (cancel of a scheduled entry, named by its origin)
 *   or, compressed: the same map with `z` (raw deflate of the CBOR items array) and `n` (its length) instead
 *   of `items`; the header stays plain so a receiver can queue the batch in arrival order before inflating it
 * Answer { ok: true, position } | { ok: false, code, message, position }
 *
 * Props travel as the store's MessageProps object (CBOR map; user
 * properties are an array of pairs, so their order and repeats survive).
 */
import { promisify } from 'node:util'
import { deflateRaw, inflateRaw } from 'node:zlib'
import { Encoder } from 'cbor-x'
import { CborMajor, CborWriter } from '../common/cbor-writer.js'
import { CommonCode, FerryError } from '../common/errors.js'
import { LANES, Lane, type LogItem, type MessageProps, type MetaValue } from '../store/index.js'
import { ReplCode } from './errors.js'
import { REPL_COMPRESS_LEVEL, REPL_RECEIVE_BATCH_BYTES_MAX } from './constants.js'

const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false })
const VERSION = 1

/** A cancellation names the entry by its origin: entry ids differ from site to site. */
export interface CancelItem { kind: 'cancel', lsn: number, topic: string, originSite: string, originEntryId: number }

export type WireItem = Extract<LogItem, { kind: 'message' }> | Extract<LogItem, { kind: 'meta' }> | CancelItem

export interface Batch {
  from: string
  to: string
  lane: Lane
  after: number
  through: number
  items: WireItem[]
}

export type Answer =
  | { ok: true, position: number }
  | { ok: false, code: string, message: string, position: number }

const deflateAsync = promisify(deflateRaw)
const inflateAsync = promisify(inflateRaw)

/**
 * Batches are written by hand (common/cbor-writer.ts): the generic encode of
 * every item's array and props was ~10% of a sender's CPU during a drain
 * (session 5 profile). The bytes decode to what cbor-x would have written.
 */
const writer = new CborWriter((v) => encoder.encode(v))
/** Bytes of an item besides its payload, for the size hint (props of a few short fields). */
const ITEM_BYTES_HINT = 96

function writeItems (b: Batch): void {
  const w = writer
  w.head(CborMajor.array, b.items.length)
  for (const it of b.items) {
    if (it.kind === 'message') {
      w.byte(0x87) // ['m', lsn, topic, entryId, publishTime, payload, props]
      w.text('m')
      w.number(it.lsn)
      w.text(it.topic)
      w.number(it.entryId)
      w.number(it.publishTime)
      w.bytes(it.payload)
      writeProps(it.props)
    } else if (it.kind === 'meta') {
      w.byte(0x85) // ['d', lsn, space, key, value|null]
      w.text('d')
      w.number(it.lsn)
      w.text(it.space)
      w.text(it.key)
      if (it.value === undefined) w.byte(0xf6)
      else w.raw(encoder.encode(it.value))
    } else {
      w.byte(0x85) // ['c', lsn, topic, originSite, originEntryId]
      w.text('c')
      w.number(it.lsn)
      w.text(it.topic)
      w.text(it.originSite)
      w.number(it.originEntryId)
    }
  }
}

/** Props as a map of their (long) names; fields set to undefined are left out (they decode as absent). */
function writeProps (props: MessageProps): void {
  const w = writer
  let pairs = 0
  for (const k in props) if (props[k as keyof MessageProps] !== undefined) pairs++
  w.head(CborMajor.map, pairs)
  for (const k in props) {
    const v = props[k as keyof MessageProps]
    if (v === undefined) continue
    w.text(k)
    w.value(v)
  }
}

function sizeHint (b: Batch): number {
  let n = 64
  for (const it of b.items) n += ITEM_BYTES_HINT + (it.kind === 'message' ? it.payload.length : 0)
  return n
}

/** The header map's pairs before `items` (or `z`, `n`). */
function writeHead (b: Batch, pairs: number): void {
  const w = writer
  w.head(CborMajor.map, pairs)
  w.text('v'); w.number(VERSION)
  w.text('from'); w.text(b.from)
  w.text('to'); w.text(b.to)
  w.text('lane'); w.number(b.lane)
  w.text('after'); w.number(b.after)
  w.text('through'); w.number(b.through)
}

export function encodeBatch (b: Batch): Buffer {
  writer.begin(sizeHint(b))
  writeHead(b, 7)
  writer.text('items')
  writeItems(b)
  return writer.end()
}

/** The batch deflated when its items encode to more than `minBytes` (on the thread pool); plain otherwise. */
export async function encodeBatchCompressed (b: Batch, minBytes: number): Promise<Buffer> {
  writer.begin(sizeHint(b))
  writeItems(b)
  const items = writer.end()
  if (items.length <= minBytes) return encodeBatch(b)
  const z = await deflateAsync(items, { level: REPL_COMPRESS_LEVEL })
  writer.begin(64 + z.length)
  writeHead(b, 8)
  writer.text('z'); writer.bytes(z)
  writer.text('n'); writer.number(items.length)
  return writer.end()
}

function bad (why: string): FerryError {
  return new FerryError(ReplCode.BAD_BATCH, `replication batch: ${why}`)
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v)
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0

/** A batch as far as it can be read without inflating: its header, and its items raw or compressed. */
export interface BatchHead extends Omit<Batch, 'items'> {
  rawItems?: unknown[]
  z?: Uint8Array
  n?: number
}

/** Decode and check a batch from the network (untrusted bytes), which must be plain. Throws E_REPL_BAD_BATCH. */
export function decodeBatch (data: Uint8Array): Batch {
  const head = decodeBatchHead(data)
  if (head.rawItems === undefined) throw bad('compressed batch where a plain one was expected')
  return withItems(head, head.rawItems)
}

/** The items of a batch head, inflated first when compressed (thread pool; bounded by REPL_RECEIVE_BATCH_BYTES_MAX). */
export async function batchOf (head: BatchHead): Promise<Batch> {
  if (head.rawItems !== undefined) return withItems(head, head.rawItems)
  let bytes: Buffer
  try {
    bytes = await inflateAsync(head.z as Uint8Array, { maxOutputLength: REPL_RECEIVE_BATCH_BYTES_MAX })
  } catch (err) {
    throw bad(`compressed items do not inflate within ${REPL_RECEIVE_BATCH_BYTES_MAX} bytes (${(err as Error).message})`)
  }
  if (bytes.length !== head.n) throw bad('compressed items have another length than announced')
  let raw: unknown
  try { raw = encoder.decode(bytes) } catch { throw bad('compressed items are not CBOR') }
  if (!Array.isArray(raw)) throw bad('items')
  return withItems(head, raw)
}

/** Decode and check a batch's header (untrusted bytes). Throws E_REPL_BAD_BATCH. */
export function decodeBatchHead (data: Uint8Array): BatchHead {
  if (data.length > REPL_RECEIVE_BATCH_BYTES_MAX) throw bad(`larger than ${REPL_RECEIVE_BATCH_BYTES_MAX} bytes`)
  let doc: unknown
  try { doc = encoder.decode(data) } catch { throw bad('not CBOR') }
  if (doc === null || typeof doc !== 'object') throw bad('not a map')
  const d = doc as Record<string, unknown>
  if (d.v !== VERSION) throw bad(`version ${String(d.v)} (want ${VERSION})`)
  if (!isStr(d.from) || !isStr(d.to)) throw bad('from/to missing')
  const lane = d.lane ?? Lane.normal
  if (!(LANES as unknown[]).includes(lane)) throw bad('lane')
  if (!isInt(d.after) || !isInt(d.through) || d.through < d.after) throw bad('after/through')
  const head: BatchHead = { from: d.from, to: d.to, lane: lane as Lane, after: d.after, through: d.through }
  if (d.z instanceof Uint8Array && isInt(d.n) && d.n >= 0 && d.n <= REPL_RECEIVE_BATCH_BYTES_MAX) return { ...head, z: d.z, n: d.n }
  if (!Array.isArray(d.items)) throw bad('items')
  return { ...head, rawItems: d.items as unknown[] }
}

function withItems (head: BatchHead, rawItems: unknown[]): Batch {
  const items: WireItem[] = []
  let prev = head.after
  for (const raw of rawItems) {
    if (!Array.isArray(raw)) throw bad('item is not an array')
    const lsn = raw[1]
    if (!isInt(lsn) || lsn <= prev || lsn > head.through) throw bad('item lsns must increase within (after, through]')
    prev = lsn
    if (raw[0] === 'm') {
      const [, , topic, entryId, publishTime, payload, props] = raw as unknown[]
      if (!isStr(topic) || !isInt(entryId) || typeof publishTime !== 'number' || !(payload instanceof Uint8Array)) throw bad('message item')
      if (props === null || typeof props !== 'object' || Array.isArray(props)) throw bad('message props')
      items.push({ kind: 'message', lsn, topic, entryId, publishTime, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), props: props as MessageProps })
    } else if (raw[0] === 'd') {
      const [, , space, key, value] = raw as unknown[]
      if (!isStr(space) || typeof key !== 'string') throw bad('meta item')
      items.push({ kind: 'meta', lsn, space, key, value: value === null ? undefined : value as MetaValue })
    } else if (raw[0] === 'c') {
      const [, , topic, originSite, originEntryId] = raw as unknown[]
      if (!isStr(topic) || !isStr(originSite) || !isInt(originEntryId)) throw bad('cancel item')
      items.push({ kind: 'cancel', lsn, topic, originSite, originEntryId })
    } else {
      throw bad(`unknown item kind ${String(raw[0])}`)
    }
  }
  return { from: head.from, to: head.to, lane: head.lane, after: head.after, through: head.through, items }
}

export function encodeAnswer (a: Answer): Buffer {
  return encoder.encode(a)
}

export function decodeAnswer (data: Uint8Array): Answer {
  let doc: unknown
  try { doc = encoder.decode(data) } catch { throw bad('answer is not CBOR') }
  const d = doc as Record<string, unknown> | null
  if (d === null || typeof d !== 'object' || typeof d.ok !== 'boolean' || !isInt(d.position)) throw bad('answer')
  if (d.ok) return { ok: true, position: d.position }
  return { ok: false, code: typeof d.code === 'string' ? d.code : CommonCode.INTERNAL, message: typeof d.message === 'string' ? d.message : '', position: d.position }
}
