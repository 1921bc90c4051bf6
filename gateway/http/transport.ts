/**
 * The only file of gateway/http that touches uWebSockets.js: it snapshots a
 * request (uWS requests are valid only during the handler call), reads the
 * body with a bound, runs the plan and writes the JSON reply.
 *
 * uWS rules kept here: `onAborted` is set before anything asynchronous; after
 * an abort the response is never touched; a reply written after an await is
 * wrapped in `res.cork`; body chunks are copied (uWS reuses their memory).
 */
import type { Logger } from '../../common/log.js'
import { FerryError, CommonCode, isFerryError } from '../../common/errors.js'
import { httpErrorBody, httpStatusOf } from '../error-map.js'
import type { HttpRequest, HttpResponse, TemplatedApp } from '../uws.js'
import type { HttpCore } from './api.js'
import { HttpCode } from './errors.js'
import type { HttpCounters } from './counters.js'
import type { ApiReply, ReplySink, RequestHead, RequestPlan } from './request.js'
import { ReplyBatch, type SettledReply } from './reply-batch.js'

const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  507: 'Insufficient Storage'
}

/** `200 OK` and the like, built once per status instead of per reply. */
const STATUS_LINES = new Map<number, string>(Object.entries(STATUS_TEXT).map(([code, text]) => [Number(code), `${code} ${text}`]))

function statusLine (status: number): string {
  return STATUS_LINES.get(status) ?? `${status} Status`
}

const NO_HEADERS: ReadonlyArray<readonly [string, string]> = Object.freeze([])

/** What an exchange answers through: the transport's write and fail, shared by every request. */
interface ExchangeIo {
  write: (ex: Exchange, reply: ApiReply, closeConnection: boolean, code?: string) => void
  fail: (ex: Exchange, err: unknown, closeConnection?: boolean) => void
  /** Settled outside a uWS callback: written with the others of this turn (reply-batch.ts); inside one, at once. */
  settle: (ex: Exchange) => void
}

/** Outcome of an exchange between reply()/fail() and its write (reply-batch.ts). */
const Settled = { none: 0, reply: 1, fail: 2 } as const
type Settled = typeof Settled[keyof typeof Settled]

/**
 * One request from its arrival to its reply, and the request as the API sees
 * it (RequestHead; a class, so every request has the same shape). uWS
 * requests die with the handler call, so the head is copied here; the client
 * address is read from the response (valid until the reply) only when a
 * route asks for it. As a ReplySink it takes a plan's outcome (runTo).
 */
class Exchange implements RequestHead, ReplySink, SettledReply {
  /** Headers every reply carries (CORS, from gateway/auth's guard). */
  replyHeaders: ReadonlyArray<readonly [string, string]> = NO_HEADERS
  /** Set once the reply is written or the client went away; the response is not touched after. */
  done = false
  /** Set when the client went away. */
  aborted = false
  /** Made only when a route asks for an abort signal. */
  controller: AbortController | undefined = undefined
  method = ''
  path = ''
  query = ''
  /** Request headers: lowercase names, in arrival order, repeats kept. */
  readonly headers: Array<readonly [string, string]> = []
  private address: string | undefined = undefined
  /** The first outcome given (reply or fail), held until the transport writes it: later ones are ignored. */
  private settled: Settled = Settled.none
  private settledReply: ApiReply | undefined = undefined
  private settledError: unknown = undefined

  /** `id`: for the per-request debug line (ops). */
  constructor (readonly res: HttpResponse, readonly counters: HttpCounters, readonly id: number, private readonly io: ExchangeIo) {}

  get remoteAddress (): string {
    this.address ??= remoteAddressOf(this.res)
    return this.address
  }

  abortSignal (): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController()
      if (this.aborted) this.controller.abort()
    }
    return this.controller.signal
  }

  reply (r: ApiReply): void {
    if (this.done || this.settled !== Settled.none) return
    this.settled = Settled.reply
    this.settledReply = r
    this.io.settle(this)
  }

  fail (err: unknown): void {
    if (this.done || this.settled !== Settled.none) return
    this.settled = Settled.fail
    this.settledError = err
    this.io.settle(this)
  }

  /** Write the outcome reply() or fail() gave (nothing when the client went away meanwhile: write checks `done`). */
  writeSettled (): void {
    const { settled, settledReply, settledError } = this
    this.settledReply = undefined
    this.settledError = undefined
    if (settled === Settled.reply) this.io.write(this, settledReply as ApiReply, false)
    else if (settled === Settled.fail) this.io.fail(this, settledError)
  }
}

/**
 * The client address as text, as uWS's getRemoteAddressAsText gives it. Every
 * call asks the kernel and makes an ArrayBuffer (a few microseconds, a
 * noticeable share of a publish), so an IPv4 address (4 bytes) is formatted
 * here from the binary form instead of having uWS format it into a second buffer.
 */
