import t from 'tap'
import tls from 'node:tls'
import mqttPacket from 'mqtt-packet'
import { createMemoryLedger } from '../../store/index.js'
import { PolicyRegistry } from '../../gateway/policy/index.js'
import { createDispatcher } from '../../gateway/dispatch/index.js'
import { createMqttFrontEnd, listenMqttTcp, type AuthorizeSubscribe } from '../../gateway/mqtt/index.js'
import { silentLogger } from '../../common/log.js'
import { startTestGateway, rawConnect, connectMqtt, collect } from '../helpers/gateway.js'
import { waitFor } from '../helpers/wait.js'
import type { TapTest } from '../helpers/tap-test.js'

/** A front end on a memory ledger with injectable hooks (startGateway does not take hooks). */
async function frontWithHooks (t: TapTest, hooks: { authorizeSubscribe?: AuthorizeSubscribe, namespace?: string }): Promise<number> {
  const policies = new PolicyRegistry({ 'public/default': {}, 'acme/iot': {} })
  const ledger = createMemoryLedger({ siteId: 't', policyOf: (topic) => policies.storePolicy(topic) })
  await ledger.open()
  const dispatcher = createDispatcher({ ledger, policies, siteId: 't', logger: silentLogger })
  const front = await createMqttFrontEnd({
    dispatcher, ledger, policies, siteId: 't', dev: true, defaultNamespace: 'public/default', logger: silentLogger,
    authorizeSubscribe: hooks.authorizeSubscribe,
    authenticate: hooks.namespace !== undefined ? async () => ({ namespace: hooks.namespace as string }) : undefined
  })
  const listener = await listenMqttTcp(front, { host: '127.0.0.1', port: 0 })
  t.teardown(async () => { await listener.close(); await front.close(); await dispatcher.close(); await ledger.close() })
  return listener.port
}

t.test('mqtt auth - authorizeSubscribe hook refuses a filter (v5 0x87, 3.1.1 0x80)', async (t) => {
  const seen: string[] = []
  const port = await frontWithHooks(t, {
    authorizeSubscribe: (client, filter) => { seen.push(`${client.clientId}:${client.namespace}:${filter}`); return !filter.startsWith('secret/') }
  })
  const c5 = await rawConnect(t, port, 5, { clientId: 'acl5' })
  c5.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'secret/x', qos: 1 }, { topic: 'open/x', qos: 1 }] })
  t.same((await c5.next('suback')).granted, [0x87, 1])
  const c3 = await rawConnect(t, port, 4, { clientId: 'acl3' })
  c3.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'secret/#', qos: 0 }] })
  t.same((await c3.next('suback')).granted, [0x80])
  t.same(seen, ['acl5:public/default:secret/x', 'acl5:public/default:open/x', 'acl3:public/default:secret/#'])
})

t.test('mqtt auth - a client bound to another namespace lives in it', async (t) => {
  const port = await frontWithHooks(t, { namespace: 'acme/iot' })
  const s = await rawConnect(t, port, 5, { clientId: 'ns-sub' })
  s.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'sensor/+', qos: 0 }] })
  await s.next('suback')
  const p = await rawConnect(t, port, 5, { clientId: 'ns-pub' })
  p.send({ cmd: 'publish', topic: 'sensor/1', payload: Buffer.from('21.5'), qos: 1, messageId: 1, retain: false, dup: false })
  await p.next('puback')
  const m = await s.next('publish')
  t.equal(m.topic, 'sensor/1', 'local names on the wire')
})

t.test('mqtt auth - outside dev mode anonymous CONNECT is refused (0x87 / 3.1.1 rc 5)', async (t) => {
  const gw = await startTestGateway(t, { dev: false })
  for (const v of [4, 5] as const) {
    const sock = tls.connect({ host: '127.0.0.1', port: gw.ports.mqtts, ca: gw.caPem })
    t.teardown(() => { sock.destroy() })
    const got: Buffer[] = []
    sock.on('data', (d: Buffer) => { got.push(d) })
    await new Promise<void>((resolve) => { sock.once('secureConnect', () => { resolve() }) })
    sock.write(mqttPacket.generate({ cmd: 'connect', protocolVersion: v, clientId: `anon${v}`, clean: true, keepalive: 10 }, { protocolVersion: v }))
    await new Promise<void>((resolve) => { sock.once('close', () => { resolve() }) })
    const parser = mqttPacket.parser({ protocolVersion: v })
    const packets: Array<Record<string, unknown>> = []
    parser.on('packet', (p) => { packets.push(p as unknown as Record<string, unknown>) })
    parser.parse(Buffer.concat(got))
    const connack = packets[0] ?? {}
    if (v === 5) t.equal(connack.reasonCode, 0x87)
    else t.equal(connack.returnCode, 5)
  }
})

t.test('mqtt auth - dev mode: anonymous clients share public/default, `/TopicA` is its own topic', async (t) => {
  const gw = await startTestGateway(t)
  const c = await connectMqtt(t, gw, gw.urls.mqtt)
  const box = collect(c)
  await c.subscribeAsync(['TopicA', '/TopicA'], { qos: 1 })
  await c.publishAsync('TopicA', 'plain', { qos: 1 })
  await c.publishAsync('/TopicA', 'slash', { qos: 1 })
  await waitFor(() => box.length === 2)
  t.same(box.map((m) => `${m.topic}=${m.payload.toString()}`).sort(), ['/TopicA=slash', 'TopicA=plain'])
  t.ok(gw.gateway.ledger.topicInfo('public/default/TopicA'))
  t.ok(gw.gateway.ledger.topicInfo('public/default//TopicA'))
})
