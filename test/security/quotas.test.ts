import t from 'tap'
import { httpRequest, topicPath } from '../helpers/http.js'
import { startSecureGateway, storedTopics, subackCodes, token, tryMqtt } from './helpers.js'

t.test('security quotas - connections, publish rate and bytes, storage, subscriptions: MQTT 0x97 / CONNACK refusal, HTTP 429 / 507 naming the quota', async (t) => {
  const gw = await startSecureGateway(t, {
    security: {
      quotas: {
        tenants: { acme: { maxConnections: 2 } },
        namespaces: {
          'acme/billing': { publishMsgsPerSec: 2 },
          'globex/orders': { publishBytesPerSec: 1000, maxSubscriptions: 1 },
          'acme/orders': { maxStorageBytes: 4000 }
        }
      }
    }
  })
  const acme = await token(gw, { namespaces: ['orders', 'billing'] })
  const globex = await token(gw, { tenant: 'globex' })

  // Connections per tenant: the third is refused in CONNACK (v5 0x97, 3.1.1 rc 3); a closed one frees its slot.
  const c1 = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 5, clientId: 'q1', password: acme.token })
  const c2 = await tryMqtt(t, gw, gw.urls.wss, { protocolVersion: 5, clientId: 'q2', password: acme.token, username: 'acme/billing' })
  if (!c1.ok || !c2.ok) throw new Error('two connections fit')
  const c3 = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 5, clientId: 'q3', password: acme.token })
  t.same(c3.ok ? 'connected' : c3.code, 0x97, 'v5 CONNACK 0x97 Quota exceeded')
  const c3v4 = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 4, clientId: 'q3v4', password: acme.token })
  t.same(c3v4.ok ? 'connected' : c3v4.code, 3, '3.1.1 CONNACK rc 3')

  // Publish rate on acme/billing: 2 msgs/s bucket.
  // Sent together, so a slow machine cannot refill the bucket in between.
  const results = await Promise.all([0, 1, 2, 3, 4, 5].map(async (i) => await c2.client.publishAsync(`r${i}`, 'x', { qos: 1 }).then(() => 0, (e: { code?: number }) => e.code)))
  t.ok(results.includes(0x97), `v5 PUBACK 0x97 once over the rate (${results.join(',')})`)
  const overRate = await httpRequest(gw.urls.https, 'POST', `${topicPath('acme/billing/h')}/messages`, { headers: { authorization: `Bearer ${acme.token}` }, body: 'x', ca: gw.caPem })
  t.equal(overRate.status, 429)
  t.match(overRate.json.error.message, /publishMsgsPerSec of namespace acme\/billing/)

  // Storage of acme/orders: 4000 bytes, then 507 naming the quota.
  let status = 201
  let last: { json: { error?: { code: string, message: string } } } | undefined
  for (let i = 0; i < 20 && status === 201; i++) {
    const r = await httpRequest(gw.urls.https, 'POST', `${topicPath('acme/orders/big')}/messages`, { headers: { authorization: `Bearer ${acme.token}` }, body: 'y'.repeat(900), ca: gw.caPem })
    status = r.status
    last = r
    // Usage is recomputed from the ledger about once a second: give it the chance.
    if (status === 201) await new Promise((resolve) => setTimeout(resolve, 250))
  }
  t.equal(status, 507, 'storage quota: 507')
  t.equal(last?.json.error?.code, 'E_QUOTA_STORAGE')
  t.match(last?.json.error?.message, /maxStorageBytes of namespace acme\/orders/)

  // Bytes per second on globex/orders, and one subscription at most.
  const g = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 5, clientId: 'g1', password: globex.token })
  if (!g.ok) throw new Error('globex connects')
  const big = await g.client.publishAsync('b', Buffer.alloc(1500), { qos: 1 }).then(() => 0, (e: { code?: number }) => e.code)
  t.equal(big, 0x97, 'more bytes than a second allows: 0x97')
  t.same(await subackCodes(g.client, { first: { qos: 1 } }), [1])
  t.same(await subackCodes(g.client, { second: { qos: 1 } }), [0x97], 'second subscription: SUBACK 0x97')
  t.same(await subackCodes(g.client, { first: { qos: 0 } }), [0], 'the existing subscription can be renewed')
  const pull = await httpRequest(gw.urls.https, 'GET', `${topicPath('globex/orders/x')}/subscriptions/other/messages?waitMs=0`, { headers: { authorization: `Bearer ${globex.token}` }, ca: gw.caPem })
  t.equal(pull.status, 429)
  t.match(pull.json.error.message, /maxSubscriptions of namespace globex\/orders/)

  t.notOk(storedTopics(gw).includes('globex/orders/b'), 'refused publish not stored')
  const q = gw.gateway.security.stats().quotas
  t.ok((q?.rejected.maxConnections ?? 0) >= 2 && (q?.rejected.maxStorageBytes ?? 0) >= 1, 'rejections counted per quota')
  await c1.client.endAsync()
  const c4 = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 5, clientId: 'q4', password: acme.token })
  t.ok(c4.ok, 'a closed connection gives its slot back')
})