function remoteAddressOf (res: HttpResponse): string {
  const raw = new Uint8Array(res.getRemoteAddress())
  if (raw.length === 4) return `${raw[0] as number}.${raw[1] as number}.${raw[2] as number}.${raw[3] as number}`
  return Buffer.from(res.getRemoteAddressAsText()).toString('utf8')
}

/** The header list forEach is filling (forEach calls back synchronously): one shared callback instead of a closure per request. */
let snapshotHeaders: Array<readonly [string, string]> | undefined
function pushHeader (name: string, value: string): void { snapshotHeaders?.push([name, value]) }

function snapshot (ex: Exchange, req: HttpRequest): void {
  // uWS yields every header line, repeats included, in arrival order.
  snapshotHeaders = ex.headers
  try {
    req.forEach(pushHeader)
  } finally {
    snapshotHeaders = undefined
  }
  ex.method = upperMethod(req.getMethod())
  ex.path = req.getUrl()
  ex.query = req.getQuery() ?? ''
}

/** uWS gives the method in lower case; the common ones map to constants instead of a new string per request. */
function upperMethod (m: string): string {
  switch (m) {
    case 'post': return 'POST'
    case 'get': return 'GET'
    case 'put': return 'PUT'
    case 'delete': return 'DELETE'
    default: return m.toUpperCase()
  }
}

/** Declared body size: a number, undefined without a body, NaN when the header is malformed. */
function declaredBodyBytes (head: RequestHead): number | undefined {
  let length: string | undefined
  let chunked = false
  for (const [n, v] of head.headers) {
    if (n === 'content-length') length = v
    else if (n === 'transfer-encoding') chunked = true
  }
  if (length !== undefined) return /^\d{1,15}$/.test(length.trim()) ? Number(length.trim()) : Number.NaN
  return chunked ? Number.POSITIVE_INFINITY : undefined
}

/**
 * What the corked write sends: set just before `res.cork(sendCorked)` and
 * read inside it (cork calls back synchronously), so a reply needs no
 * closure of its own.
 */
const corked = {
  res: undefined as HttpResponse | undefined,
  ex: undefined as Exchange | undefined,
  reply: undefined as ApiReply | undefined,
  body: '' as string | Buffer,
  closeConnection: false
}

function sendCorked (): void {
  const { res, ex, reply, body, closeConnection } = corked
  if (res === undefined || ex === undefined || reply === undefined) return
  res.writeStatus(statusLine(reply.status))
  for (const [n, v] of ex.replyHeaders) res.writeHeader(n, v) // CORS (gateway/auth)
  if (reply.headers !== undefined) for (const [n, v] of reply.headers) res.writeHeader(n, v)
  if (reply.status === 204) { res.endWithoutBody(undefined, closeConnection); return } // CORS preflight
  res.writeHeader('content-type', reply.contentType ?? 'application/json').end(body, closeConnection)
}

function writeReply (ex: Exchange, reply: ApiReply, closeConnection: boolean, logger: Logger, code?: string): void {
  if (ex.done) return
  ex.done = true
  ex.counters.responded(reply.status, code)
  // ops hook: non-JSON replies (metrics text, console files) and extra headers; publish hands a body it encoded itself.
  const raw = reply.contentType !== undefined && (typeof reply.body === 'string' || Buffer.isBuffer(reply.body))
  // The debug line's client address is read before the reply: the response may not be touched after it.
  const debug = logger.isLevelEnabled('debug')
  const remote = debug ? ex.remoteAddress : undefined
  corked.res = ex.res
  corked.ex = ex
  corked.reply = reply
  corked.body = raw ? reply.body as string | Buffer : JSON.stringify(reply.body)
  corked.closeConnection = closeConnection
  // Corked: status, headers and body leave in one write (the reply is usually written after an await, outside uWS's own cork).
  try {
    ex.res.cork(sendCorked)
  } finally {
    corked.res = undefined
    corked.ex = undefined
    corked.reply = undefined
    corked.body = ''
  }
  if (debug) {
    logger.debug({ reqId: ex.id, method: ex.method, path: ex.path, remote, status: reply.status, code }, 'http request')
  }
}

/** Headers an error reply carries besides its JSON body: `Allow` on a 405 (RFC 9110 15.5.6). */
function errorHeaders (err: unknown): ReadonlyArray<readonly [string, string]> | undefined {
  if (!isFerryError(err, HttpCode.METHOD_NOT_ALLOWED)) return undefined
  const allow = err.details?.allow
  return Array.isArray(allow) ? [['allow', allow.join(', ')]] : undefined
}

