/**
 * The OpenAPI 3.1 document of the whole HTTP surface (GET /v1/openapi.json):
 * the HTTP API's routes (publish, pull, ack, ...; gateway/http), the ops
 * routes (from the route table, so every one is here) and the two WebSocket
 * endpoints. test/ops/openapi.test.ts checks it against the routes that
 * exist, both ways.
 */
import type { Method, OpsRoute } from './route-table.js'

interface Op {
  method: Method
  path: string
  operationId: string
  summary: string
  admin: boolean
  body?: 'json' | 'message'
  query?: Array<[name: string, description: string]>
  status?: number
}

const ERROR = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string', examples: ['E_NOT_FOUND'] }, message: { type: 'string' } } } }
}

const TOPIC_PATH = '/v1/topics/{tenant}/{namespace}/{topic}'

/** The HTTP API's own routes (gateway/http/router.ts). `{topic}` may hold `/` here: the router matches from the end. */
export const HTTP_API_OPERATIONS: readonly Op[] = [
  { method: 'POST', path: `${TOPIC_PATH}/messages`, operationId: 'publish', summary: 'Publish one message (body = payload; Ferry-* headers) or a batch (application/vnd.ferry.batch+json or +cbor). 201 once durable.', admin: false, body: 'message', status: 201 },
  { method: 'DELETE', path: `${TOPIC_PATH}/messages/{messageId}`, operationId: 'cancelScheduled', summary: 'Cancel a pending scheduled message.', admin: false },
  { method: 'GET', path: `${TOPIC_PATH}/subscriptions/{subscription}/messages`, operationId: 'pull', summary: 'Long-poll pull from a durable subscription.', admin: false, query: [['max', 'most messages'], ['waitMs', 'longest wait'], ['mode', 'exclusive | failover | shared | key_shared'], ['position', 'earliest | latest (new subscription)'], ['consumer', 'consumer name']] },
  { method: 'POST', path: `${TOPIC_PATH}/subscriptions/{subscription}/ack`, operationId: 'ack', summary: 'Acknowledge messages: {"messageIds": [...]}', admin: false, body: 'json' },
  { method: 'POST', path: `${TOPIC_PATH}/subscriptions/{subscription}/nack`, operationId: 'nack', summary: 'Negative-acknowledge messages (redelivered after backoff): {"messageIds": [...], "reason"?}', admin: false, body: 'json' },
  { method: 'DELETE', path: `${TOPIC_PATH}/subscriptions/{subscription}`, operationId: 'deleteSubscription', summary: 'Delete a subscription and its cursors.', admin: false },
  { method: 'GET', path: '/v1/admin/stats', operationId: 'stats', summary: 'Raw counters of the ledger, dispatcher, HTTP front end and process faults.', admin: true },
  // Failover steering (gateway/http/topology-route.ts, docs/REPLICATION.md): public site part; a namespace needs a credential on it.
  { method: 'GET', path: '/v1/topology', operationId: 'topology', summary: 'Sites (endpoints, alive, preference, region), this site and its state, and for ?ns= (default: the caller\'s namespace) the sites serving it in the order to try them, healthy first, with its primary if active-passive.', admin: false, query: [['ns', 'tenant/namespace to describe']] }
]

/** WebSocket endpoints (upgrade requests). */
export const WEBSOCKET_OPERATIONS: readonly Op[] = [
  { method: 'GET', path: '/mqtt', operationId: 'mqttWebSocket', summary: 'MQTT over WebSocket (subprotocol "mqtt").', admin: false, status: 101 },
  { method: 'GET', path: '/v1/admin/live', operationId: 'liveFeed', summary: 'Live feed for the console: one overview JSON message per second (WebSocket; ?token= carries the admin credential).', admin: true, status: 101 }
]

