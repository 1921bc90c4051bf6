import t from 'tap'
import { connectMqtt, startTestGateway } from '../helpers/gateway.js'
import { httpRequest, topicPath } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

/** Parse the exposition text into name{labels} -> value. */
function parse (text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const i = line.lastIndexOf(' ')
    out.set(line.slice(0, i), Number(line.slice(i + 1)))
  }
  return out
}

async function scrape (url: string): Promise<Map<string, number>> {
  const r = await httpRequest(url, 'GET', '/metrics')
  if (r.status !== 200) throw new Error(`metrics ${r.status}`)
  return parse(r.text)
}

function sumOf (m: Map<string, number>, prefix: string): number {
  let s = 0
  for (const [k, v] of m) if (k.startsWith(prefix)) s += v
  return s
}

export const REQUIRED_SERIES = [
  'ferry_messages_published_total', 'ferry_messages_delivered_total', 'ferry_messages_acked_total', 'ferry_messages_expired_total',
  'ferry_messages_dead_lettered_total', 'ferry_publish_duration_seconds_bucket', 'ferry_fsync_duration_seconds_bucket',
  'ferry_dispatch_lateness_seconds_bucket', 'ferry_connections', 'ferry_sessions', 'ferry_subscriptions', 'ferry_backlog_messages',
  'ferry_storage_bytes', 'ferry_delayed_pending', 'ferry_http_responses_total', 'ferry_auth_failures_total'
]

t.test('ops metrics - every series exists and moves with real MQTT and HTTP traffic', async (t) => {
  const gw = await startTestGateway(t)
  const m0 = await scrape(gw.urls.http)
  t.match((await httpRequest(gw.urls.http, 'GET', '/metrics')).headers['content-type'], /text\/plain/)
  for (const name of REQUIRED_SERIES) t.ok([...m0.keys()].some((k) => k.startsWith(name)), `${name} exported`)
  t.equal(m0.get('ferry_connections{protocol="mqtt"}'), 0)
  t.equal(m0.get('ferry_ready'), 1)

  // Traffic: an MQTT subscriber, MQTT and HTTP publishes, a delayed message.
  const sub = await connectMqtt(t, gw, gw.urls.mqtt, { clientId: 'metrics-sub', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 60 } })
  await sub.subscribeAsync('m/#', { qos: 1 })
  const pub = await connectMqtt(t, gw, gw.urls.ws)
  for (let i = 0; i < 5; i++) await pub.publishAsync('m/a', `mqtt ${i}`, { qos: 1 })
  for (let i = 0; i < 3; i++) {
    const r = await httpRequest(gw.urls.http, 'POST', `${topicPath('public/default/m/b')}/messages`, { body: `http ${i}` })
    t.equal(r.status, 201)
  }
  const delayed = await httpRequest(gw.urls.http, 'POST', `${topicPath('public/default/m/c')}/messages`, { body: 'later', headers: { 'ferry-delay-ms': '200' } })
  t.equal(delayed.status, 201)
  await httpRequest(gw.urls.http, 'GET', '/v1/nothing')

  const m1 = await waitFor(async () => {
    const m = await scrape(gw.urls.http)
    return (m.get('ferry_messages_acked_total{tenant="public",namespace="default"}') ?? 0) >= 9 &&
      (m.get('ferry_dispatch_lateness_seconds_count') ?? 0) >= 1 ? m : undefined
  }, { timeoutMs: 30_000, what: 'acks and the delayed delivery show in metrics' })
  t.equal(m1.get('ferry_messages_published_total{tenant="public",namespace="default"}'), 9, 'every publish counted once')
  t.ok((m1.get('ferry_messages_delivered_total{tenant="public",namespace="default"}') ?? 0) >= 9, 'deliveries counted')
  t.equal(m1.get('ferry_publish_duration_seconds_count'), 9, 'each publish timed')
  t.ok((m1.get('ferry_fsync_duration_seconds_count') ?? 0) > 0, 'fsyncs timed')
  t.equal(m1.get('ferry_connections{protocol="mqtt"}'), 1, 'the TCP subscriber')
  t.equal(m1.get('ferry_connections{protocol="ws"}'), 1, 'the WebSocket publisher')
  t.ok((m1.get('ferry_sessions') ?? 0) >= 1)
  t.ok((m1.get('ferry_subscriptions') ?? 0) >= 1)
  t.ok(m1.has('ferry_storage_bytes{tenant="public",namespace="default"}'), 'storage per namespace')
  t.equal(m1.get('ferry_http_responses_total{status="201",code=""}'), 4)
  t.equal(m1.get('ferry_http_responses_total{status="404",code="E_ROUTE_NOT_FOUND"}'), 1, 'errors by status and code')

  // Closing connections moves the gauge and the close reasons.
  await pub.endAsync()
  const m2 = await waitFor(async () => { const m = await scrape(gw.urls.http); return m.get('ferry_connections{protocol="ws"}') === 0 ? m : undefined }, { what: 'ws gauge back to 0' })
  t.ok(sumOf(m2, 'ferry_mqtt_closes_total') >= 1, 'closes counted by reason')
})

