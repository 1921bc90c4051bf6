/**
 * A small HTTP(S) client for tests of the HTTP API: node:http / node:https,
 * one connection per request (nothing pooled survives a test), repeated
 * headers sent as separate header lines, the dev CA for https.
 *
 *   const r = await httpRequest(gw.urls.http, 'POST', '/v1/topics/public/default/a/messages', { body: 'hi' })
 *   t.equal(r.status, 201); t.equal(r.json.messageId, '0')
 */
import { request as httpReq, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http'
import { request as httpsReq } from 'node:https'

export interface HttpReply {
  status: number
  headers: IncomingHttpHeaders
  text: string
  /** Parsed JSON body (undefined when the body is not JSON). */
  json: any // eslint-disable-line @typescript-eslint/no-explicit-any -- test convenience
}

export interface HttpRequestOptions {
  /** A value list sends the header once per value, in order. */
  headers?: Record<string, string | string[]>
  body?: string | Buffer
  /** PEM of the CA to trust for https. */
  ca?: string
  /** Abort the request when this signal fires. */
  signal?: AbortSignal
}

export async function httpRequest (base: string, method: string, path: string, opts: HttpRequestOptions = {}): Promise<HttpReply> {
  const url = new URL(path, base)
  const headers: OutgoingHttpHeaders = { ...(opts.headers ?? {}) }
  if (opts.body !== undefined && headers['content-length'] === undefined) headers['content-length'] = Buffer.byteLength(opts.body)
  const make = url.protocol === 'https:' ? httpsReq : httpReq
  return await new Promise<HttpReply>((resolve, reject) => {
    let status = 0
    let resHeaders: IncomingHttpHeaders = {}
    const chunks: Buffer[] = []
    const finish = (): void => {
      const text = Buffer.concat(chunks).toString('utf8')
      let json: unknown
      try { json = JSON.parse(text) } catch { json = undefined }
      resolve({ status, headers: resHeaders, text, json })
    }
    const req = make(url, { method, headers, agent: false, ca: opts.ca, signal: opts.signal }, (res) => {
      status = res.statusCode ?? 0
      resHeaders = res.headers
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', () => { finish() })
      res.on('end', finish)
    })
    // The server may answer (413) and close before the whole body is written:
    // a reply that arrived still counts.
    req.on('error', (err) => { if (status !== 0) finish(); else reject(err) })
    if (opts.body !== undefined) req.end(opts.body)
    else req.end()
  })
}

/** Path of a topic's routes: `/v1/topics/public/default/a/b`. */
export function topicPath (topic: string): string {
  return `/v1/topics/${topic.split('/').map(encodeURIComponent).join('/')}`
}