const SUMMARIES: Readonly<Record<string, string>> = {
  healthz: 'Alive (503 E_FENCED when the store refuses appends).',
  readyz: 'Ready: ledger open and accepting appends, listeners up, not draining (503 E_NOT_READY with the checks otherwise); etcd and NATS reachability reported (degraded), not gating.',
  metrics: 'Prometheus metrics (text exposition format).',
  openapi: 'This document.',
  console: 'The web console.',
  consoleFile: 'A file of the web console.',
  overview: 'Site overview: counts, totals, rates, latency, probe, network (sites and links; null outside a network).',
  listSites: 'Sites of the network (endpoints, alive, preference) with etcd and NATS reachability; networked false on a gateway outside a network.',
  listLinks: 'Outbound replication links of this site: state, lag in entries, bytes and seconds.',
  listTenants: 'Tenants with their namespaces, topics and stored bytes.',
  listNamespaces: 'Namespace names.',
  getNamespace: 'A namespace and its policy.',
  putNamespace: 'Create (201) or change (200) a namespace; the body holds the policy fields to change.',
  deleteNamespace: 'Delete an empty namespace (409 E_NAMESPACE_NOT_EMPTY unless ?force=true).',
  listTopics: 'Topics of a namespace with stats (stored, backlog, subscriptions, producers, rates in and out); paged with ?after=&max=.',
  listSubscriptions: 'Subscriptions of a namespace with their counters.',
  getTopic: 'One topic with stats, its subscriptions and the producers currently publishing to it (MQTT client id, HTTP producer id or address; messages, rate; at most 32, producersDropped counts the rest).',
  peekTopicMessages: 'Stored messages of a topic from ?from= (id), at most ?max=.',
  getSubscription: 'One subscription on a topic (?filter= for a wildcard subscription).',
  createSubscription: 'Create a durable subscription: {"mode"?, "position"?: "latest" | "earliest"}.',
  adminDeleteSubscription: 'Delete a subscription (?filter= for a wildcard one).',
  peekSubscription: 'The next unacknowledged messages of a subscription (not delivered, not acknowledged).',
  skipMessages: 'Skip (acknowledge) the next {"count"} unacknowledged messages.',
  clearBacklog: 'Acknowledge every message of the subscription on this topic.',
  resetCursor: 'Move the cursor to {"messageId"} (next to deliver) or {"time"}, forward or backward: backward, everything from there on is delivered again, acknowledged messages too.',
  listDeadLetterTopics: 'Dead-letter topics of a namespace with original topic, subscription, total and pending.',
  peekDeadLetters: 'Dead letters not yet replayed, with their reasons.',
  replayDeadLetters: 'Republish up to {"max"} pending dead letters to the original topic (or {"topic"}); returns what remains.',
  listMqttClients: 'Connected MQTT clients.',
  listMqttSessions: 'MQTT sessions, connected or kept.',
  kickMqttClient: 'Disconnect an MQTT client (v5: DISCONNECT 0x98).',
  listTokens: 'Access tokens issued from the gateway\'s PKI dir: id, tenant, namespaces, actions, topics, issuedAt, expiresAt, revoked, expired (never the token itself). 409 E_TOKENS_UNAVAILABLE without a PKI dir.',
  issueToken: 'Issue a token: {"tenant", "namespaces": [...], "actions": ["produce" | "consume" | "admin"], "ttl": "30d" | "ttlMs": n, "topics"?: [...]}. 201 {"id", "token", "tenant", "namespaces", "actions", "expiresAt"}: the only time the token is shown.',
  revokeToken: 'Revoke a token: written to the PKI dir\'s revoked.json and applied in this gateway at once (open connections using it are closed). 200 {"revoked", "id", "already"}; 404 for an unknown id.'
}

function paramsOf (path: string): string[] {
  return [...path.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => m[1] as string)
}

function operation (op: Op): Record<string, unknown> {
  const ok = String(op.status ?? 200)
  const responses: Record<string, unknown> = {
    [ok]: { description: 'OK', content: op.operationId === 'metrics' ? { 'text/plain': { schema: { type: 'string' } } } : op.operationId.startsWith('console') ? { 'text/html': { schema: { type: 'string' } } } : { 'application/json': { schema: { type: 'object' } } } },
    default: { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }
  }
  const out: Record<string, unknown> = {
    operationId: op.operationId,
    summary: op.summary,
    tags: [op.path.startsWith('/v1/topics') || op.path === '/mqtt' ? 'messaging' : op.path.startsWith('/v1/admin') ? 'admin' : 'site'],
    parameters: [
      ...paramsOf(op.path).map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' }, ...(name === 'topic' ? { description: op.path.startsWith('/v1/topics') ? 'local topic name; may contain /' : 'local topic name as one percent-encoded segment (a/b is a%2Fb)' } : {}) })),
      ...(op.query ?? []).map(([name, description]) => ({ name, in: 'query', required: false, schema: { type: 'string' }, description }))
    ],
    responses
  }
  if (op.admin) out.security = [{ bearer: [] }]
  if (op.body === 'json') out.requestBody = { required: false, content: { 'application/json': { schema: { type: 'object' } } } }
  if (op.body === 'message') out.requestBody = { required: false, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }
  return out
}

const QUERIES: Readonly<Record<string, Array<[string, string]>>> = {
  listTopics: [['max', 'most topics'], ['after', 'page after this local topic name']],
  peekTopicMessages: [['from', 'first message id'], ['max', 'most messages']],
  peekSubscription: [['max', 'most messages'], ['filter', 'wildcard subscription filter']],
  peekDeadLetters: [['max', 'most messages']],
  deleteNamespace: [['force', 'true: delete even with data or subscriptions']]
}

export function openApiDocument (routes: readonly OpsRoute[], version: string): Record<string, unknown> {
  const ops: Op[] = [
    ...HTTP_API_OPERATIONS,
    ...WEBSOCKET_OPERATIONS,
    ...routes.map((r) => ({
      method: r.method,
      path: r.path,
      operationId: r.operationId,
      summary: SUMMARIES[r.operationId] ?? r.operationId,
      admin: r.admin,
      ...(r.jsonBody === true ? { body: 'json' as const } : {}),
      ...(QUERIES[r.operationId] !== undefined ? { query: QUERIES[r.operationId] } : {}),
      ...(r.operationId === 'putNamespace' || r.operationId === 'createSubscription' || r.operationId === 'issueToken' ? { status: 201 } : {})
    }))
  ]
  const paths: Record<string, Record<string, unknown>> = {}
  for (const op of ops) {
    paths[op.path] ??= {}
    ;(paths[op.path] as Record<string, unknown>)[op.method.toLowerCase()] = operation(op)
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Ferry gateway HTTP API', version, description: 'Publish, pull, ack and the admin API of one Ferry site. Errors are {"error": {"code", "message"}}.' },
    servers: [{ url: '/' }],
    components: {
      schemas: { Error: ERROR },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token with the admin action (outside dev mode).' } }
    },
    paths
  }
}
