import { readFile } from 'node:fs/promises'
import t from 'tap'
import { startTestGateway } from '../helpers/gateway.js'
import { httpRequest } from '../helpers/http.js'
import { HTTP_API_OPERATIONS, WEBSOCKET_OPERATIONS, opsRoutes } from '../../gateway/ops/index.js'

type Doc = { openapi: string, paths: Record<string, Record<string, { operationId: string }>> }

function operations (doc: Doc): Array<{ method: string, path: string, operationId: string }> {
  return Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([m, op]) => ({ method: m.toUpperCase(), path, operationId: op.operationId })))
}

t.test('ops openapi - the document covers every route that exists, and every documented route exists', async (t) => {
  const gw = await startTestGateway(t)
  const r = await httpRequest(gw.urls.http, 'GET', '/v1/openapi.json')
  t.equal(r.status, 200)
  const doc = r.json as Doc
  t.equal(doc.openapi, '3.1.0')
  const ops = operations(doc)
  const ids = new Set(ops.map((o) => o.operationId))
  t.equal(ids.size, ops.length, 'operation ids are unique')

  // Every route of the ops table, with its method and path.
  for (const route of opsRoutes()) {
    t.ok(ops.some((o) => o.method === route.method && o.path === route.path && o.operationId === route.operationId), `${route.method} ${route.path} documented`)
  }
  // Every route kind the HTTP API plans (gateway/http/api.ts planRoute) is documented, or served by ops under the same id.
  const api = await readFile(new URL('../../gateway/http/api.ts', import.meta.url), 'utf8')
  const kinds = [...api.slice(api.indexOf('planRoute')).matchAll(/case '([A-Za-z]+)':/g)].map((m) => m[1] as string)
  t.ok(kinds.length >= 6, 'route kinds found in the HTTP API')
  for (const k of kinds) t.ok(ids.has(k) || (k === 'ack' && ids.has('nack')), `HTTP route kind ${k} documented`)

  // Every documented operation answers on the running gateway (not 404 E_ROUTE_NOT_FOUND, not 405).
  const sample: Record<string, string> = { tenant: 'public', namespace: 'default', topic: 'a', subscription: 's', messageId: '0', clientId: 'c', file: 'index.html' }
  for (const o of ops) {
    if (WEBSOCKET_OPERATIONS.some((w) => w.operationId === o.operationId)) continue
    const path = o.path.replace(/\{([A-Za-z]+)\}/g, (_, n: string) => sample[n] ?? 'x')
    const res = await httpRequest(gw.urls.http, o.method, path, o.method === 'GET' || o.method === 'DELETE' ? {} : { body: '{}' })
    t.not(res.json?.error?.code, 'E_ROUTE_NOT_FOUND', `${o.method} ${path} is routed`)
    t.not(res.status, 405, `${o.method} ${path} takes ${o.method}`)
  }
  t.equal(HTTP_API_OPERATIONS.length, 8) // 8th: GET /v1/topology (failover)
})
