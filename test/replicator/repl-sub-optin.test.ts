/**
 * How a user opts a subscription into replication, on one real gateway:
 * HTTP pull `replicated=true`, the MQTT 5 SUBSCRIBE user property
 * `ferry-replicated: 1`; bad input gets a clear error.
 */
import t from 'tap'
import { MetaSpace } from '../../store/index.js'
import { connectMqtt, startTestGateway } from '../helpers/gateway.js'
import { httpRequest, topicPath } from '../helpers/http.js'

t.test('replicated subscription opt-in - HTTP replicated=true, persisted; a bad value is 400', async (t) => {
  const gw = await startTestGateway(t)
  const base = `${topicPath('public/default/jobs')}/subscriptions/w/messages?waitMs=0`
  const bad = await httpRequest(gw.urls.http, 'GET', `${base}&replicated=yes`)
  t.equal(bad.status, 400)
  t.equal(bad.json?.error?.code, 'E_BAD_REQUEST')
  t.match(bad.json?.error?.message, /replicated/)
  const ok = await httpRequest(gw.urls.http, 'GET', `${base}&replicated=true`)
  t.equal(ok.status, 200, ok.text)
  const sub = gw.gateway.dispatcher.stats().subscriptions.find((s) => s.subscription === 'w')
  t.equal(sub?.replicated, true, 'the subscription is replicated')
  const stored = [...gw.gateway.ledger.metaEntries(MetaSpace.subscription)].map(([, v]) => v as { name?: string, replicated?: boolean }).find((v) => v.name === 'w')
  t.equal(stored?.replicated, true, 'and stays so after a restart (persisted with its definition)')
  t.same(gw.gateway.replicatedSubscriptions.list().map((s) => s.name), ['w'], 'the replicator sees it')
  const plain = await httpRequest(gw.urls.http, 'GET', `${topicPath('public/default/jobs')}/subscriptions/p/messages?waitMs=0`)
  t.equal(plain.status, 200)
  t.equal(gw.gateway.dispatcher.stats().subscriptions.find((s) => s.subscription === 'p')?.replicated, undefined, 'without it a subscription is local')
})

t.test('replicated subscription opt-in - MQTT 5 SUBSCRIBE user property ferry-replicated: persistent sessions only', async (t) => {
  const gw = await startTestGateway(t)
  const persistent = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5, clientId: 'keeps', clean: false, properties: { sessionExpiryInterval: 600 } })
  const granted = await persistent.subscribeAsync('orders/#', { qos: 1, properties: { userProperties: { 'ferry-replicated': '1' } } })
  t.equal(granted[0]?.qos, 1, 'granted')
  t.equal(gw.gateway.dispatcher.stats().subscriptions.find((s) => s.subscription === 'mqtt:keeps:orders/#')?.replicated, true, 'replicated')
  const passing = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5, clientId: 'passes', clean: true })
  // The stock client rejects a SUBACK with a failure code; the packet says which.
  const err = await passing.subscribeAsync('orders/#', { qos: 1, properties: { userProperties: { 'ferry-replicated': '1' } } }).then(() => undefined, (e: unknown) => e as { packet?: { granted?: number[] } })
  const code = err?.packet?.granted?.[0] ?? 0
  t.ok(code >= 0x80, `a session that ends with its connection cannot have one (SUBACK reason 0x${code.toString(16)})`)
  t.notOk(gw.gateway.dispatcher.stats().subscriptions.some((s) => s.subscription === 'mqtt:passes:orders/#'), 'and none was created')
})

t.test('replicated subscription opt-in - namespace policy replicatedSubscriptions: every durable subscription, also from MQTT 3.1.1', async (t) => {
  const gw = await startTestGateway(t, { namespaces: { 'public/default': { replicatedSubscriptions: true } } })
  const v311 = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 4, clientId: 'old', clean: false })
  await v311.subscribeAsync('orders', { qos: 1 })
  t.equal(gw.gateway.dispatcher.stats().subscriptions.find((s) => s.subscription === 'mqtt:old:orders')?.replicated, true, 'an MQTT 3.1.1 persistent session\'s subscription is replicated')
  const passing = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 4, clientId: 'gone', clean: true })
  await passing.subscribeAsync('orders', { qos: 1 })
  t.equal(gw.gateway.dispatcher.stats().subscriptions.find((s) => s.subscription === 'mqtt:gone:orders')?.replicated, undefined, 'a non-durable one is not (it ends with its connection)')
  await t.rejects(gw.gateway.policies.put('public/default', { replicatedSubscriptions: 'yes' }), { code: 'E_BAD_REQUEST' }, 'the policy field is a boolean')
})
