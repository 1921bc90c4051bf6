/**
 * A message record's CBOR written straight into a shared chunk, for the
 * replicated append path (ledger-replicated.ts): the same record that
 * `encodeRecord` writes (records.ts: [kind, topicId, entryId, publishTime,
 * payload, props] with one-letter prop keys), without building the wire
 * array and props object and without a buffer per record. The bytes are not
 * always cbor-x's, but they decode to the same values with decodeRecord, and
 * they keep the shape the log tail peeks at (peekMessage, peekViaIncludes: a
 * 5- or 6-item array, a props map of one-letter text keys, `replicatedVia` an
 * array of text strings).
 *
 * Profiled at the receiving site (session 5): the generic encode of the
 * record (cbor-x plus propsToWire) was ~14% of its CPU during a drain, and
 * one buffer per record a good part of the GC (~24%).
 *
 * Bodies are views of a chunk (common/cbor-writer.ts); a chunk lives until
 * the log writer has copied every record of it into its write buffer.
 */
import assert from 'node:assert/strict'
import { CborMajor, CborWriter } from '../common/cbor-writer.js'
import { encodeValue, PROP_KEYS_COUNT, propWireKeyOf, RecordKind } from './records.js'
import type { PlainRecord } from './plain-record.js'
import type { Lsn, MessageProps } from './types.js'

/** Bytes of a record besides its payload and props: array head, kind, three numbers, the payload's head. */
const RECORD_HEAD_BYTES_MAX = 1 + 1 + 9 + 9 + 9 + 5

export class MessageEncoder {
  private readonly w = new CborWriter(encodeValue)

  /**
   * The body of a message record (no meta), a view of the current chunk. One pass over the props: the array and
   * map heads are written as placeholders and set once the pairs are counted (a map of known props has fewer
   * than 24 pairs, so its head is one byte); without props the record is the 5-item array.
   */
  encode (topicId: number, entryId: number, publishTime: number, payload: Buffer, props: MessageProps): Buffer {
    const w = this.w
    w.begin(RECORD_HEAD_BYTES_MAX + payload.length)
    const some = hasKeys(props)
    w.byte(some ? 0x86 : 0x85)
    w.byte(RecordKind.message)
    w.number(topicId)
    w.number(entryId)
    w.number(publishTime)
    w.bytes(payload)
    if (!some) return w.end()
    const mapAt = w.written
    w.byte(0xa0)
    let pairs = 0
    for (const long in props) {
      const v = props[long as keyof MessageProps]
      const key = propWireKeyOf(long)
      if (v === undefined || key === undefined) continue
      w.byte(0x61) // a one-letter text string
      w.byte(key)
      w.value(v)
      pairs++
    }
    const body = w.end()
    if (pairs > 0) {
      body[mapAt] = 0xa0 | pairs
      return body
    }
    // Only unknown or undefined props: the 5-item array after all.
    body[0] = 0x85
    return body.subarray(0, mapAt)
  }

  /**
   * The record of a plain message received from `originSite` (store/plain-record.ts), a view of the current
   * chunk: this site's topic id and entry id, the origin's publish time, payload and props pairs copied as they
   * are, then the origin pairs (O, E, V, L) that the decoded path's replicatedProps adds. A plain record has
   * none of those keys, so none is written twice.
   */
  plain (topicId: number, entryId: number, r: PlainRecord, originSite: string, via: readonly string[], replicatedLsn: Lsn): Buffer {
    const w = this.w
    const src = r.src
    const route = this.routeBytes(originSite, via)
    w.begin(RECORD_HEAD_BYTES_MAX + (r.end - r.publishAt) + ORIGIN_NUMBERS_BYTES_MAX + route.length)
    w.byte(0x86)
    w.byte(RecordKind.message)
    w.number(topicId)
    w.number(entryId)
    w.copy(src, r.publishAt, r.payloadEnd)
    w.head(CborMajor.map, r.pairs + 4)
    w.copy(src, r.pairsAt, r.end)
    w.copy(route, 0, route.length) // 'O' originSite, 'V' replicatedVia
    w.byte(0x61); w.byte(0x45) // 'E' originEntryId
    w.number(r.entryId)
    w.byte(0x61); w.byte(0x4c) // 'L' replicatedLsn
    w.number(replicatedLsn)
    return w.end()
  }

  /** The 'O' and 'V' pairs of a route, written once per route (every record of a batch has the same one). */
  private routeBytes (originSite: string, via: readonly string[]): Buffer {
    const last = this.lastRoute
    if (last !== undefined && last.originSite === originSite && sameSites(last.via, via)) return last.bytes
    const route = this.routeWriter
    route.begin()
    route.byte(0x61); route.byte(0x4f)
    route.text(originSite)
    route.byte(0x61); route.byte(0x56)
    route.head(CborMajor.array, via.length)
    for (const s of via) route.text(s)
    const bytes = Buffer.from(route.end())
    this.lastRoute = { originSite, via: [...via], bytes }
    return bytes
  }

  private lastRoute: { originSite: string, via: readonly string[], bytes: Buffer } | undefined
  private readonly routeWriter = new CborWriter(encodeValue)
}

/** Same sites in the same order (a receiver makes a route array per batch: compared by content). */
function sameSites (a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Bytes of the origin's E and L pairs: two one-letter keys and two numbers. */
const ORIGIN_NUMBERS_BYTES_MAX = 2 * 2 + 9 + 9

// A map of known props has a one-byte head (fewer than 24 pairs): the placeholder above is set in place.
assert.ok(PROP_KEYS_COUNT < 24, 'a props map head is one byte')

function hasKeys (props: MessageProps): boolean {
  for (const _ in props) return true
  return false
}
