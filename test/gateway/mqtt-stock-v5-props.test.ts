/**
 * Stock MQTT 5 clients must see a standard broker (issue 8): user properties, Maximum Packet Size, topic aliases, wills.
 * The `mqtt` npm client at its defaults over TCP and WebSocket.
 */
import t from 'tap'
import { startTestGateway, collect, rawConnect } from '../helpers/gateway.js'
import { waitFor } from '../helpers/wait.js'
import { KINDS, v5 } from './mqtt-stock-helpers.js'

for (const k of KINDS) {
  // TCP only: the uWebSockets.js build cannot pause reading a WebSocket, so frames beyond the buffer close it (docs/MQTT.md).
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
