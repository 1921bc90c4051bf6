import t from 'tap'
import { startTestGateway, connectMqtt, collect } from '../helpers/gateway.js'
import { waitFor } from '../helpers/wait.js'

t.test('mqtt shared - $share/{group}/{filter} spreads messages over the group, each once', async (t) => {
  const gw = await startTestGateway(t)
  const members = await Promise.all([0, 1, 2].map(async (i) => await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5, clientId: `member-${i}` })))
  const boxes = members.map(collect)
  await Promise.all(members.map(async (m) => await m.subscribeAsync('$share/workers/jobs/+', { qos: 1 })))
  const plain = await connectMqtt(t, gw, gw.urls.mqtt)
  const plainBox = collect(plain)
  await plain.subscribeAsync('jobs/+', { qos: 1 })
  const pub = await connectMqtt(t, gw, gw.urls.mqtt)
  for (let i = 0; i < 30; i++) await pub.publishAsync(`jobs/${i % 4}`, String(i), { qos: 1 })
  await waitFor(() => boxes.reduce((n, b) => n + b.length, 0) === 30, { what: '30 shared deliveries' })
  const all = boxes.flatMap((b) => b.map((m) => Number(m.payload.toString()))).sort((a, b) => a - b)
  t.same(all, Array.from({ length: 30 }, (_, i) => i), 'each message once across the group')
  t.ok(boxes.filter((b) => b.length > 0).length >= 2, 'more than one member got work')
  await waitFor(() => plainBox.length === 30, { what: 'the plain subscriber sees all' })
  const names = gw.gateway.ledger.cursors('public/default/jobs/0').map((c) => c.subscription)
  t.ok(names.some((n) => n.includes('workers')), `subscription named after the group (${names.join(', ')})`)
})

t.test('mqtt shared - $failover/{group}/{filter}: one active member, the next takes over', async (t) => {
  const gw = await startTestGateway(t)
  const a = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5, clientId: 'fo-a' })
  const boxA = collect(a)
  await a.subscribeAsync('$failover/g/fo', { qos: 1 })
  const b = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5, clientId: 'fo-b' })
  const boxB = collect(b)
  await b.subscribeAsync('$failover/g/fo', { qos: 1 })
  const pub = await connectMqtt(t, gw, gw.urls.mqtt)
  for (let i = 0; i < 5; i++) await pub.publishAsync('fo', `m${i}`, { qos: 1 })
  await waitFor(() => boxA.length + boxB.length === 5)
  t.ok(boxA.length === 5 || boxB.length === 5, 'all to the one active consumer')
  const [active, standbyBox] = boxA.length === 5 ? [a, boxB] : [b, boxA]
  await active.endAsync(true)
  await pub.publishAsync('fo', 'after', { qos: 1 })
  await waitFor(() => standbyBox.some((m) => m.payload.toString() === 'after'), { what: 'standby takes over' })
  t.pass('failover')
})

t.test('mqtt shared - $keyshared and $exclusive select their dispatcher modes; No Local on $share is a protocol error', async (t) => {
  const gw = await startTestGateway(t)
  const ks = await Promise.all([0, 1].map(async (i) => await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5, clientId: `ks-${i}` })))
  const boxes = ks.map(collect)
  await Promise.all(ks.map(async (c) => await c.subscribeAsync('$keyshared/kg/ks', { qos: 1 })))
  const pub = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5 })
  for (let i = 0; i < 20; i++) await pub.publishAsync('ks', `${i % 4}:${i}`, { qos: 1, properties: { userProperties: { 'ferry-key': `k${i % 4}` } } })
  await waitFor(() => boxes[0]!.length + boxes[1]!.length === 20)
  for (const key of ['0', '1', '2', '3']) {
    const holders = boxes.filter((b) => b.some((m) => m.payload.toString().startsWith(`${key}:`)))
    t.equal(holders.length, 1, `key ${key} on one consumer`)
  }
  const ex = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5 })
  const granted = await ex.subscribeAsync('$exclusive/solo/ex', { qos: 1 })
  t.equal(granted[0]?.qos, 1)
  const ex2 = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5 })
  await t.rejects(ex2.subscribeAsync('$exclusive/solo/ex', { qos: 1 }), /Subscribe error/, 'a second consumer on an exclusive subscription is refused in SUBACK')

  const bad = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5 })
  const closed = new Promise<void>((resolve) => { bad.once('close', () => { resolve() }) })
  bad.subscribe('$share/g/x', { qos: 0, nl: true })
  await closed
  t.pass('closed [MQTT-3.8.3-4]')
})
