/**
 * The ops routes as data: method, path template, operation id, whether the
 * admin action is needed. The router (router.ts) matches them and the
 * OpenAPI document (openapi.ts) is checked against them by a test, so the
 * two cannot drift. `{name}` is one path segment, percent-decoded: a topic's
 * local name is one segment too (`a/b` is sent as `a%2Fb`).
 */
import type { ApiReply, RequestHead } from '../http/index.js'
import type { OpsContext } from './context.js'

export type Method = 'GET' | 'PUT' | 'POST' | 'DELETE'

export interface OpsRequest {
  params: Readonly<Record<string, string>>
  query: URLSearchParams
  /** Parsed JSON body (undefined when there was none). */
  body: unknown
  head: RequestHead
}

export interface OpsRoute {
  method: Method
  path: string
  operationId: string
  /** Needs the admin action (outside dev mode). */
  admin: boolean
  /** Reads a JSON body. */
  jsonBody?: boolean
  handle: (ctx: OpsContext, req: OpsRequest) => ApiReply | Promise<ApiReply>
}

export function ok (body: unknown, status = 200): ApiReply { return { status, body } }
