import t from 'tap'
import { revoke, pkiLayout } from '../../pki/index.js'
import { collect } from '../helpers/gateway.js'
import { waitFor } from '../helpers/wait.js'
import { expiredToken, startSecureGateway, storedTopics, subackCodes, token, tryMqtt } from './helpers.js'

const BAD_CREDENTIALS = { 5: 0x86, 4: 4 } as const
const NOT_AUTHORIZED = { 5: 0x87, 4: 5 } as const

t.test('security mqtt - every credential path over MQTT/TLS and secure WebSocket, 3.1.1 and 5.0: refused with the right code, nothing stored', async (t) => {
  const gw = await startSecureGateway(t)
  const good = await token(gw)
  const revoked = await token(gw)
  await revoke(pkiLayout(gw.pkiDir), revoked.id)
  await gw.gateway.security.refresh()
  const expired = await expiredToken(gw)

  const cases: Array<{ name: string, opts: Record<string, unknown>, want: { 5: number, 4: number } }> = [
    { name: 'no credential', opts: {}, want: NOT_AUTHORIZED },
    { name: 'garbage token', opts: { username: 'x', password: 'garbage.not.jwt' }, want: BAD_CREDENTIALS },
    { name: 'token with a broken signature', opts: { password: `${good.token.slice(0, -4)}AAAA` }, want: BAD_CREDENTIALS },
    { name: 'expired token', opts: { password: expired }, want: BAD_CREDENTIALS },
    { name: 'revoked token', opts: { password: revoked.token }, want: BAD_CREDENTIALS },
    { name: 'other tenant picked by username', opts: { username: 'globex/orders', password: good.token }, want: NOT_AUTHORIZED },
    { name: 'namespace outside the token', opts: { username: 'acme/billing', password: good.token }, want: NOT_AUTHORIZED }
  ]
  for (const url of [gw.urls.mqtts, gw.urls.wss]) {
    for (const v of [4, 5] as const) {
      for (const c of cases) {
        // 3.1.1 sends a password only with a user name [MQTT-3.1.2-22]; the name is free.
        const r = await tryMqtt(t, gw, url, { protocolVersion: v, clientId: `c-${v}-${c.name.replace(/\W/g, '')}`, ...(c.opts.password !== undefined ? { username: 'device' } : {}), ...c.opts })
        t.equal(r.ok, false, `${url.split(':')[0]} v${v} ${c.name}: refused`)
        if (!r.ok) t.equal(r.code, c.want[v], `${url.split(':')[0]} v${v} ${c.name}: code ${c.want[v]}`)
      }
      const ok = await tryMqtt(t, gw, url, { protocolVersion: v, clientId: `ok-${v}`, username: 'device', password: good.token })
      t.ok(ok.ok, `${url.split(':')[0]} v${v} valid token connects`)
      if (ok.ok) await ok.client.endAsync()
    }
  }
  t.same(storedTopics(gw), [], 'nothing stored')
  const auth = gw.gateway.security.stats().auth
  t.ok((auth?.refused.token_expired ?? 0) >= 4 && (auth?.refused.revoked ?? 0) >= 4 && (auth?.refused.token_malformed ?? 0) >= 4, 'refusals counted by reason')
})

t.test('security mqtt - WebSocket upgrade with Authorization: Bearer', async (t) => {
  const gw = await startSecureGateway(t)
  const good = await token(gw)
  const r = await tryMqtt(t, gw, gw.urls.wss, { protocolVersion: 5, clientId: 'bearer', wsOptions: { headers: { Authorization: `Bearer ${good.token}` } } })
  t.ok(r.ok, 'connected with the upgrade header only')
  const bad = await tryMqtt(t, gw, gw.urls.wss, { protocolVersion: 5, clientId: 'bearer-bad', wsOptions: { headers: { Authorization: 'Bearer nope' } } })
  t.same(bad.ok ? 'connected' : bad.code, 0x86)
})

