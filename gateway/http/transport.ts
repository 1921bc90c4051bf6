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
import type { ApiReply, RequestHead, RequestPlan } from './request.js'

const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  201: 'Created',
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

interface Exchange {
  res: HttpResponse
  /** Set once the reply is written or the client went away; the response is not touched after. */
  done: boolean
  /** Set when the client went away. */
  aborted: boolean
  /** Made only when a route asks for an abort signal. */
  controller: AbortController | undefined
  readonly counters: HttpCounters
}

function abortSignalOf (ex: Exchange): AbortSignal {
  if (ex.controller === undefined) {
    ex.controller = new AbortController()
    if (ex.aborted) ex.controller.abort()
  }
  return ex.controller.signal
}

function snapshot (res: HttpResponse, req: HttpRequest): RequestHead {
  const headers: Array<readonly [string, string]> = []
  // uWS yields every header line, repeats included, in arrival order.
  req.forEach((name, value) => { headers.push([name, value]) })
  let remoteAddress: string | undefined
  return {
    method: req.getMethod().toUpperCase(),
    path: req.getUrl(),
    query: req.getQuery() ?? '',
    headers,
    get remoteAddress () {
      remoteAddress ??= Buffer.from(res.getRemoteAddressAsText()).toString('utf8')
      return remoteAddress
    }
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

function write (ex: Exchange, reply: ApiReply, closeConnection: boolean): void {
  if (ex.done) return
  ex.done = true
  ex.counters.responded(reply.status)
  const status = `${reply.status} ${STATUS_TEXT[reply.status] ?? 'Status'}`
  ex.res.cork(() => {
    ex.res.writeStatus(status).writeHeader('content-type', 'application/json')
    for (const [name, value] of reply.headers ?? []) ex.res.writeHeader(name, value)
    ex.res.end(JSON.stringify(reply.body), closeConnection)
  })
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
    if (!ex.done) core.counters.rejected(isFerryError(err) ? err.code : CommonCode.INTERNAL)
    write(ex, { status: httpStatusOf(err), body: httpErrorBody(err), headers: errorHeaders(err) }, closeConnection)
  }

  /** Read the whole body, at most `max` bytes; past that, answer with `tooLarge` and close. */
  function readBody (ex: Exchange, max: number, tooLarge: () => unknown, then: (body: Buffer) => void): void {
    const chunks: Buffer[] = []
    let size = 0
    ex.res.onData((chunk, isLast) => {
      if (ex.done) return
      size += chunk.byteLength
      if (size > max) {
        // Stop at once; closing the connection is the only way to stop an upload in HTTP/1.1.
        fail(ex, tooLarge(), true)
        return
      }
      // uWS reuses the chunk's memory after this callback: copy it.
      chunks.push(Buffer.from(chunk.slice(0)))
      if (isLast) then(chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks, size))
    })
  }

  function run (ex: Exchange, plan: RequestPlan, body: Buffer): void {
    plan.run(body, () => abortSignalOf(ex)).then(
      (reply) => { write(ex, reply, false) },
      (err) => { fail(ex, err) }
    )
  }

  app.any('/*', (res, req) => {
    const ex: Exchange = { res, done: false, aborted: false, controller: undefined, counters: core.counters }
    res.onAborted(() => { ex.done = true; ex.aborted = true; ex.controller?.abort() })
    let head: RequestHead | undefined
    try {
      head = snapshot(res, req)
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
      logger.error({ err, method: head?.method, path: head?.path }, 'http handler threw')
      fail(ex, err, true)
    }
  })
}
