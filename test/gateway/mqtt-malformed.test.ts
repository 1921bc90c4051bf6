import t from 'tap'
import { startTestGateway, connectMqtt, collect, rawMqtt, rawConnect } from '../helpers/gateway.js'
import { waitFor } from '../helpers/wait.js'
import type { TapTest } from '../helpers/tap-test.js'

const gwP = startTestGateway(t, { mqttLimits: { maxPacketBytes: 4096, receiveMaximum: 2 } })

/** After each bad client, a healthy client still gets its messages. */
async function stillServing (tt: TapTest): Promise<void> {
  const gw = await gwP
  const c = await connectMqtt(tt, gw, gw.urls.mqtt)
  const box = collect(c)
  await c.subscribeAsync('health', { qos: 1 })
  await c.publishAsync('health', 'ok', { qos: 1 })
  await waitFor(() => box.length === 1, { what: 'healthy client message' })
}

function publishBytes (topic: Buffer, version: 4 | 5 = 4): Buffer {
  const body = Buffer.concat([Buffer.from([topic.length >> 8, topic.length & 0xff]), topic, version === 5 ? Buffer.from([0]) : Buffer.alloc(0), Buffer.from('x')])
  return Buffer.concat([Buffer.from([0x30, body.length]), body])
}

t.test('mqtt malformed - packet before CONNECT closes the connection [MQTT-3.1.0-1]', async (t) => {
  const gw = await gwP
  const c = await rawMqtt(t, gw.ports.mqtt)
  c.send({ cmd: 'pingreq' })
  await c.waitClosed()
  t.same(c.packets, [], 'no answer')
  await stillServing(t)
})

t.test('mqtt malformed - second CONNECT is a protocol error [MQTT-3.1.0-2]', async (t) => {
  const gw = await gwP
  for (const v of [4, 5] as const) {
    const c = await rawConnect(t, gw.ports.mqtt, v, { clientId: `twice-${v}` })
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clean: true, keepalive: 60, clientId: `twice-${v}` })
    await c.waitClosed()
    if (v === 5) t.equal((await c.next('disconnect')).reasonCode, 0x82, 'v5 DISCONNECT 0x82')
  }
  await stillServing(t)
})

t.test('mqtt malformed - invalid UTF-8 topic is a malformed packet [MQTT-1.5.4-1]', async (t) => {
  const gw = await gwP
  const c3 = await rawConnect(t, gw.ports.mqtt, 4)
  c3.write(publishBytes(Buffer.from([0x61, 0xff, 0x62])))
  await c3.waitClosed()
  const c5 = await rawConnect(t, gw.ports.mqtt, 5)
  c5.write(publishBytes(Buffer.from([0x61, 0xc3]), 5))
  await c5.waitClosed()
  t.equal((await c5.next('disconnect')).reasonCode, 0x81, 'v5 DISCONNECT 0x81 Malformed Packet')
  await stillServing(t)
})

t.test('mqtt malformed - wildcards in a PUBLISH topic are refused [MQTT-3.3.2-2]', async (t) => {
  const gw = await gwP
  const c5 = await rawConnect(t, gw.ports.mqtt, 5)
  c5.write(publishBytes(Buffer.from('a/+/b'), 5))
  await c5.waitClosed()
  t.equal((await c5.next('disconnect')).reasonCode, 0x90, 'v5 DISCONNECT 0x90 Topic Name invalid')
  const c3 = await rawConnect(t, gw.ports.mqtt, 4)
  c3.write(publishBytes(Buffer.from('a/#')))
  await c3.waitClosed()
  await stillServing(t)
})

t.test('mqtt malformed - reserved packet type and bad header flags close the connection [MQTT-2.2.2-2]', async (t) => {
  const gw = await gwP
  const c = await rawConnect(t, gw.ports.mqtt, 4)
  c.write(Buffer.from([0x00, 0x00])) // type 0 is reserved
  await c.waitClosed()
  const d = await rawConnect(t, gw.ports.mqtt, 4)
  d.write(Buffer.from([0x83, 0x05, 0x00, 0x01, 0x00, 0x01, 0x61])) // SUBSCRIBE with flags 0011, must be 0010
  await d.waitClosed()
  t.pass('both closed')
  await stillServing(t)
})

