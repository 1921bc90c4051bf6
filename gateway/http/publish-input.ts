/**
 * Turns an HTTP publish request into dispatcher publish inputs: `Ferry-*`
 * headers for a single message, or a batch document (JSON or CBOR) for many.
 * Pure: no sockets, no dispatcher. Every problem is an E_BAD_REQUEST (400),
 * an E_TOO_LARGE (413) or an E_UNSUPPORTED_MEDIA_TYPE (415).
 */
import { isUtf8 } from 'node:buffer'
import { Decoder } from 'cbor-x'
import { FerryError, CommonCode } from '../../common/errors.js'
import type { MessageProps, UserProperty } from '../../store/index.js'
import { FerryProp, readFerryControls } from '../message-props.js'
import { USER_PROPERTIES_MAX, USER_PROPERTY_CHARS_MAX } from './constants.js'
import { HttpCode } from './errors.js'

export type HeaderPairs = ReadonlyArray<readonly [string, string]>

export interface PublishInput { payload: Buffer, props: MessageProps }

export const BATCH_JSON = 'application/vnd.ferry.batch+json'
export const BATCH_CBOR = 'application/vnd.ferry.batch+cbor'
/** Repeated header carrying user properties, `name=value` items (see parseFerryPropertyHeader). */
export const FERRY_PROPERTY_HEADER = 'ferry-property'
/**
 * curl's default Content-Type for `-d` (and HTML forms'). Nearly every such
 * publish is a payload typed on a command line, not a form, so it is not
 * stored as the message's content type: a consumer would otherwise be told to
 * parse `{"id":1}` as a form.
 */
export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded'

/** `Ferry-*` request headers Ferry reads; any other `ferry-*` header is refused so typos do not pass silently. */
const CONTROL_HEADERS: ReadonlySet<string> = new Set([
  FerryProp.key, FerryProp.orderingKey, FerryProp.priority, FerryProp.deliverAt, FerryProp.delayMs,
  FerryProp.ttlMs, FerryProp.producerId, FerryProp.producerSeq, FerryProp.resultTopic
])

function bad (message: string): FerryError {
  return new FerryError(CommonCode.BAD_REQUEST, message)
}

/** Media type without parameters, lowercase (`Text/Plain; charset=x` → `text/plain`). */
export function mediaTypeOf (contentType: string | undefined): string {
  if (contentType === undefined) return ''
  // Every publish reads this: no array from split, just the part before the first `;`.
  const semi = contentType.indexOf(';')
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase()
}

export function isBatchContentType (contentType: string | undefined): boolean {
  const m = mediaTypeOf(contentType)
  return m === BATCH_JSON || m === BATCH_CBOR
}

function decodePart (s: string, what: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    throw bad(`Ferry-Property: malformed percent-encoding in ${what}`)
  }
}

function checkUserProperty (name: string, value: string): UserProperty {
  if (name.length === 0) throw bad('user property name must not be empty')
  if (name.length > USER_PROPERTY_CHARS_MAX || value.length > USER_PROPERTY_CHARS_MAX) {
    throw bad(`user property name and value are limited to ${USER_PROPERTY_CHARS_MAX} characters`)
  }
  return [name, value]
}

/**
 * One `Ferry-Property` header value: comma-separated `name=value` items, each
 * part percent-decoded (like the W3C Baggage header). Clients that join
 * repeated headers with `, ` (fetch does) therefore lose nothing; a literal
 * comma, `=` or `%` in a name or value is sent percent-encoded.
 */
export function parseFerryPropertyHeader (value: string): UserProperty[] {
  const out: UserProperty[] = []
  for (const raw of value.split(',')) {
    const item = raw.trim()
    if (item.length === 0) throw bad('Ferry-Property: empty item')
    const eq = item.indexOf('=')
    if (eq <= 0) throw bad('Ferry-Property: items are name=value')
    out.push(checkUserProperty(decodePart(item.slice(0, eq).trim(), 'a name'), decodePart(item.slice(eq + 1).trim(), 'a value')))
  }
  return out
}

/**
 * The props of every publish without Ferry-* headers or a stored content type: one frozen object instead of
 * a new `{}` per request. Nothing on the publish path writes into props (the store keeps the object as given).
 */
const NO_PROPS: MessageProps = Object.freeze({})

/** Props of a single-message publish from its headers (lowercase names, in arrival order). */
export function propsFromHeaders (headers: HeaderPairs, nowMs: number): MessageProps {
  // Most publishes carry no Ferry-* header: the lists are made only for one that does.
  let controls: Array<readonly [string, string]> | undefined
  let userProperties: UserProperty[] | undefined
  let contentType: string | undefined
  for (const [name, value] of headers) {
    if (name === 'content-type') { contentType = value; continue }
    if (!name.startsWith('ferry-')) continue
    if (name === FERRY_PROPERTY_HEADER) {
      userProperties ??= []
      userProperties.push(...parseFerryPropertyHeader(value))
    } else if (CONTROL_HEADERS.has(name)) {
      controls ??= []
      controls.push([name, value])
    } else {
      throw bad(`unknown header ${name}`)
    }
  }
  if (userProperties !== undefined && userProperties.length > USER_PROPERTIES_MAX) throw bad(`at most ${USER_PROPERTIES_MAX} user properties`)
  const storedContentType = contentType !== undefined && contentType.length > 0 && mediaTypeOf(contentType) !== FORM_CONTENT_TYPE
  if (controls === undefined && (userProperties === undefined || userProperties.length === 0) && !storedContentType) return NO_PROPS
  const props: MessageProps = controls === undefined ? {} : readFerryControls(controls, nowMs)
  if (userProperties !== undefined && userProperties.length > 0) props.userProperties = userProperties
  if (storedContentType) props.contentType = contentType
  return props
}

