import t from 'tap'
import { startTestGateway, connectMqtt, collect, rawConnect } from '../helpers/gateway.js'
import { waitFor } from '../helpers/wait.js'

t.test('mqtt qos - every publish/subscribe QoS pair delivers at the lower QoS, 3.1.1 and 5.0', async (t) => {
  const gw = await startTestGateway(t)
  for (const protocolVersion of [4, 5] as const) {
    const sub = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion })
    const pub = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion })
    const box = collect(sub)
    for (const sq of [0, 1, 2] as const) await sub.subscribeAsync(`q${protocolVersion}/s${sq}`, { qos: sq })
    for (const sq of [0, 1, 2] as const) {
      for (const pq of [0, 1, 2] as const) await pub.publishAsync(`q${protocolVersion}/s${sq}`, `p${pq}`, { qos: pq })
    }
    await waitFor(() => box.length === 9, { what: '9 messages' })
    for (const m of box) {
      const sq = Number(m.topic.slice(-1))
      const pq = Number(m.payload.toString().slice(1))
      t.equal(m.packet.qos, Math.min(sq, pq), `${m.topic} ${m.payload.toString()}`)
    }
  }
})

t.test('mqtt qos - QoS 2 inbound: duplicate PUBLISH is stored once, PUBREL completes', async (t) => {
  const gw = await startTestGateway(t)
  const sub = await connectMqtt(t, gw, gw.urls.mqtt)
  const box = collect(sub)
  await sub.subscribeAsync('q2/dup', { qos: 2 })
  const c = await rawConnect(t, gw.ports.mqtt, 5)
  const publish = { cmd: 'publish' as const, topic: 'q2/dup', payload: Buffer.from('once'), qos: 2 as const, messageId: 42, retain: false, dup: false }
  c.send(publish)
  const rec = await c.next('pubrec')
  t.equal(rec.messageId, 42)
  c.send({ ...publish, dup: true })
  await waitFor(() => c.packets.filter((p) => p.cmd === 'pubrec').length === 2, { what: 'second pubrec' })
  c.send({ cmd: 'pubrel', messageId: 42 })
  t.equal((await c.next('pubcomp')).messageId, 42)
  c.send({ cmd: 'pubrel', messageId: 43 })
  const unknown = (await waitFor(() => c.packets.filter((p) => p.cmd === 'pubcomp')[1], { what: 'pubcomp for unknown id' }))
  t.equal(unknown.reasonCode, 0x92, 'unknown packet id: 0x92')
  await waitFor(() => box.length === 1)
  c.send({ cmd: 'pingreq' })
  await c.next('pingresp')
  t.equal(box.length, 1, 'delivered once')
})

t.test('mqtt qos - QoS 1 and 2 outbound flows with a raw subscriber; PUBACKs in order', async (t) => {
  const gw = await startTestGateway(t)
  const s = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'raw-sub' })
  s.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'out/+', qos: 2 }] })
  await s.next('suback')
  const pub = await connectMqtt(t, gw, gw.urls.mqtt)
  await pub.publishAsync('out/1', 'one', { qos: 1 })
  const p1 = await s.next('publish')
  t.equal(p1.qos, 1)
  s.send({ cmd: 'puback', messageId: p1.messageId as number, reasonCode: 0 })
  await pub.publishAsync('out/2', 'two', { qos: 2 })
  const p2 = await waitFor(() => s.packets.filter((p) => p.cmd === 'publish')[1])
  t.equal(p2.qos, 2)
  s.send({ cmd: 'pubrec', messageId: p2.messageId as number, reasonCode: 0 })
  const rel = await s.next('pubrel')
  t.equal(rel.messageId, p2.messageId)
  s.send({ cmd: 'pubcomp', messageId: p2.messageId as number, reasonCode: 0 })

  // Many QoS 1 publishes from one raw client: PUBACKs come back in PUBLISH order [MQTT-4.6.0-2].
  const c = await rawConnect(t, gw.ports.mqtt, 4)
  for (let id = 1; id <= 20; id++) c.send({ cmd: 'publish', topic: `order/${id % 3}`, payload: Buffer.from(String(id)), qos: 1, messageId: id, retain: false, dup: false })
  await waitFor(() => c.packets.filter((p) => p.cmd === 'puback').length === 20, { what: '20 pubacks' })
  t.same(c.packets.filter((p) => p.cmd === 'puback').map((p) => p.messageId), Array.from({ length: 20 }, (_, i) => i + 1))
})

t.test('mqtt qos - unacked QoS 1 message is redelivered on reconnect with ferry-redelivery-count (ferry-metadata: 1)', async (t) => {
  const gw = await startTestGateway(t)
  const meta = { 'ferry-metadata': '1' }
  const s = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'redeliver', clean: false, properties: { sessionExpiryInterval: 300, userProperties: meta } })
  s.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'rd', qos: 1 }] })
  await s.next('suback')
  const pub = await connectMqtt(t, gw, gw.urls.mqtt)
  await pub.publishAsync('rd', 'again', { qos: 1 })
  const first = await s.next('publish')
  const ups = (first.properties as { userProperties?: Record<string, string> }).userProperties
  t.equal(ups?.['ferry-redelivery-count'], '0')
  s.socket.destroy() // no PUBACK
  await s.waitClosed()
  const s2 = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'redeliver', clean: false, properties: { sessionExpiryInterval: 300, userProperties: meta } })
  t.equal((s2.packets[0] as { sessionPresent?: boolean }).sessionPresent, true)
  const again = await s2.next('publish')
  t.equal(String(again.payload), 'again')
  const ups2 = (again.properties as { userProperties?: Record<string, string> }).userProperties
  t.ok(Number(ups2?.['ferry-redelivery-count']) >= 1, 'redelivery count > 0')
  t.equal(again.dup, true, 'DUP set on a redelivery')
})

t.test('mqtt qos - v5 PUBACK with reason >= 0x80 is a nack: the message comes again', async (t) => {
  const gw = await startTestGateway(t, { namespaces: { 'public/default': { redeliveryBackoffMs: [10] } } })
  const s = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'nacker', properties: { userProperties: { 'ferry-metadata': '1' } } })
  s.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'nk', qos: 1 }] })
  await s.next('suback')
  const pub = await connectMqtt(t, gw, gw.urls.mqtt)
  await pub.publishAsync('nk', 'bad', { qos: 1 })
  const first = await s.next('publish')
  s.send({ cmd: 'puback', messageId: first.messageId as number, reasonCode: 0x80 })
  const second = await waitFor(() => s.packets.filter((p) => p.cmd === 'publish')[1], { what: 'redelivery after nack' })
  t.equal(String(second.payload), 'bad')
  t.ok(Number((second.properties as { userProperties?: Record<string, string> }).userProperties?.['ferry-redelivery-count']) >= 1)
  s.send({ cmd: 'puback', messageId: second.messageId as number, reasonCode: 0 })
})
