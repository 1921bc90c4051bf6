/**
 * The wire format of a link: one CBOR map per batch and one per answer.
 *
 * Batch  { v: 1, from, to, lane, after, through, topics?, items: [item...] }
 *   lane:    0 control, 1 high priority, 2 normal (store/origin-marks.ts); positions are per lane
 *   after:   the position the sender believes the receiver holds (lsn in the sender's log, -1 for none)
 *   through: the sender lsn the batch covers up to (inclusive; records it skipped included)
 *   topics:  the batch's topic table (text array): each topic name its 'n' items use, once
 *   item:    ['n', lsn, topicIndex, entryId, publishTime, payload, props]  (a message, its topic an index into `topics`)
 *          | ['m', lsn, topic, entryId, publishTime, payload, props]  (a message naming its topic: senders before the table)
 *          | ['d', lsn, space, key, value|null]
 *          | ['c', lsn, topic, originSite, originEntryId]  (cancel of a scheduled entry, named by its origin)
          | ['r', lsn, topicIndex, record]  (a plain message record, its bytes as the sender's log holds them:
              store/plain-record.ts; the receiver re-frames it with its own topic and entry ids and the origin pairs)
   Senders write 'r' for the plain records of their own site (REPL_SHIP_PLAIN_RECORDS) and 'n' for the rest
   (entries that came from elsewhere carry their route); a receiver checks an 'r' record's bytes and refuses the
   batch when they are not plain.
 *   A receiver reads both message kinds; a sender writes 'n' (a topic repeated item after item crossed once per
 *   item before: ~20 of a 128-byte message's ~180 wire bytes, each written, sent through NATS and compared again).
 *   or, compressed: the same map with `z` (raw deflate of the CBOR items array) and `n` (its length) instead
 *   of `items`; the header stays plain so a receiver can queue the batch in arrival order before inflating it
 * Answer { ok: true, position } | { ok: false, code, message, position }
 *
 * Props travel as the store's MessageProps object (CBOR map; user
 * properties are an array of pairs, so their order and repeats survive).
 *
 * Batches are written by hand (common/cbor-writer.ts) and read by hand
 * (batch-reader.ts: the header at once, the items in the batch's turn);
 * both give what cbor-x would.
 */
import { promisify } from 'node:util'
import { deflateRaw, inflateRaw } from 'node:zlib'
import { Encoder } from 'cbor-x'
import { CborMajor, CborWriter } from '../common/cbor-writer.js'
import { CommonCode } from '../common/errors.js'
import { LANES, Lane, plainRecordOf, type LogItem, type MessageProps, type MetaValue, type PlainRecord } from '../store/index.js'
import { bad, WireReader, type ItemsAt } from './batch-reader.js'
import { REPL_COMPRESS_LEVEL, REPL_RECEIVE_BATCH_BYTES_MAX } from './constants.js'

const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false })
const VERSION = 1

/** A cancellation names the entry by its origin: entry ids differ from site to site. */
export interface CancelItem { kind: 'cancel', lsn: number, topic: string, originSite: string, originEntryId: number }

/**
 * A plain record on the wire, where its bytes are (the sender's log block; the batch's bytes at the receiver,
 * which sets `plain`: the record checked by plainRecordOf).
 */
export type PlainItem = Extract<LogItem, { kind: 'plain' }> & { plain?: PlainRecord }

export type WireItem = Extract<LogItem, { kind: 'message' }> | Extract<LogItem, { kind: 'meta' }> | CancelItem | PlainItem

/** Payload bytes of an entry item for the link's bounds and lag (a plain record's whole record), 0 for the others. */
export function entryBytesOf (it: WireItem): number {
  return it.kind === 'message' ? it.payload.length : it.kind === 'plain' ? it.end - it.start : 0
}

/** The priority of an entry item (undefined: none set, or not an entry). */
export function priorityOf (it: WireItem): number | undefined {
  return it.kind === 'message' ? it.props.priority : it.kind === 'plain' ? it.priority : undefined
}

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

/** The batch's topic table being written: names in first-use order, and each message item's index (reused arrays). */
const table = { names: [] as string[], indexOf: new Map<string, number>(), itemIndex: [] as number[] }

