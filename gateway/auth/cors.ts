/**
 * CORS for the HTTP API, so a web app on its own origin can publish and
 * consume with fetch. Dev mode allows any origin; production only the
 * configured ones, and a request from any other origin gets no CORS headers
 * at all (the browser then withholds the reply; credentials are never
 * exposed to it). Preflights are answered here, before routing, so they
 * never touch the ledger.
 */
import { FerryProp } from '../message-props.js'
import { CORS_MAX_AGE_SEC } from './constants.js'

export interface CorsConfig {
  /** Allowed origins (`https://app.example.com`), or `*` for any (not with credentials: we echo the origin instead). */
  origins: string[]
  methods?: string[]
  /** Request headers a browser may send; the `Ferry-*` headers and Authorization are always included. */
  headers?: string[]
}

const DEFAULT_METHODS = ['GET', 'POST', 'PUT', 'DELETE']
/** Request headers the HTTP API reads (docs/HTTP.md), lower case: the `Ferry-*` controls, Ferry-Property, Authorization. */
const API_HEADERS = ['authorization', 'content-type', 'ferry-property', ...Object.values(FerryProp)]

export type HeaderList = Array<readonly [string, string]>

export class Cors {
  private readonly origins: ReadonlySet<string>
  private readonly any: boolean
  private readonly allowMethods: string
  private readonly allowHeaders: string

  constructor (config: CorsConfig | undefined, dev: boolean) {
    const origins = config?.origins ?? []
    this.any = dev || origins.includes('*')
    this.origins = new Set(origins.map((o) => o.toLowerCase()))
    this.allowMethods = (config?.methods ?? DEFAULT_METHODS).join(', ')
    this.allowHeaders = [...new Set([...API_HEADERS, ...(config?.headers ?? []).map((h) => h.toLowerCase())])].join(', ')
  }

  allowed (origin: string): boolean {
    return this.any || this.origins.has(origin.toLowerCase())
  }

  /** Headers for an actual request carrying `Origin`; none for an origin that is not allowed. */
  responseHeaders (origin: string | undefined): HeaderList {
    if (origin === undefined || !this.allowed(origin)) return []
    return [
      ['access-control-allow-origin', origin],
      ['access-control-allow-credentials', 'true'],
      ['access-control-expose-headers', 'www-authenticate, retry-after'],
      ['vary', 'Origin']
    ]
  }

  /** A preflight (OPTIONS with Access-Control-Request-Method): 204 with the rules, or 403 for an origin not allowed. */
  preflight (origin: string | undefined): { status: number, headers: HeaderList } {
    if (origin === undefined || !this.allowed(origin)) return { status: 403, headers: [['vary', 'Origin']] }
    return {
      status: 204,
      headers: [
        ...this.responseHeaders(origin),
        ['access-control-allow-methods', this.allowMethods],
        ['access-control-allow-headers', this.allowHeaders],
        ['access-control-max-age', String(CORS_MAX_AGE_SEC)]
      ]
    }
  }
}
