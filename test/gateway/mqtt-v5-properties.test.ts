import t from 'tap'
import { encodePublish, walkProperties } from '../../gateway/mqtt/codec.js'
import { startTestGateway, connectMqtt, collect, rawConnect } from '../helpers/gateway.js'
import { waitFor } from '../helpers/wait.js'

/** User properties of a raw PUBLISH, in wire order. */
function rawUserProps (raw: Buffer): Array<readonly [string, string]> {
  let p = 1
  while (((raw[p] as number) & 0x80) !== 0) p++
  p++
  const topicLen = raw.readUInt16BE(p)
  p += 2 + topicLen
  if ((((raw[0] as number) >> 1) & 3) > 0) p += 2
  return walkProperties(raw, p, raw.length).userProperties ?? []
}

t.test('mqtt v5 properties - user properties forwarded unaltered and in order; ferry-* delivery properties only on request', async (t) => {
  const gw = await startTestGateway(t)
  const s = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'up-sub', properties: { userProperties: { 'ferry-metadata': '1' } } })
  s.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'up', qos: 1 }] })
  await s.next('suback')
  const plain = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'up-plain' })
  plain.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'up', qos: 1 }] })
  await plain.next('suback')
  const p = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'up-pub' })
  const ups = [['b', '1'], ['a', '2'], ['b', '3'], ['ferry-custom', 'kept'], ['a', '2']] as const
  p.write(encodePublish({ topic: 'up', qos: 1, retain: false, dup: false, packetId: 9, payload: Buffer.from('x'), userProperties: ups }, 5))
  await p.next('puback')
  await s.next('publish')
  const raw = s.raw.find((b) => ((b[0] as number) >> 4) === 3) as Buffer
  const got = rawUserProps(raw)
  t.same(got.slice(0, ups.length), ups, 'same names, values, order and repeats [MQTT-3.3.2-18]')
  t.same(got.slice(ups.length).map(([k]) => k), ['ferry-redelivery-count', 'ferry-message-id'], 'ferry-metadata: 1 adds ours after them')
  await plain.next('publish')
  const plainRaw = plain.raw.find((b) => ((b[0] as number) >> 4) === 3) as Buffer
  t.same(rawUserProps(plainRaw), ups, 'by default exactly the publisher\'s, nothing added')
})

t.test('mqtt v5 properties - expiry, payload format, content type, response topic, correlation data, subscription id', async (t) => {
  const gw = await startTestGateway(t)
  const sub = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5 })
  const box = collect(sub)
  await sub.subscribeAsync('props/+', { qos: 1, properties: { subscriptionIdentifier: 77 } })
  const pub = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5 })
  await pub.publishAsync('props/a', '{"x":1}', {
    qos: 1,
    properties: { messageExpiryInterval: 120, payloadFormatIndicator: true, contentType: 'application/json', responseTopic: 'reply/here', correlationData: Buffer.from('corr-1') }
  })
  await waitFor(() => box.length === 1)
  const props = box[0]?.packet.properties ?? {}
  t.ok((props.messageExpiryInterval ?? 0) <= 120 && (props.messageExpiryInterval ?? 0) >= 118, 'remaining expiry forwarded')
  t.equal(props.payloadFormatIndicator, true)
  t.equal(props.contentType, 'application/json')
  t.equal(props.responseTopic, 'reply/here', 'response topic back in the client namespace')
  t.same(props.correlationData, Buffer.from('corr-1'))
  t.same(props.subscriptionIdentifier, 77)
})

t.test('mqtt v5 properties - an expired message is not delivered', async (t) => {
  const gw = await startTestGateway(t)
  const pub = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5 })
  await pub.publishAsync('exp/r', 'short', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } })
  await pub.publishAsync('exp/r2', 'long', { qos: 1, retain: true, properties: { messageExpiryInterval: 600 } })
  await waitFor(() => {
    const v = gw.gateway.ledger.getMeta('retained', 'public/default/exp/r') as { props?: { expiresAt?: number } } | undefined
    return v?.props?.expiresAt !== undefined && v.props.expiresAt < Date.now()
  }, { what: 'retained message expired' })
  const sub = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5 })
  const box = collect(sub)
  await sub.subscribeAsync('exp/+', { qos: 1 })
  await waitFor(() => box.length >= 1)
  await pub.publishAsync('exp/sync', 'x', { qos: 1 })
  await waitFor(() => box.some((m) => m.topic === 'exp/sync'))
  t.same(box.map((m) => m.topic).sort(), ['exp/r2', 'exp/sync'])
})