const BATCH_FIELDS: ReadonlySet<string> = new Set([
  'payload', 'encoding', 'key', 'orderingKey', 'priority', 'deliverAt', 'delayMs', 'ttlMs',
  'producerId', 'producerSeq', 'resultTopic', 'contentType', 'properties'
])
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

function isRecord (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)
}

function str (v: unknown, field: string, i: number): string {
  if (typeof v !== 'string') throw bad(`messages[${i}].${field} must be a string`)
  return v
}

function intStr (v: unknown, field: string, i: number): string {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw bad(`messages[${i}].${field} must be an integer`)
  return String(v)
}

function payloadOf (m: Record<string, unknown>, i: number): Buffer {
  const p = m.payload
  const encoding = m.encoding ?? 'utf8'
  if (encoding !== 'utf8' && encoding !== 'base64') throw bad(`messages[${i}].encoding must be utf8 or base64`)
  if (p instanceof Uint8Array) {
    if (m.encoding !== undefined) throw bad(`messages[${i}].encoding applies to string payloads only`)
    return Buffer.from(p.buffer, p.byteOffset, p.byteLength)
  }
  if (typeof p !== 'string') throw bad(`messages[${i}].payload must be a string${m.encoding === undefined ? ' (or bytes in CBOR)' : ''}`)
  if (encoding === 'utf8') return Buffer.from(p, 'utf8')
  if (p.length % 4 !== 0 || !BASE64.test(p)) throw bad(`messages[${i}].payload is not valid base64`)
  return Buffer.from(p, 'base64')
}

function batchItem (m: unknown, i: number, nowMs: number): PublishInput {
  if (!isRecord(m)) throw bad(`messages[${i}] must be an object`)
  for (const k of Object.keys(m)) if (!BATCH_FIELDS.has(k)) throw bad(`messages[${i}]: unknown field ${k}`)
  const pairs: Array<readonly [string, string]> = []
  if (m.key !== undefined) pairs.push([FerryProp.key, str(m.key, 'key', i)])
  if (m.orderingKey !== undefined) pairs.push([FerryProp.orderingKey, str(m.orderingKey, 'orderingKey', i)])
  if (m.priority !== undefined) pairs.push([FerryProp.priority, intStr(m.priority, 'priority', i)])
  if (m.deliverAt !== undefined) {
    pairs.push([FerryProp.deliverAt, typeof m.deliverAt === 'number' ? intStr(m.deliverAt, 'deliverAt', i) : str(m.deliverAt, 'deliverAt', i)])
  }
  if (m.delayMs !== undefined) pairs.push([FerryProp.delayMs, intStr(m.delayMs, 'delayMs', i)])
  if (m.ttlMs !== undefined) pairs.push([FerryProp.ttlMs, intStr(m.ttlMs, 'ttlMs', i)])
  if (m.producerId !== undefined) pairs.push([FerryProp.producerId, str(m.producerId, 'producerId', i)])
  if (m.producerSeq !== undefined) pairs.push([FerryProp.producerSeq, intStr(m.producerSeq, 'producerSeq', i)])
  if (m.resultTopic !== undefined) pairs.push([FerryProp.resultTopic, str(m.resultTopic, 'resultTopic', i)])
  let props: MessageProps
  try {
    props = readFerryControls(pairs, nowMs)
  } catch (err) {
    if (err instanceof FerryError) throw bad(`messages[${i}]: ${err.message}`)
    throw err
  }
  if (m.contentType !== undefined) props.contentType = str(m.contentType, 'contentType', i)
  if (m.properties !== undefined) {
    const list = m.properties
    if (!Array.isArray(list)) throw bad(`messages[${i}].properties must be a list of [name, value] pairs`)
    if (list.length > USER_PROPERTIES_MAX) throw bad(`messages[${i}]: at most ${USER_PROPERTIES_MAX} user properties`)
    props.userProperties = list.map((pair: unknown) => {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
        throw bad(`messages[${i}].properties must be a list of [name, value] string pairs`)
      }
      return checkUserProperty(pair[0], pair[1])
    })
  }
  return { payload: payloadOf(m, i), props }
}

/** CBOR decoder for batch bodies: maps with string keys become plain objects. */
const cbor = new Decoder({ mapsAsObjects: true })

/** Parse a batch body. `batchMessagesMax` bounds the list. */
export function parseBatch (contentType: string | undefined, body: Buffer, nowMs: number, batchMessagesMax: number): PublishInput[] {
  const media = mediaTypeOf(contentType)
  let doc: unknown
  if (media === BATCH_JSON) {
    if (!isUtf8(body)) throw bad('batch body is not valid UTF-8')
    try {
      doc = JSON.parse(body.toString('utf8'))
    } catch {
      throw bad('batch body is not valid JSON')
    }
  } else if (media === BATCH_CBOR) {
    try {
      doc = cbor.decode(body)
    } catch {
      throw bad('batch body is not valid CBOR')
    }
  } else {
    throw new FerryError(HttpCode.UNSUPPORTED_MEDIA_TYPE, `batch content type must be ${BATCH_JSON} or ${BATCH_CBOR}`)
  }
  if (!Array.isArray(doc)) throw bad('batch body must be a list of messages')
  if (doc.length === 0) throw bad('batch is empty')
  if (doc.length > batchMessagesMax) throw new FerryError(CommonCode.TOO_LARGE, `batch has more than ${batchMessagesMax} messages`)
  return doc.map((m, i) => batchItem(m, i, nowMs))
}