t.test('security mqtt - insufficient action: publish needs produce, subscribe needs consume, topic patterns narrow both', async (t) => {
  const gw = await startSecureGateway(t)
  const consumeOnly = await token(gw, { actions: ['consume'] })
  const produceOnly = await token(gw, { actions: ['produce'] })
  const narrow = await token(gw, { topics: ['sensors/+/temp'] })

  const c5 = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 5, clientId: 'c5', password: consumeOnly.token })
  if (!c5.ok) throw new Error(`consume-only token must connect: ${c5.message}`)
  const err = await c5.client.publishAsync('a', 'x', { qos: 1 }).then(() => undefined, (e: { code?: number }) => e)
  t.equal(err?.code, 0x87, 'v5 PUBACK 0x87 Not authorized')

  const c4 = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 4, clientId: 'c4', username: 'u', password: consumeOnly.token })
  if (!c4.ok) throw new Error('consume-only token must connect')
  const closed = new Promise<void>((resolve) => { c4.client.once('close', () => { resolve() }) })
  c4.client.publish('a', 'x', { qos: 1 })
  await closed
  t.pass('3.1.1: the connection closes (no way to refuse a PUBLISH)')

  const p5 = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 5, clientId: 'p5', password: produceOnly.token })
  if (!p5.ok) throw new Error('produce-only token must connect')
  t.same(await subackCodes(p5.client, { 'a/#': { qos: 1 } }), [0x87], 'v5 SUBACK 0x87')
  const p4 = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 4, clientId: 'p4', username: 'u', password: produceOnly.token })
  if (!p4.ok) throw new Error('produce-only token must connect')
  t.same(await subackCodes(p4.client, { 'a/#': { qos: 1 } }), [0x80], '3.1.1 SUBACK 0x80')

  const n = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 5, clientId: 'n5', password: narrow.token })
  if (!n.ok) throw new Error('narrow token must connect')
  const granted = await subackCodes(n.client, { 'sensors/+/temp': { qos: 1 }, 'sensors/#': { qos: 1 }, 'sensors/k1/temp': { qos: 1 }, '$share/g/sensors/+/temp': { qos: 1 } })
  t.same(granted, [1, 0x87, 1, 1], 'only filters within the pattern')
  await n.client.publishAsync('sensors/k1/temp', '21', { qos: 1 })
  const denied = await n.client.publishAsync('sensors/k1/humidity', '50', { qos: 1 }).then(() => undefined, (e: { code?: number }) => e)
  t.equal(denied?.code, 0x87)
  t.same(storedTopics(gw), ['acme/orders/sensors/k1/temp'], 'only the allowed publish is stored')

  // A will outside the grant refuses the CONNECT.
  const will = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 5, clientId: 'w5', password: narrow.token, will: { topic: 'other', payload: Buffer.from('x'), qos: 1, retain: false } })
  t.same(will.ok ? 'connected' : will.code, 0x87)
})

t.test('security mqtt - tenant isolation: relative topics never leave the bound namespace; client ids do not collide across tenants', async (t) => {
  const gw = await startSecureGateway(t)
  const acme = await token(gw)
  const globex = await token(gw, { tenant: 'globex' })
  const spy = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 5, clientId: 'same-id', password: globex.token })
  if (!spy.ok) throw new Error(`globex must connect: ${spy.message}`)
  const box = collect(spy.client)
  await spy.client.subscribeAsync('#', { qos: 1 })

  const a = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 5, clientId: 'same-id', password: acme.token })
  if (!a.ok) throw new Error('acme must connect')
  for (const topic of ['../../globex/orders/x', '/globex/orders/x', 'globex/orders/x', '..', '$SYS/x']) await a.client.publishAsync(topic, 'secret', { qos: 1 })
  t.same(storedTopics(gw), ['acme/orders/$SYS/x', 'acme/orders/..', 'acme/orders/../../globex/orders/x', 'acme/orders//globex/orders/x', 'acme/orders/globex/orders/x'])
  // The globex client with the same client id was not taken over, and saw nothing of acme.
  await spy.client.publishAsync('probe', 'mine', { qos: 1 })
  await waitFor(() => box.length > 0)
  t.same(box.map((m) => m.topic), ['probe'])
  t.equal(spy.client.connected, true, 'not disconnected by the other tenant\'s client id')
})
