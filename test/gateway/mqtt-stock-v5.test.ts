/**
 * Stock MQTT 5 clients must see a standard broker (issue 8): the `mqtt` npm
 * client at its defaults (only protocolVersion 5 and what each scenario is
 * about are set), over TCP and WebSocket.
 */
import t from 'tap'
import type { IClientOptions } from 'mqtt'
import { startTestGateway, connectMqtt, collect, rawConnect, type TestGateway, type Teardownable } from '../helpers/gateway.js'
import { waitFor } from '../helpers/wait.js'

type Kind = 'tcp' | 'ws'
const KINDS: Kind[] = ['tcp', 'ws']
const urlOf = (gw: TestGateway, k: Kind): string => k === 'tcp' ? gw.urls.mqtt : gw.urls.ws

async function v5 (t: Teardownable, gw: TestGateway, k: Kind, opts: IClientOptions = {}): ReturnType<typeof connectMqtt> {
  return await connectMqtt(t, gw, urlOf(gw, k), { protocolVersion: 5, ...opts })
}

for (const k of KINDS) {
  t.test(`mqtt stock v5 (${k}) - 300 QoS 1 publishes in flight at once are all acknowledged`, async (t) => {
    const gw = await startTestGateway(t)
    const pub = await v5(t, gw, k)
    const n = 300
    // The mqtt npm client does not honour the server's Receive Maximum: all 300 leave at once.
    let acked = 0
    let failed = 0
    let disconnected = false
    pub.on('disconnect', () => { disconnected = true })
    pub.on('close', () => { disconnected = true })
    for (let i = 0; i < n; i++) pub.publish(`rm/${k}`, `m${i}`, { qos: 1 }, (err) => { if (err === undefined || err === null) acked++; else failed++ })
    await waitFor(() => acked === n || disconnected, { timeoutMs: 30_000, what: 'all acknowledged or disconnected' })
    t.equal(acked, n, 'every publish acknowledged')
    t.equal(failed, 0)
    t.equal(disconnected, false, 'still connected (no 0x93)')
    const stats = gw.gateway.dispatcher.stats()
    t.ok(stats.published >= n, 'all stored')
  })

  // TCP only: the uWebSockets.js build cannot pause reading a WebSocket, so frames beyond the buffer close it (docs/MQTT.md).
  if (k === 'tcp') t.test(`mqtt stock v5 (${k}) - a burst far larger than the connection buffer is read at the store's pace, not refused`, async (t) => {
    const gw = await startTestGateway(t, { mqttLimits: { maxConnectionBufferBytes: 2 * 1024 * 1024 } })
    const pub = await v5(t, gw, k)
    // 3,000 x 4 KiB = 12 MiB in flight at once, six times the connection buffer.
    const n = 3000
    const payload = Buffer.alloc(4096, 0x63)
    let acked = 0
    let disconnected = false
    pub.on('close', () => { disconnected = true })
    for (let i = 0; i < n; i++) pub.publish(`burst/${k}`, payload, { qos: 1 }, (err) => { if (err === undefined || err === null) acked++ })
    await waitFor(() => acked === n || disconnected, { timeoutMs: 60_000, what: 'all acknowledged or disconnected' })
    t.equal(disconnected, false, 'not disconnected')
    t.equal(acked, n, 'every publish acknowledged')
  })

  t.test(`mqtt stock v5 (${k}) - deliveries carry exactly the publisher's user properties; metadata only on request`, async (t) => {
    const gw = await startTestGateway(t)
    const plain = await v5(t, gw, k)
    const plainBox = collect(plain)
    await plain.subscribeAsync(`up/${k}`, { qos: 1 })
    const meta = await v5(t, gw, k, { properties: { userProperties: { 'ferry-metadata': '1' } } })
    const metaBox = collect(meta)
    await meta.subscribeAsync(`up/${k}`, { qos: 1 })
    const pub = await v5(t, gw, k)
    await pub.publishAsync(`up/${k}`, 'x', { qos: 1, properties: { userProperties: { a: '1', b: ['2', '3'] } } })
    await pub.publishAsync(`up/${k}`, 'none', { qos: 1 })
    await waitFor(() => plainBox.length === 2 && metaBox.length === 2, { what: 'both delivered to both' })
    t.same(plainBox[0]?.packet.properties?.userProperties, { a: '1', b: ['2', '3'] }, 'exactly what was published [MQTT-3.3.2-18]')
    t.equal(plainBox[1]?.packet.properties?.userProperties, undefined, 'none published, none delivered')
    const mp = metaBox[0]?.packet.properties?.userProperties as Record<string, unknown>
    t.equal(mp.a, '1')
    t.same(mp.b, ['2', '3'])
    t.ok(mp['ferry-message-id'] !== undefined, 'ferry-metadata: 1 asks for the message id')
  })

  t.test(`mqtt stock v5 (${k}) - a client with Maximum Packet Size 64 receives a 32-byte message`, async (t) => {
    const gw = await startTestGateway(t)
    const small = await v5(t, gw, k, { properties: { maximumPacketSize: 64 } })
    const box = collect(small)
    await small.subscribeAsync(`mps/${k}`, { qos: 1 })
    const pub = await v5(t, gw, k)
    await pub.publishAsync(`mps/${k}`, Buffer.alloc(32, 0x61), { qos: 1 })
    await waitFor(() => box.length === 1, { what: '32-byte message in a 64-byte packet limit' })
    t.equal(box[0]?.payload.length, 32)
    // Even for a client asking for metadata, our additions never push a packet over its limit.
    const smallMeta = await v5(t, gw, k, { properties: { maximumPacketSize: 64, userProperties: { 'ferry-metadata': '1' } } })
    const metaBox = collect(smallMeta)
    await smallMeta.subscribeAsync(`mps/${k}`, { qos: 1 })
    await pub.publishAsync(`mps/${k}`, Buffer.alloc(32, 0x62), { qos: 1 })
    await waitFor(() => metaBox.length === 1, { what: 'delivered without our metadata rather than not at all' })
    t.equal(metaBox[0]?.payload.length, 32)
  })

  t.test(`mqtt stock v5 (${k}) - Clean Start 0 without Session Expiry on reconnect keeps the queued QoS 1 and 2 messages`, async (t) => {
    const gw = await startTestGateway(t)
    const clientId = `cs0-${k}`
    const a = await v5(t, gw, k, { clientId, clean: true, properties: { sessionExpiryInterval: 99999 } })
    await a.subscribeAsync(`cs/${k}/+/+`, { qos: 2 })
    await a.endAsync()
    const pub = await v5(t, gw, k)
    const props = { contentType: 'text/plain', payloadFormatIndicator: true }
    await pub.publishAsync(`cs/${k}/a/0`, 'q0', { qos: 0, properties: props })
    await pub.publishAsync(`cs/${k}/b/1`, 'q1', { qos: 1, properties: props })
    await pub.publishAsync(`cs/${k}/c/2`, 'q2', { qos: 2, properties: props })
    const b = await v5(t, gw, k, { clientId, clean: false })
    const box = collect(b)
    await waitFor(() => box.filter((m) => m.payload.toString() !== 'q0').length === 2, { what: 'QoS 1 and 2 messages after reconnect' })
    const got = box.filter((m) => m.payload.toString() !== 'q0')
    t.same(got.map((m) => m.payload.toString()).sort(), ['q1', 'q2'])
    t.same(got.map((m) => m.packet.qos).sort(), [1, 2])
    for (const m of got) {
      t.equal(m.packet.properties?.contentType, 'text/plain', 'content type kept')
      t.equal(m.packet.properties?.payloadFormatIndicator, true, 'payload format indicator kept')
    }
  })

  t.test(`mqtt stock v5 (${k}) - DISCONNECT Session Expiry 999999999, then live messages arrive with the remaining expiry`, async (t) => {
    const gw = await startTestGateway(t)
    const clientId = `dse-${k}`
    const a = await v5(t, gw, k, { clientId, clean: true, properties: { sessionExpiryInterval: 60 } })
    await a.subscribeAsync(`dse/${k}`, { qos: 1 })
    await a.endAsync(false, { reasonCode: 0, properties: { sessionExpiryInterval: 999999999 } })
    const pub = await v5(t, gw, k)
    for (const [p, e] of [['short-1', 1], ['long-1', 6], ['short-2', 1], ['long-2', 6]] as const) {
      await pub.publishAsync(`dse/${k}`, p, { qos: 1, properties: { messageExpiryInterval: e } })
    }
    const sentAt = Date.now()
    await waitFor(() => Date.now() - sentAt >= 3000, { timeoutMs: 10_000, what: 'short messages expire' })
    // Clean Start 0 and no properties, as a stock client reconnects.
    const b = await v5(t, gw, k, { clientId, clean: false })
    const box = collect(b)
    await waitFor(() => box.length >= 2, { what: 'the two live messages' })
    t.same(box.map((m) => m.payload.toString()), ['long-1', 'long-2'])
    for (const m of box) {
      const left = m.packet.properties?.messageExpiryInterval ?? 0
      t.ok(left > 0 && left < 6, `remaining expiry forwarded (${left} s)`)
    }
  })

  t.test(`mqtt stock v5 (${k}) - topic alias from the client, forgotten after reconnect`, async (t) => {
    const gw = await startTestGateway(t)
    const clientId = `ta-${k}`
    const c = await v5(t, gw, k, { clientId })
    const box = collect(c)
    await c.subscribeAsync(`ta/${k}`, { qos: 1 })
    await c.publishAsync(`ta/${k}`, 'with-topic', { qos: 1, properties: { topicAlias: 1 } })
    await c.publishAsync('', 'alias-only', { qos: 1, properties: { topicAlias: 1 } })
    await waitFor(() => box.length === 2, { what: 'both on its own subscription' })
    t.same(box.map((m) => [m.topic, m.payload.toString()]), [[`ta/${k}`, 'with-topic'], [`ta/${k}`, 'alias-only']])
    // The same client reconnects (its own reconnect): aliases are forgotten on both sides, a normal publish arrives.
    let reconnected = false
    c.once('connect', () => { reconnected = true })
    c.options.reconnectPeriod = 100
    c.stream.destroy()
    await waitFor(() => reconnected, { what: 'reconnected' })
    c.options.reconnectPeriod = 0
    await c.subscribeAsync(`ta/${k}`, { qos: 1 })
    await c.publishAsync(`ta/${k}`, 'normal', { qos: 1 })
    await waitFor(() => box.length === 3, { what: 'normal publish after reconnect' })
    t.equal(box[2]?.payload.toString(), 'normal')
    // An alias only known to the previous connection is a protocol error now [MQTT-3.3.2-8].
    const raw = await rawConnect(t, gw.ports.mqtt, 5, { clientId: `ta-raw-${k}` })
    raw.send({ cmd: 'publish', topic: `ta/${k}`, payload: Buffer.from('1'), qos: 1, messageId: 1, retain: false, dup: false, properties: { topicAlias: 2 } })
    await raw.next('puback')
    raw.socket.destroy()
    const raw2 = await rawConnect(t, gw.ports.mqtt, 5, { clientId: `ta-raw-${k}` })
    raw2.send({ cmd: 'publish', topic: '', payload: Buffer.from('2'), qos: 1, messageId: 2, retain: false, dup: false, properties: { topicAlias: 2 } })
    await raw2.waitClosed()
    t.equal((await raw2.next('disconnect')).reasonCode, 0x82, 'unknown alias after reconnect: protocol error')
  })

  t.test(`mqtt stock v5 (${k}) - outbound topic alias: a message too large for the client teaches it no alias`, async (t) => {
    const gw = await startTestGateway(t)
    const c = await v5(t, gw, k, { properties: { topicAliasMaximum: 5, maximumPacketSize: 100 } })
    const box = collect(c)
    let closed = false
    c.on('close', () => { closed = true })
    await c.subscribeAsync(`tal/${k}`, { qos: 1 })
    const pub = await v5(t, gw, k)
    await pub.publishAsync(`tal/${k}`, Buffer.alloc(200, 0x61), { qos: 1 }) // over 100 bytes: never sent [MQTT-3.1.2-25]
    await pub.publishAsync(`tal/${k}`, 'small-1', { qos: 1 })
    await pub.publishAsync(`tal/${k}`, 'small-2', { qos: 1 })
    await waitFor(() => box.length === 2 || closed, { what: 'the two small ones' })
    t.same(box.map((m) => [m.topic, m.payload.toString()]), [[`tal/${k}`, 'small-1'], [`tal/${k}`, 'small-2']])
    t.equal(closed, false)
  })

  t.test(`mqtt stock v5 (${k}) - overlapping subscriptions: one copy with both Subscription Identifiers`, async (t) => {
    const gw = await startTestGateway(t)
    const c = await v5(t, gw, k)
    const box = collect(c)
    await c.subscribeAsync(`ov/${k}/+`, { qos: 1, properties: { subscriptionIdentifier: 2 } })
    await c.subscribeAsync(`ov/${k}/#`, { qos: 2, properties: { subscriptionIdentifier: 3 } })
    const pub = await v5(t, gw, k)
    await pub.publishAsync(`ov/${k}/x`, 'one', { qos: 2 })
    await pub.publishAsync(`ov/${k}/x/y`, 'only-hash', { qos: 1 })
    await waitFor(() => box.some((m) => m.payload.toString() === 'only-hash'), { what: 'second message' })
    // A round trip after both: a second copy of 'one' would have arrived by now.
    await pub.publishAsync(`ov/${k}/x/y`, 'sync', { qos: 1 })
    await waitFor(() => box.some((m) => m.payload.toString() === 'sync'))
    const ones = box.filter((m) => m.payload.toString() === 'one')
    t.equal(ones.length, 1, 'one copy')
    const ids = ones[0]?.packet.properties?.subscriptionIdentifier
    t.same((Array.isArray(ids) ? ids : [ids]).sort(), [2, 3], 'both identifiers [MQTT-3.3.4-4]')
    t.equal(ones[0]?.packet.qos, 2, 'the highest QoS of the matching subscriptions [MQTT-3.3.4-2]')
    t.same(box.find((m) => m.payload.toString() === 'only-hash')?.packet.properties?.subscriptionIdentifier, 3)
  })

  t.test(`mqtt stock v5 (${k}) - a will keeps exactly its user properties`, async (t) => {
    const gw = await startTestGateway(t)
    const watcher = await v5(t, gw, k)
    const box = collect(watcher)
    await watcher.subscribeAsync(`will/${k}`, { qos: 1 })
    const ups = { z: '1', a: ['2', '3'] }
    const w = await v5(t, gw, k, { will: { topic: `will/${k}`, payload: Buffer.from('bye'), qos: 1, retain: false, properties: { userProperties: ups } } })
    // Drop the connection without DISCONNECT: the will goes out.
    w.stream.destroy()
    await waitFor(() => box.length === 1, { what: 'will' })
    t.same(box[0]?.packet.properties?.userProperties, ups)
  })
}
