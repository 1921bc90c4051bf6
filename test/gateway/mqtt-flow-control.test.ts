import t from 'tap'
import { startTestGateway, connectMqtt, collect, rawConnect } from '../helpers/gateway.js'
import { waitFor } from '../helpers/wait.js'

t.test('mqtt flow control - a subscriber that stops reading does not stall others, and loses nothing at QoS 1', async (t) => {
  const gw = await startTestGateway(t)
  const slow = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'slow', properties: { receiveMaximum: 10 } })
  slow.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'fc/+', qos: 1 }] })
  await slow.next('suback')
  slow.socket.pause() // stop reading: the gateway sees a backed-up socket
  const fast = await connectMqtt(t, gw, gw.urls.mqtt)
  const fastBox = collect(fast)
  await fast.subscribeAsync('fc/+', { qos: 1 })
  const pub = await connectMqtt(t, gw, gw.urls.mqtt)
  const payload = Buffer.alloc(4096, 0x62)
  const total = 300
  for (let i = 0; i < total; i++) pub.publish(`fc/${i % 2}`, Buffer.concat([Buffer.from(`${i}:`), payload]), { qos: 1 })
  await waitFor(() => fastBox.length === total, { timeoutMs: 20_000, what: 'fast subscriber gets everything' })
  t.pass('fast subscriber unaffected')
  // The slow one resumes and acknowledges: everything arrives.
  const seen = new Set<number>()
  const onPacket = (): void => {
    for (;;) {
      const p = slow.packets.shift()
      if (p === undefined) return
      if (p.cmd !== 'publish') continue
      seen.add(Number(String(p.payload).split(':')[0]))
      slow.send({ cmd: 'puback', messageId: p.messageId as number, reasonCode: 0 })
    }
  }
  slow.socket.on('data', () => { setImmediate(onPacket) })
  slow.socket.resume()
  await waitFor(() => { onPacket(); return seen.size === total }, { timeoutMs: 20_000, what: 'slow subscriber catches up' })
  t.equal(seen.size, total)
})

t.test('mqtt flow control - outbound window: never more than the client Receive Maximum unacknowledged', async (t) => {
  const gw = await startTestGateway(t)
  const s = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'win', properties: { receiveMaximum: 3 } })
  s.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'win/a', qos: 1 }, { topic: 'win/b', qos: 2 }] })
  await s.next('suback')
  const pub = await connectMqtt(t, gw, gw.urls.mqtt)
  for (let i = 0; i < 10; i++) {
    await pub.publishAsync('win/a', String(i), { qos: 1 })
    await pub.publishAsync('win/b', String(i), { qos: 2 })
  }
  // Two subscriptions: 20 deliveries, but only 3 may be outstanding.
  await waitFor(() => s.packets.filter((p) => p.cmd === 'publish').length === 3, { what: 'window filled' })
  s.send({ cmd: 'pingreq' })
  await s.next('pingresp')
  t.equal(s.packets.filter((p) => p.cmd === 'publish').length, 3, 'no fourth before an ack [MQTT-4.9.0-2]')
  let acked = 0
  while (acked < 20) {
    const p = await waitFor(() => s.packets.filter((x) => x.cmd === 'publish')[acked], { what: `publish ${acked}` })
    if (p.qos === 1) s.send({ cmd: 'puback', messageId: p.messageId as number, reasonCode: 0 })
    else {
      s.send({ cmd: 'pubrec', messageId: p.messageId as number, reasonCode: 0 })
      await waitFor(() => s.packets.some((x) => x.cmd === 'pubrel' && x.messageId === p.messageId))
      s.send({ cmd: 'pubcomp', messageId: p.messageId as number, reasonCode: 0 })
    }
    acked++
  }
  t.equal(acked, 20)
})

t.test('mqtt flow control - store refusal: v5 reason code in PUBACK/PUBREC, 3.1.1 closes without ack', async (t) => {
  const gw = await startTestGateway(t, { namespaces: { 'public/default': { maxMessageBytes: 100 } } })
  const c5 = await rawConnect(t, gw.ports.mqtt, 5)
  c5.send({ cmd: 'publish', topic: 'big', payload: Buffer.alloc(500), qos: 1, messageId: 1, retain: false, dup: false })
  const ack = await c5.next('puback')
  t.equal(ack.reasonCode, 0x80, 'E_TOO_LARGE maps to 0x95, which PUBACK may not carry: 0x80')
  t.match((ack.properties as { reasonString?: string }).reasonString, /^E_TOO_LARGE: /, 'the Reason String says why')
  c5.send({ cmd: 'publish', topic: 'big', payload: Buffer.alloc(500), qos: 2, messageId: 2, retain: false, dup: false })
  t.equal((await c5.next('pubrec')).reasonCode, 0x80)
  c5.send({ cmd: 'publish', topic: 'big', payload: Buffer.alloc(10), qos: 1, messageId: 3, retain: false, dup: false })
  await waitFor(() => c5.packets.filter((p) => p.cmd === 'puback').length === 2)
  t.equal(c5.packets.filter((p) => p.cmd === 'puback')[1]?.reasonCode, 0, 'connection still usable')
  const c3 = await rawConnect(t, gw.ports.mqtt, 4)
  c3.send({ cmd: 'publish', topic: 'big', payload: Buffer.alloc(500), qos: 1, messageId: 1, retain: false, dup: false })
  await c3.waitClosed()
  t.notOk(c3.packets.some((p) => p.cmd === 'puback'), '3.1.1 cannot report failure: no PUBACK, so the client resends')
})

t.test('mqtt flow control - UNSUBSCRIBE stops delivery; unknown filter gets 0x11 (v5)', async (t) => {
  const gw = await startTestGateway(t)
  const s = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'unsub' })
  s.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'us/a', qos: 0 }, { topic: 'us/b', qos: 0 }] })
  await s.next('suback')
  s.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['us/a', 'us/none'] })
  t.same((await s.next('unsuback')).granted, [0, 0x11])
  const pub = await connectMqtt(t, gw, gw.urls.mqtt)
  await pub.publishAsync('us/a', 'gone', { qos: 1 })
  await pub.publishAsync('us/b', 'kept', { qos: 1 })
  const m = await s.next('publish')
  t.equal(m.topic, 'us/b')
  s.send({ cmd: 'pingreq' })
  await s.next('pingresp')
  t.equal(s.packets.filter((p) => p.cmd === 'publish').length, 1)
})