export function attachUwsTransport (app: TemplatedApp, core: HttpCore, logger: Logger): void {
  function fail (ex: Exchange, err: unknown, closeConnection = false): void {
    if (!isFerryError(err)) logger.error({ err }, 'http request failed')
    const code = isFerryError(err) ? err.code : CommonCode.INTERNAL
    if (!ex.done) core.counters.rejected(code)
    // gateway/auth adds WWW-Authenticate on 401.
    const headers = [...(errorHeaders(err) ?? []), ...(core.deps.guard?.errorHeaders(err) ?? [])]
    write(ex, { status: httpStatusOf(err), body: httpErrorBody(err), headers }, closeConnection, code)
  }
  function write (ex: Exchange, reply: ApiReply, closeConnection: boolean, code?: string): void {
    writeReply(ex, reply, closeConnection, logger, code)
  }
  const batch = new ReplyBatch((err) => { logger.error({ err }, 'http reply write failed') })
  /**
   * uWS callbacks (the request handler, a body chunk) running now. A reply settled inside one is written at
   * once: uWS corks the socket around its callbacks and sends after, so it costs no extra send and waits for nothing.
   */
  let inUwsCallback = 0
  function settle (ex: Exchange): void {
    if (inUwsCallback > 0) ex.writeSettled()
    else batch.add(ex)
  }
  const io: ExchangeIo = { write, fail, settle }

  /** Read the whole body, at most `max` bytes; past that, answer with `tooLarge` and close. */
  function readBody (ex: Exchange, max: number, tooLarge: () => unknown, then: (body: Buffer) => void): void {
    // A small body arrives in one chunk: no list, no concatenation. Larger ones collect chunks.
    let chunks: Buffer[] | undefined
    let size = 0
    ex.res.onData((chunk, isLast) => {
      if (ex.done) return
      inUwsCallback++
      try {
        size += chunk.byteLength
        if (size > max) {
          // Stop at once; closing the connection is the only way to stop an upload in HTTP/1.1.
          fail(ex, tooLarge(), true)
          return
        }
        // uWS reuses the chunk's memory after this callback: copy it. Buffer.from(view) copies a small body into
        // Node's shared buffer pool (chunk.slice(0) made a new ArrayBuffer per request: ~10% of a publish's CPU).
        const copy = Buffer.from(new Uint8Array(chunk))
        if (isLast && chunks === undefined) { then(copy); return }
        chunks ??= []
        chunks.push(copy)
        if (isLast) then(Buffer.concat(chunks, size))
      } finally {
        inUwsCallback--
      }
    })
  }

  function run (ex: Exchange, plan: RequestPlan, body: Buffer): void {
    try {
      // runTo (single publish) settles the exchange itself: one promise step per request instead of two.
      if (plan.runTo !== undefined) { plan.runTo(body, ex); return }
      plan.run(body, () => ex.abortSignal()).then((r) => { ex.reply(r) }, (err) => { ex.fail(err) })
    } catch (err) { // a plan whose run is not async throws here, not in its promise
      fail(ex, err)
    }
  }

  let nextRequestId = 1
  app.any('/*', (res, req) => {
    const ex = new Exchange(res, core.counters, nextRequestId++, io)
    core.counters.started()
    res.onAborted(() => { if (!ex.done) core.counters.aborted(); ex.done = true; ex.aborted = true; ex.controller?.abort() })
    const head: RequestHead = ex
    inUwsCallback++
    try {
      snapshot(ex, req)
      // CORS (gateway/auth): preflights are answered here, before routing, so they never touch the ledger.
      const guard = core.deps.guard
      if (guard !== undefined) {
        const cors = guard.responseHeaders(head)
        if (cors.length > 0) ex.replyHeaders = [...cors]
        const pre = guard.preflight(head)
        if (pre !== undefined) { ex.replyHeaders = [...pre.headers]; write(ex, { status: pre.status, body: null }, false); return }
      }
      const declared = declaredBodyBytes(head)
      let plan: RequestPlan
      try {
        plan = core.plan(head)
      } catch (err) {
        // Answer after the body (if any) is drained, so the connection stays usable.
        if (declared === undefined || declared === 0) fail(ex, err)
        else if (!(declared <= core.limits.maxBodyBytes)) fail(ex, err, true)
        else readBody(ex, core.limits.maxBodyBytes, () => err, () => { fail(ex, err) })
        return
      }
      if (Number.isNaN(declared)) { fail(ex, new FerryError(CommonCode.BAD_REQUEST, 'malformed content-length'), true); return }
      if (declared === undefined || declared === 0) { run(ex, plan, Buffer.alloc(0)); return }
      if (declared > plan.bodyBytesMax && declared !== Number.POSITIVE_INFINITY) { fail(ex, plan.tooLarge(), true); return }
      readBody(ex, plan.bodyBytesMax, plan.tooLarge, (body) => { run(ex, plan, body) })
    } catch (err) {
      logger.error({ err, method: head.method, path: head.path }, 'http handler threw')
      fail(ex, err, true)
    } finally {
      inUwsCallback--
    }
  })
}
