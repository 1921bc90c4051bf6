/**
 * The transport-neutral shape of a request and a reply. transport.ts fills
 * these from uWebSockets.js; everything else in gateway/http works on them.
 */
import type { HeaderPairs } from './publish-input.js'

export interface RequestHead {
  /** Uppercase. */
  method: string
  /** Raw path, still percent-encoded, without the query. */
  path: string
  /** Raw query string without `?`. */
  query: string
  /** Lowercase names, in arrival order, repeats kept. */
  headers: HeaderPairs
  /** Client address as text; read on first use, during the synchronous part of the request only. */
  readonly remoteAddress: string
}

export interface ApiReply {
  status: number
  /** JSON-encoded, unless contentType is set and body is a string or Buffer (sent as is). */
  body: unknown
  /** Hook for non-JSON replies (gateway/ops: metrics text, console files). */
  contentType?: string
  /** Extra response headers (lowercase names), e.g. `allow` on a 405. */
  headers?: ReadonlyArray<readonly [string, string]>
}

/** What the transport must do for a matched request: read at most bodyBytesMax, then run. */
export interface RequestPlan {
  bodyBytesMax: number
  /** The error to answer when the body passes bodyBytesMax (413, with the reason that applies). */
  tooLarge: () => Error
  /**
   * `abortSignal()` gives a signal that fires when the client goes away; it is
   * made on first call (most routes never need one, and making one per request costs).
   */
  run: (body: Buffer, abortSignal: () => AbortSignal) => Promise<ApiReply>
  /**
   * Hot path (single publish): does what run does and settles `sink` itself,
   * one promise step per request instead of run's two (its own and the
   * transport's). The transport calls it instead of run when present.
   */
  runTo?: (body: Buffer, sink: ReplySink) => void
}

/** Where runTo sends a plan's outcome (the transport's exchange): a reply, or an error answered as `{error: {code, message}}`. */
export interface ReplySink {
  reply: (r: ApiReply) => void
  fail: (err: unknown) => void
}

export function headerOf (head: RequestHead, name: string): string | undefined {
  for (const [n, v] of head.headers) if (n === name) return v
  return undefined
}
