import t from 'tap'
import { startTestGateway, connectMqtt, collect, rawConnect } from '../helpers/gateway.js'
import { waitFor } from '../helpers/wait.js'

t.test('mqtt will - published on abnormal close, not after DISCONNECT', async (t) => {
  const gw = await startTestGateway(t)
  const watcher = await connectMqtt(t, gw, gw.urls.mqtt)
  const box = collect(watcher)
  await watcher.subscribeAsync('will/#', { qos: 1 })
  for (const v of [4, 5] as const) {
    const a = await rawConnect(t, gw.ports.mqtt, v, { clientId: `w-drop-${v}`, will: { topic: `will/drop${v}`, payload: Buffer.from('gone'), qos: 1, retain: false } })
    a.socket.destroy()
    const b = await rawConnect(t, gw.ports.mqtt, v, { clientId: `w-clean-${v}`, will: { topic: `will/clean${v}`, payload: Buffer.from('nope'), qos: 1, retain: false } })
    b.send({ cmd: 'disconnect' })
    await b.waitClosed()
  }
  await waitFor(() => box.length === 2, { what: 'two wills' })
  // A message after both proves the clean ones did not come late.
  await watcher.publishAsync('will/sync', 'x', { qos: 1 })
  await waitFor(() => box.some((m) => m.topic === 'will/sync'))
  t.same(box.map((m) => m.topic).filter((x) => x !== 'will/sync').sort(), ['will/drop4', 'will/drop5'])
})

t.test('mqtt will - v5 DISCONNECT 0x04 sends the will; will delay is cancelled by reconnecting', async (t) => {
  const gw = await startTestGateway(t)
  const watcher = await connectMqtt(t, gw, gw.urls.mqtt)
  const box = collect(watcher)
  await watcher.subscribeAsync('wd/#', { qos: 1 })
  const a = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'w-04', will: { topic: 'wd/04', payload: Buffer.from('asked'), qos: 0, retain: false } })
  a.send({ cmd: 'disconnect', reasonCode: 0x04 })
  await waitFor(() => box.some((m) => m.topic === 'wd/04'), { what: 'will after 0x04' })

  const willDelayed = { topic: 'wd/delayed', payload: Buffer.from('late'), qos: 1 as const, retain: false, properties: { willDelayInterval: 2 } }
  const b = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'w-delay', clean: false, properties: { sessionExpiryInterval: 60 }, will: willDelayed })
  b.socket.destroy()
  await b.waitClosed()
  const back = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'w-delay', clean: false, properties: { sessionExpiryInterval: 60 } })
  t.equal((back.packets[0] as { sessionPresent?: boolean }).sessionPresent, true)
  // A second client with the same delay drops after the first one did and never returns: once its will
  // arrives, the first one's would have too, had the reconnect not cancelled it.
  const c = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'w-delay2', clean: false, properties: { sessionExpiryInterval: 60 }, will: { ...willDelayed, topic: 'wd/delayed2' } })
  c.socket.destroy()
  await waitFor(() => box.some((m) => m.topic === 'wd/delayed2'), { timeoutMs: 6000, what: 'delayed will' })
  t.notOk(box.some((m) => m.topic === 'wd/delayed'), 'no will: the client came back within the delay [MQTT-3.1.3-9]')
  t.pass('delayed will published once the delay passed')
})

t.test('mqtt keepalive - silent client is closed after 1.5 x keep alive; pings keep it open', async (t) => {
  const gw = await startTestGateway(t)
  const silent = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'ka-silent', keepalive: 1 })
  const pinger = await rawConnect(t, gw.ports.mqtt, 4, { clientId: 'ka-ping', keepalive: 1 })
  const timer = setInterval(() => { pinger.send({ cmd: 'pingreq' }) }, 300)
  t.teardown(() => { clearInterval(timer) })
  await silent.waitClosed()
  t.equal((await silent.next('disconnect')).reasonCode, 0x8d, 'Keep Alive timeout')
  await waitFor(() => pinger.packets.filter((p) => p.cmd === 'pingresp').length >= 6, { what: 'pinger still served' })
  t.notOk(pinger.closed)
})

t.test('mqtt keepalive - server keep alive caps a long keep alive (v5)', async (t) => {
  const gw = await startTestGateway(t, { mqttLimits: { keepAliveSecMax: 30 } })
  const c = await rawConnect(t, gw.ports.mqtt, 5, { keepalive: 600 })
  t.equal((c.packets[0] as { properties?: { serverKeepAlive?: number } }).properties?.serverKeepAlive, 30)
})