t.test('mqtt malformed - oversized packet is refused before it is buffered (v5 0x95)', async (t) => {
  const gw = await gwP
  const c = await rawConnect(t, gw.ports.mqtt, 5)
  const connack = c.packets.find((p) => p.cmd === 'connack') as { properties?: { maximumPacketSize?: number } }
  t.equal(connack.properties?.maximumPacketSize, 4096, 'Maximum Packet Size advertised')
  // Only the fixed header of a 1 MB publish: refused on the length alone.
  c.write(Buffer.from([0x30, 0x80, 0x80, 0x40]))
  await c.waitClosed()
  t.equal((await c.next('disconnect')).reasonCode, 0x95)
  await stillServing(t)
})

t.test('mqtt malformed - truncated packets: garbage length, string past the end', async (t) => {
  const gw = await gwP
  const a = await rawConnect(t, gw.ports.mqtt, 4)
  a.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f])) // 5-byte remaining length
  await a.waitClosed()
  const b = await rawConnect(t, gw.ports.mqtt, 4)
  b.write(Buffer.from([0x30, 0x03, 0x00, 0x09, 0x61])) // topic length 9 in a 3-byte body
  await b.waitClosed()
  const c = await rawMqtt(t, gw.ports.mqtt)
  c.write(Buffer.from([0x10, 0x04, 0x00, 0x04, 0x4d, 0x51])) // CONNECT cut inside the protocol name
  await c.waitClosed()
  t.pass('all closed')
  await stillServing(t)
})

t.test('mqtt malformed - a client over our Receive Maximum gets DISCONNECT 0x93', async (t) => {
  const gw = await gwP
  const c = await rawConnect(t, gw.ports.mqtt, 5)
  const connack = c.packets.find((p) => p.cmd === 'connack') as { properties?: { receiveMaximum?: number } }
  t.equal(connack.properties?.receiveMaximum, 2)
  // Three QoS 2 publishes without PUBREL: the third exceeds the window of 2.
  for (let id = 1; id <= 3; id++) c.send({ cmd: 'publish', topic: 'rm', payload: Buffer.from('x'), qos: 2, messageId: id, retain: false, dup: false })
  await c.waitClosed()
  t.equal((await c.next('disconnect')).reasonCode, 0x93)
  await stillServing(t)
})

t.test('mqtt malformed - invalid filters get failure codes, valid ones in the same SUBSCRIBE succeed', async (t) => {
  const gw = await gwP
  const c = await rawConnect(t, gw.ports.mqtt, 5)
  c.send({ cmd: 'subscribe', messageId: 5, subscriptions: [{ topic: 'a/#/b', qos: 0 }, { topic: '$share//x', qos: 0 }, { topic: 'ok/+', qos: 1 }] })
  const suback = await c.next('suback')
  t.same(suback.granted, [0x8f, 0x8f, 1], 'invalid filters get 0x8F, the good one its QoS')
  const d = await rawConnect(t, gw.ports.mqtt, 4)
  d.send({ cmd: 'subscribe', messageId: 5, subscriptions: [{ topic: 'a/#/b', qos: 0 }, { topic: 'fine', qos: 2 }] })
  t.same((await d.next('suback')).granted, [0x80, 2], '3.1.1 failure is 0x80')
  await stillServing(t)
})

t.test('mqtt malformed - nothing sent after TCP connect: connect timeout', async (t) => {
  const gw2 = await startTestGateway(t, { mqttLimits: { connectTimeoutMs: 200 } })
  const c = await rawMqtt(t, gw2.ports.mqtt)
  await c.waitClosed()
  t.ok(c.closed)
  t.same(c.packets, [])
})