t.test('mqtt v5 properties - no local, topic aliases both ways, maximum packet size', async (t) => {
  const gw = await startTestGateway(t)
  const self = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5, clientId: 'nl' })
  const box = collect(self)
  await self.subscribeAsync('nl/t', { qos: 1, nl: true })
  await self.subscribeAsync('nl/all', { qos: 1 })
  await self.publishAsync('nl/t', 'mine', { qos: 1 })
  const other = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5 })
  await other.publishAsync('nl/t', 'theirs', { qos: 1 })
  await self.publishAsync('nl/all', 'sync', { qos: 1 })
  await waitFor(() => box.some((m) => m.topic === 'nl/all'))
  await waitFor(() => box.some((m) => m.payload.toString() === 'theirs'))
  t.same(box.filter((m) => m.topic === 'nl/t').map((m) => m.payload.toString()), ['theirs'], 'own message not echoed [MQTT-3.8.3-3]')

  // Inbound alias: first publish sets alias 1, the second uses only the alias.
  const raw = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'alias-pub' })
  raw.send({ cmd: 'publish', topic: 'alias/in', payload: Buffer.from('1'), qos: 1, messageId: 1, retain: false, dup: false, properties: { topicAlias: 1 } })
  raw.send({ cmd: 'publish', topic: '', payload: Buffer.from('2'), qos: 1, messageId: 2, retain: false, dup: false, properties: { topicAlias: 1 } })
  // Both stored before the subscriber exists: a publish still in its group commit when the subscription is made may
  // land after the subscription's start, and be delivered (a race of the test, not a broker promise).
  await waitFor(() => raw.packets.filter((p) => p.cmd === 'puback').length === 2, { what: 'two pubacks' })
  // Outbound aliases: a raw subscriber allowing 5 aliases sees the topic once, then only the alias.
  const rs = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'alias-sub', properties: { topicAliasMaximum: 5, maximumPacketSize: 200 } })
  rs.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'alias/in', qos: 0 }] })
  await rs.next('suback')
  raw.send({ cmd: 'publish', topic: '', payload: Buffer.from('3'), qos: 1, messageId: 3, retain: false, dup: false, properties: { topicAlias: 1 } })
  raw.send({ cmd: 'publish', topic: '', payload: Buffer.alloc(500, 0x61), qos: 1, messageId: 4, retain: false, dup: false, properties: { topicAlias: 1 } })
  raw.send({ cmd: 'publish', topic: '', payload: Buffer.from('5'), qos: 1, messageId: 5, retain: false, dup: false, properties: { topicAlias: 1 } })
  await waitFor(() => raw.packets.filter((p) => p.cmd === 'puback').length === 5, { what: 'five pubacks' })
  const got = await waitFor(() => { const g = rs.packets.filter((p) => p.cmd === 'publish'); return g.length >= 2 ? g : undefined })
  t.same(got.map((p) => String(p.payload)), ['3', '5'], 'the 500-byte message exceeds the client maximum packet size and is skipped [MQTT-3.1.2-25]')
  const rawPublishes = rs.raw.filter((b) => ((b[0] as number) >> 4) === 3)
  t.equal(rawPublishes[0]?.readUInt16BE(2), 'alias/in'.length, 'first: topic name + alias')
  t.equal(rawPublishes[1]?.readUInt16BE(2), 0, 'then: empty topic, alias only')
  const bad = await rawConnect(t, gw.ports.mqtt, 5)
  bad.send({ cmd: 'publish', topic: 'x', payload: Buffer.from('1'), qos: 0, retain: false, dup: false, properties: { topicAlias: 1000 } })
  await bad.waitClosed()
  t.equal((await bad.next('disconnect')).reasonCode, 0x94, 'alias above our maximum: 0x94')
})

t.test('mqtt v5 properties - ferry-* controls map to message props; bad ones get a reason code', async (t) => {
  const gw = await startTestGateway(t)
  const sub = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5 })
  const box = collect(sub)
  await sub.subscribeAsync('fc', { qos: 1 })
  const pub = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5 })
  await pub.publishAsync('fc', 'delayed', { qos: 1, properties: { userProperties: { 'ferry-delay-ms': '400', 'ferry-key': 'k1' } } })
  const stored = await gw.gateway.ledger.readOne('public/default/fc', 0)
  t.equal(stored?.props.key, 'k1', 'ferry-key → props.key')
  t.ok((stored?.props.deliverAt ?? 0) > (stored?.publishTime ?? Infinity), 'ferry-delay-ms → props.deliverAt after the publish time')
  await waitFor(() => box.length === 1, { what: 'delayed delivery' })
  t.equal((box[0]?.packet.properties?.userProperties as Record<string, string>)['ferry-key'], 'k1', 'controls stay as user properties')
  const raw = await rawConnect(t, gw.ports.mqtt, 5)
  raw.send({ cmd: 'publish', topic: 'fc', payload: Buffer.from('x'), qos: 1, messageId: 3, retain: false, dup: false, properties: { userProperties: { 'ferry-priority': 'high' } } })
  const ack = await raw.next('puback')
  t.equal(ack.reasonCode, 0x83, 'E_BAD_REQUEST → 0x83 Implementation specific error')
  const r3 = await rawConnect(t, gw.ports.mqtt, 4)
  const enc = encodePublish({ topic: 'fc', qos: 1, retain: false, dup: false, packetId: 1, payload: Buffer.from('x') }, 4)
  r3.write(enc)
  await r3.next('puback')
  t.pass('3.1.1 publish acknowledged')
})

t.test('mqtt v5 properties - expiry is checked at hand-out: a message that expires while it waits for the window is never sent', async (t) => {
  const gw = await startTestGateway(t)
  const s = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'exp-window', properties: { receiveMaximum: 1 } })
  s.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'exw/a', qos: 1 }, { topic: 'exw/b', qos: 1 }] })
  await s.next('suback')
  const pub = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5 })
  await pub.publishAsync('exw/a', 'holds-the-window', { qos: 1 })
  const first = await s.next('publish')
  await pub.publishAsync('exw/b', 'expires-waiting', { qos: 1, properties: { messageExpiryInterval: 1 } })
  const publishedAt = Date.now()
  await waitFor(() => Date.now() - publishedAt > 1500, { timeoutMs: 10_000, what: 'the waiting message expires' })
  s.send({ cmd: 'puback', messageId: first.messageId as number, reasonCode: 0 })
  await pub.publishAsync('exw/b', 'after', { qos: 1 })
  const next = await s.next('publish', s.packets.indexOf(first) + 1)
  t.equal(String(next.payload), 'after', 'the expired one was skipped [MQTT-3.3.2-5]')
  t.notOk(s.packets.some((p) => p.cmd === 'publish' && String(p.payload) === 'expires-waiting'))
  s.send({ cmd: 'puback', messageId: next.messageId as number, reasonCode: 0 })
})