t.test('ops metrics - backlog and refused credentials; per-topic series only when the namespace opts in', async (t) => {
  const gw = await startTestGateway(t, { dev: false, namespaces: { 'acme/plain': {}, 'acme/detail': { topicMetricsEnabled: true } } })
  const mqtt = (await import('mqtt')).default
  const refused = await mqtt.connectAsync(gw.urls.mqtts, { ca: gw.caPem, reconnectPeriod: 0, connectTimeout: 5000 }).then(() => false, () => true)
  t.ok(refused, 'anonymous MQTT refused outside dev mode')
  const anon = await httpRequest(gw.urls.https, 'GET', '/v1/admin/namespaces', { ca: gw.caPem })
  t.equal(anon.status, 401)
  const m = await waitFor(async () => {
    const r = await httpRequest(gw.urls.https, 'GET', '/metrics', { ca: gw.caPem })
    const p = parse(r.text)
    return (p.get('ferry_auth_failures_total{protocol="mqtt"}') ?? 0) >= 1 ? p : undefined
  }, { what: 'mqtt auth failure counted' })
  t.equal(m.get('ferry_auth_failures_total{protocol="http"}'), 1)
  t.equal(m.get('ferry_backlog_messages{tenant="acme",namespace="plain"}'), 0, 'gauges exist for every namespace')

  // Per-topic: write directly through the gateway's dispatcher (HTTP publish needs credentials here).
  const d = gw.gateway.dispatcher
  const c = await d.subscribe({ namespace: 'acme/detail', filter: 't1', subscription: 's', mode: 'shared', durable: true, initialPosition: 'earliest', consumerName: 'c', permits: 0, sink: { deliver: () => undefined } })
  await c.close()
  await d.publish({ topic: 'acme/detail/t1', payload: Buffer.from('x') })
  await d.publish({ topic: 'acme/detail/t1', payload: Buffer.from('y') })
  await d.publish({ topic: 'acme/plain/t2', payload: Buffer.from('z') })
  const r = await httpRequest(gw.urls.https, 'GET', '/metrics', { ca: gw.caPem })
  const p = parse(r.text)
  t.equal(p.get('ferry_topic_backlog_messages{tenant="acme",namespace="detail",topic="t1"}'), 2, 'per-topic backlog for the opted-in namespace')
  t.notOk([...p.keys()].some((k) => k.includes('topic="t2"')), 'no per-topic series for the other namespace')
  t.equal(p.get('ferry_backlog_messages{tenant="acme",namespace="detail"}'), 2)
  // Storage is scanned at most once a second: poll until the scan has seen the unacknowledged messages.
  await waitFor(async () => {
    const q = parse((await httpRequest(gw.urls.https, 'GET', '/metrics', { ca: gw.caPem })).text)
    return (q.get('ferry_storage_bytes{tenant="acme",namespace="detail"}') ?? 0) > 0
  }, { what: 'storage bytes of the unacknowledged messages' })
})
