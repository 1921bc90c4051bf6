import t from 'tap'
import WebSocket from 'ws'
import mqttPacket from 'mqtt-packet'
import { startTestGateway, connectMqtt, collect } from '../helpers/gateway.js'
import { waitFor } from '../helpers/wait.js'

t.test('mqtt transports - pub/sub over mqtt, mqtts, ws and wss with 3.1.1 and 5.0', async (t) => {
  const gw = await startTestGateway(t)
  const urls = [gw.urls.mqtt, gw.urls.mqtts, gw.urls.ws, gw.urls.wss]
  for (const protocolVersion of [4, 5] as const) {
    const subs = await Promise.all(urls.map(async (u) => await connectMqtt(t, gw, u, { protocolVersion })))
    const boxes = subs.map(collect)
    await Promise.all(subs.map(async (s) => await s.subscribeAsync(`tr/v${protocolVersion}`, { qos: 1 })))
    // Every transport publishes once; every subscriber gets all four.
    for (let i = 0; i < urls.length; i++) {
      await subs[i]!.publishAsync(`tr/v${protocolVersion}`, `from-${i}`, { qos: 1 })
    }
    for (const box of boxes) {
      await waitFor(() => box.length >= urls.length, { what: 'four messages' })
      t.same(box.map((m) => m.payload.toString()).sort(), ['from-0', 'from-1', 'from-2', 'from-3'])
    }
  }
})

/** Raw WebSocket client speaking MQTT bytes, to control framing. */
async function rawWs (t: { teardown: (fn: () => unknown) => void }, url: string, protocols: string[] = ['mqtt']): Promise<{ ws: WebSocket, packets: Array<Record<string, unknown>> }> {
  const ws = new WebSocket(url, protocols)
  t.teardown(() => { ws.terminate() })
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  const packets: Array<Record<string, unknown>> = []
  parser.on('packet', (p) => { packets.push(p as unknown as Record<string, unknown>) })
  ws.on('message', (d: Buffer) => { parser.parse(d) })
  await new Promise<void>((resolve, reject) => { ws.once('open', () => { resolve() }); ws.once('error', reject) })
  return { ws, packets }
}

t.test('mqtt transports - WebSocket packets split across frames and packed in one frame', async (t) => {
  const gw = await startTestGateway(t)
  const { ws, packets } = await rawWs(t, gw.urls.ws)
  t.equal(ws.protocol, 'mqtt', 'server selects the mqtt subprotocol [MQTT-6.0.0-4]')
  const connect = mqttPacket.generate({ cmd: 'connect', clientId: 'raw-ws', protocolVersion: 4, clean: true, keepalive: 30 })
  // CONNECT one byte per frame.
  for (const b of connect) ws.send(Buffer.from([b]))
  await waitFor(() => packets.find((p) => p.cmd === 'connack'), { what: 'connack' })
  // SUBSCRIBE + PUBLISH + PINGREQ packed into one frame.
  const packed = Buffer.concat([
    mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'ws/split', qos: 0 }] }),
    mqttPacket.generate({ cmd: 'pingreq' })
  ])
  ws.send(packed)
  await waitFor(() => packets.find((p) => p.cmd === 'suback') && packets.find((p) => p.cmd === 'pingresp'), { what: 'suback + pingresp' })
  const pub = mqttPacket.generate({ cmd: 'publish', topic: 'ws/split', payload: Buffer.from('hello'), qos: 0, retain: false, dup: false })
  ws.send(pub.subarray(0, 3))
  ws.send(pub.subarray(3))
  const msg = await waitFor(() => packets.find((p) => p.cmd === 'publish'), { what: 'publish back' })
  t.equal(String(msg.payload), 'hello')
})

t.test('mqtt transports - WebSocket without the mqtt subprotocol is refused', async (t) => {
  const gw = await startTestGateway(t)
  const ws = new WebSocket(gw.urls.ws, ['chat'])
  t.teardown(() => { ws.terminate() })
  const status = await new Promise<number>((resolve) => {
    ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0) })
    ws.on('error', () => { resolve(-1) })
  })
  t.equal(status, 400)
})

t.test('mqtt transports - text frames close the WebSocket [MQTT-6.0.0-1]', async (t) => {
  const gw = await startTestGateway(t)
  const { ws } = await rawWs(t, gw.urls.ws)
  const closed = new Promise<void>((resolve) => { ws.once('close', () => { resolve() }) })
  ws.send('not binary')
  await closed
  t.pass('closed')
})

t.test('mqtt transports - MQTT 3.1 (MQIsdp) clients are served like 3.1.1', async (t) => {
  const gw = await startTestGateway(t)
  const c = await connectMqtt(t, gw, gw.urls.mqtt, { protocolId: 'MQIsdp', protocolVersion: 3, clientId: 'old-client' })
  const box = collect(c)
  await c.subscribeAsync('v31', { qos: 2 })
  await c.publishAsync('v31', 'legacy', { qos: 2 })
  await waitFor(() => box.length === 1)
  t.equal(box[0]?.payload.toString(), 'legacy')
})