/** Build `table` for the batch: one name per topic its messages use. */
function topicTable (b: Batch): void {
  table.names.length = 0
  table.indexOf.clear()
  table.itemIndex.length = 0
  let last: string | undefined
  let lastIndex = -1
  for (const it of b.items) {
    if (it.kind !== 'message' && it.kind !== 'plain') { table.itemIndex.push(-1); continue }
    if (it.topic !== last) {
      last = it.topic
      const known = table.indexOf.get(last)
      if (known !== undefined) lastIndex = known
      else {
        lastIndex = table.names.length
        table.names.push(last)
        table.indexOf.set(last, lastIndex)
      }
    }
    table.itemIndex.push(lastIndex)
  }
}

/** Writes the batch's items; `topicTable(b)` first. */
function writeItems (b: Batch): void {
  const w = writer
  w.head(CborMajor.array, b.items.length)
  for (let i = 0; i < b.items.length; i++) {
    const it = b.items[i] as WireItem
    if (it.kind === 'message') {
      w.byte(0x87) // ['n', lsn, topicIndex, entryId, publishTime, payload, props]
      w.text('n')
      w.number(it.lsn)
      w.number(table.itemIndex[i] as number)
      w.number(it.entryId)
      w.number(it.publishTime)
      w.bytes(it.payload)
      writeProps(it.props)
    } else if (it.kind === 'plain') {
      w.byte(0x84) // ['r', lsn, topicIndex, record]
      w.text('r')
      w.number(it.lsn)
      w.number(table.itemIndex[i] as number)
      w.head(CborMajor.bytes, it.end - it.start)
      w.copy(it.src, it.start, it.end)
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

function topicBytesHint (): number {
  let n = 0
  for (const name of table.names) n += 3 + name.length * 3 // utf8: at most 3 bytes per UTF-16 unit
  return n
}

function sizeHint (b: Batch): number {
  let n = 64 + topicBytesHint()
  for (const it of b.items) n += ITEM_BYTES_HINT + entryBytesOf(it)
  return n
}

/** The header map's pairs before `items` (or `z`, `n`), `extra` of them after these: with the topic table when it has names. */
function writeHead (b: Batch, extra: number): void {
  const w = writer
  const names = table.names
  w.head(CborMajor.map, 6 + (names.length > 0 ? 1 : 0) + extra)
  w.text('v'); w.number(VERSION)
  w.text('from'); w.text(b.from)
  w.text('to'); w.text(b.to)
  w.text('lane'); w.number(b.lane)
  w.text('after'); w.number(b.after)
  w.text('through'); w.number(b.through)
  if (names.length === 0) return
  w.text('topics')
  w.head(CborMajor.array, names.length)
  for (const name of names) w.text(name)
}

export function encodeBatch (b: Batch): Buffer {
  topicTable(b)
  writer.begin(sizeHint(b))
  writeHead(b, 1)
  writer.text('items')
  writeItems(b)
  return writer.end()
}

/** The batch deflated when its items encode to more than `minBytes` (on the thread pool); plain otherwise. */
export async function encodeBatchCompressed (b: Batch, minBytes: number): Promise<Buffer> {
  topicTable(b)
  writer.begin(sizeHint(b))
  writeItems(b)
  const items = writer.end()
  if (items.length <= minBytes) return encodeBatch(b)
  const z = await deflateAsync(items, { level: REPL_COMPRESS_LEVEL })
  topicTable(b) // the table is shared: another batch may have been written while this one deflated
  writer.begin(64 + z.length + topicBytesHint())
  writeHead(b, 2)
  writer.text('z'); writer.bytes(z)
  writer.text('n'); writer.number(items.length)
  return writer.end()
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v)
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0

/** A batch as far as it can be read without inflating: its header, and where its items are (or compressed). */
export interface BatchHead extends Omit<Batch, 'items'> {
  /** The topic table its 'n' items index. */
  topics?: readonly string[]
  items?: ItemsAt
  z?: Uint8Array
  n?: number
}

const generic = (bytes: Uint8Array): unknown => encoder.decode(bytes)

/** Decode and check a batch from the network (untrusted bytes), which must be plain. Throws E_REPL_BAD_BATCH. */
export function decodeBatch (data: Uint8Array): Batch {
  const head = decodeBatchHead(data)
  if (head.items === undefined) throw bad('compressed batch where a plain one was expected')
  return withItems(head, head.items)
}

/** The items of a batch head: where they are, inflated first when compressed (thread pool; bounded by REPL_RECEIVE_BATCH_BYTES_MAX). */
export async function itemsOf (head: BatchHead): Promise<ItemsAt> {
  if (head.items !== undefined) return head.items
  let bytes: Buffer
  try {
    bytes = await inflateAsync(head.z as Uint8Array, { maxOutputLength: REPL_RECEIVE_BATCH_BYTES_MAX })
  } catch (err) {
    throw bad(`compressed items do not inflate within ${REPL_RECEIVE_BATCH_BYTES_MAX} bytes (${(err as Error).message})`)
  }
  if (bytes.length !== head.n) throw bad('compressed items have another length than announced')
  const r = new WireReader(bytes, 0, generic)
  const count = r.arrayHead()
  if (count < 0) return itemsGeneric(bytes)
  const at = r.at
  for (let i = 0; i < count; i++) r.skip(1)
  if (r.at !== bytes.length) throw bad('bytes after the compressed items')
  return { src: bytes, at, count }
}

/** The items of a batch head, inflated first when compressed. */
export async function batchOf (head: BatchHead): Promise<Batch> {
  return withItems(head, await itemsOf(head))
}

/** Items the hand reader does not step through (an indefinite-length array): through cbor-x, written again. */
function itemsGeneric (bytes: Uint8Array): ItemsAt {
  let raw: unknown
  try { raw = encoder.decode(bytes) } catch { throw bad('items are not CBOR') }
  if (!Array.isArray(raw)) throw bad('items')
  const again = encoder.encode(raw)
  const r = new WireReader(again, 0, generic)
  const count = r.arrayHead()
  return { src: again, at: r.at, count }
}

/**
 * Decode and check a batch's header (untrusted bytes), by hand (batch-reader.ts); the items stay bytes, stepped
 * over only when a header field follows them. Throws E_REPL_BAD_BATCH.
 */
export function decodeBatchHead (data: Uint8Array): BatchHead {
  if (data.length > REPL_RECEIVE_BATCH_BYTES_MAX) throw bad(`larger than ${REPL_RECEIVE_BATCH_BYTES_MAX} bytes`)
  if (data.length === 0) throw bad('not CBOR')
  const r = new WireReader(data, 0, generic)
  const pairs = r.mapHead()
  if (pairs < 0) return headGeneric(data)
  // No prototype: a key named __proto__ is a field like any other (and not a header field).
  const d = Object.create(null) as Record<string, unknown>
  let items: ItemsAt | undefined
  for (let i = 0; i < pairs; i++) {
    const k = r.value()
    if (k === 'items') {
      const count = r.arrayHead()
      if (count < 0) return headGeneric(data)
      items = { src: data, at: r.at, count }
      if (i < pairs - 1) for (let j = 0; j < count; j++) r.skip(1) // a field after the items: step over them
      else r.at = data.length // the items end the map (as every Ferry encoder writes it): read in their turn
      d.items = true
    } else if (typeof k === 'string') {
      d[k] = r.value()
    } else {
      r.skip(1)
    }
  }
  return checkHead(d, items)
}

/** A header in a shape the hand reader does not step through (an indefinite-length map or array): cbor-x's. */
function headGeneric (data: Uint8Array): BatchHead {
  let doc: unknown
  try { doc = encoder.decode(data) } catch { throw bad('not CBOR') }
  if (doc === null || typeof doc !== 'object') throw bad('not a map')
  const d = doc as Record<string, unknown>
  let items: ItemsAt | undefined
  if (Array.isArray(d.items)) items = itemsGeneric(encoder.encode(d.items))
  return checkHead(d, items)
}

function checkHead (d: Record<string, unknown>, items: ItemsAt | undefined): BatchHead {
  if (d.v !== VERSION) throw bad(`version ${String(d.v)} (want ${VERSION})`)
  if (!isStr(d.from) || !isStr(d.to)) throw bad('from/to missing')
  const lane = d.lane ?? Lane.normal
  if (!(LANES as unknown[]).includes(lane)) throw bad('lane')
  if (!isInt(d.after) || !isInt(d.through) || d.through < d.after) throw bad('after/through')
  const head: BatchHead = { from: d.from, to: d.to, lane: lane as Lane, after: d.after, through: d.through }
  if (d.topics !== undefined) {
    if (!Array.isArray(d.topics) || !d.topics.every(isStr)) throw bad('topics')
    head.topics = d.topics
  }
  if (d.z instanceof Uint8Array && isInt(d.n) && d.n >= 0 && d.n <= REPL_RECEIVE_BATCH_BYTES_MAX) return { ...head, z: d.z, n: d.n }
  if (items === undefined) throw bad('items')
  head.items = items
  return head
}

/**
 * Read every item of a batch (untrusted): lsns increase within (after, through], each item of a known kind with
 * fields of the right types, or the whole batch is refused (nothing of it applied).
 */
function withItems (head: BatchHead, at: ItemsAt): Batch {
  const r = new WireReader(at.src, at.at, generic)
  const items: WireItem[] = []
  let prev = head.after
  let topic: string | undefined
  let payloadBytes = 0
  for (let i = 0; i < at.count; i++) {
    const n = r.arrayHead()
    if (n < 0) { r.skip(1); throw bad('item is not an array') }
    const kind = n > 0 ? r.value() : undefined
    const lsn = n > 1 ? r.value() : undefined
    if (!isInt(lsn) || lsn <= prev || lsn > head.through) throw bad('item lsns must increase within (after, through]')
    prev = lsn
    if (kind === 'm' || kind === 'n') {
      const t = n > 2 ? (kind === 'm' ? r.text(topic) : topicAt(head, r.value())) : undefined
      const entryId = n > 3 ? r.value() : undefined
      const publishTime = n > 4 ? r.value() : undefined
      const payload = n > 5 ? r.bytesView() : undefined
      if (!isStr(t) || !isInt(entryId) || typeof publishTime !== 'number' || !(payload instanceof Uint8Array)) throw bad('message item')
      const props = n > 6 ? r.value() : undefined
      if (props === null || typeof props !== 'object' || Array.isArray(props)) throw bad('message props')
      for (let j = 7; j < n; j++) r.skip(1)
      topic = t
      payloadBytes += payload.length
      const buf = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.length) // a tagged typed array (cbor-x's)
      items.push({ kind: 'message', lsn, topic: t, entryId, publishTime, payload: buf, props: props as MessageProps })
    } else if (kind === 'r') {
      const t = n > 2 ? topicAt(head, r.value()) : undefined
      const start = n > 3 ? r.bytesAt() : -1
      const end = r.at
      for (let j = 4; j < n; j++) r.skip(1)
      if (!isStr(t) || start < 0) throw bad('plain item')
      // The batch's bytes, no copy: the store copies the record into its own chunk at once and keeps none of it.
      const src = r.buffer
      const plain = plainRecordOf(src, start, end)
      if (plain === undefined) throw bad('plain item: the record is not a plain message record')
      items.push({ kind: 'plain', lsn, topic: t, entryId: plain.entryId, publishTime: plain.publishTime, priority: plain.priority, src, start, end, plain })
    } else if (kind === 'd') {
      const space = n > 2 ? r.value() : undefined
      const key = n > 3 ? r.value() : undefined
      const value = n > 4 ? r.value() : undefined
      for (let j = 5; j < n; j++) r.skip(1)
      if (!isStr(space) || typeof key !== 'string') throw bad('meta item')
      items.push({ kind: 'meta', lsn, space, key, value: value === null ? undefined : value as MetaValue })
    } else if (kind === 'c') {
      const t = n > 2 ? r.value() : undefined
      const originSite = n > 3 ? r.value() : undefined
      const originEntryId = n > 4 ? r.value() : undefined
      for (let j = 5; j < n; j++) r.skip(1)
      if (!isStr(t) || !isStr(originSite) || !isInt(originEntryId)) throw bad('cancel item')
      items.push({ kind: 'cancel', lsn, topic: t, originSite, originEntryId })
    } else {
      throw bad(`unknown item kind ${String(kind)}`)
    }
  }
  ownPayloads(items, payloadBytes)
  return { from: head.from, to: head.to, lane: head.lane, after: head.after, through: head.through, items }
}

/** The name an 'n' item's topic index stands for in its batch's table (undefined when there is none: refused by the caller). */
function topicAt (head: BatchHead, index: unknown): string | undefined {
  return isInt(index) && index >= 0 ? head.topics?.[index] : undefined
}

/**
 * The payloads moved into one buffer of the batch's own: the store keeps a payload as given (its tail cache), and
 * a view of the network's bytes would keep them (and whatever else shares their buffer) for as long.
 */
function ownPayloads (items: WireItem[], payloadBytes: number): void {
  if (payloadBytes === 0) return
  const own = Buffer.allocUnsafe(payloadBytes)
  let at = 0
  for (const it of items) {
    if (it.kind !== 'message') continue
    const n = it.payload.length
    own.set(it.payload, at)
    it.payload = own.subarray(at, at + n)
    at += n
  }
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
