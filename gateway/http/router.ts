/**
 * Maps a method and a raw URL path to a route. Pure: no sockets, no state.
 *
 * Topic names may contain `/`, so topic routes are matched from the end of
 * the path: `/v1/topics/{tenant}/{namespace}/{topic...}/messages`. Each path
 * segment is percent-decoded on its own, so `%2F` inside a segment is a `/`
 * of the topic name too; encode the last topic level that way to publish to a
 * topic whose name ends in `/subscriptions/x` and the like.
 */
import { FerryError, CommonCode } from '../../common/errors.js'
import { HttpCode } from './errors.js'

export type Route =
  | { kind: 'healthz' }
  | { kind: 'listNamespaces' }
  | { kind: 'getNamespace', tenant: string, namespace: string }
  | { kind: 'putNamespace', tenant: string, namespace: string }
  | { kind: 'stats' }
  | { kind: 'topology' }
  | { kind: 'publish', tenant: string, namespace: string, local: string }
  | { kind: 'cancelScheduled', tenant: string, namespace: string, local: string, messageId: string }
  | { kind: 'pull', tenant: string, namespace: string, local: string, subscription: string }
  | { kind: 'ack' | 'nack', tenant: string, namespace: string, local: string, subscription: string }
  | { kind: 'deleteSubscription', tenant: string, namespace: string, local: string, subscription: string }

const TOPICS_PREFIX = '/v1/topics/'
const NAMESPACES_PREFIX = '/v1/admin/namespaces/'
const METHODS = ['GET', 'POST', 'PUT', 'DELETE'] as const

function decodeSegment (s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    throw new FerryError(CommonCode.BAD_REQUEST, 'malformed percent-encoding in the URL path')
  }
}

function matchTopicRoute (method: string, segs: string[]): Route | undefined {
  if (segs.length < 3) return undefined
  const tenant = segs[0] as string
  const namespace = segs[1] as string
  const rest = segs.slice(2)
  const n = rest.length
  const at = (i: number): string => rest[n + i] as string
  const local = (drop: number): string => rest.slice(0, n - drop).join('/')
  switch (method) {
    case 'POST':
      if (n >= 4 && at(-3) === 'subscriptions' && (at(-1) === 'ack' || at(-1) === 'nack')) {
        return { kind: at(-1) as 'ack' | 'nack', tenant, namespace, local: local(3), subscription: at(-2) }
      }
      if (n >= 2 && at(-1) === 'messages') return { kind: 'publish', tenant, namespace, local: local(1) }
      return undefined
    case 'GET':
      if (n >= 4 && at(-3) === 'subscriptions' && at(-1) === 'messages') {
        return { kind: 'pull', tenant, namespace, local: local(3), subscription: at(-2) }
      }
      return undefined
    case 'DELETE':
      if (n >= 3 && at(-2) === 'messages') {
        return { kind: 'cancelScheduled', tenant, namespace, local: local(2), messageId: at(-1) }
      }
      if (n >= 3 && at(-2) === 'subscriptions') {
        return { kind: 'deleteSubscription', tenant, namespace, local: local(2), subscription: at(-1) }
      }
      return undefined
    default:
      return undefined
  }
}

function matchFixed (method: string, path: string): Route | undefined {
  if (path === '/healthz') return method === 'GET' ? { kind: 'healthz' } : undefined
  if (path === '/v1/admin/namespaces') return method === 'GET' ? { kind: 'listNamespaces' } : undefined
  if (path === '/v1/admin/stats') return method === 'GET' ? { kind: 'stats' } : undefined
  if (path === '/v1/topology') return method === 'GET' ? { kind: 'topology' } : undefined
  if (path.startsWith(NAMESPACES_PREFIX)) {
    const segs = path.slice(NAMESPACES_PREFIX.length).split('/').map(decodeSegment)
    if (segs.length !== 2) return undefined
    const [tenant, namespace] = segs as [string, string]
    if (method === 'GET') return { kind: 'getNamespace', tenant, namespace }
    if (method === 'PUT') return { kind: 'putNamespace', tenant, namespace }
  }
  return undefined
}

function matchAny (method: string, path: string): Route | undefined {
  if (path.startsWith(TOPICS_PREFIX)) {
    return matchTopicRoute(method, path.slice(TOPICS_PREFIX.length).split('/').map(decodeSegment))
  }
  return matchFixed(method, path)
}

/**
 * The route for a request; E_METHOD_NOT_ALLOWED (details.allow: the
 * methods it has) when the path exists for another method, E_ROUTE_NOT_FOUND otherwise, E_BAD_REQUEST for bad encoding.
 */
export function matchRoute (method: string, path: string): Route {
  const route = matchAny(method, path)
  if (route !== undefined) return route
  const allow = METHODS.filter((other) => other !== method && matchAny(other, path) !== undefined)
  if (allow.length > 0) {
    // RFC 9110 15.5.6: a 405 carries `Allow` with the methods the path has; the transport writes it from details.allow.
    throw new FerryError(HttpCode.METHOD_NOT_ALLOWED, `${method} is not allowed on ${path} (allowed: ${allow.join(', ')})`, { details: { allow } })
  }
  throw new FerryError(HttpCode.ROUTE_NOT_FOUND, `no route for ${method} ${path}`)
}
