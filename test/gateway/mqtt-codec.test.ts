import t from 'tap'
import mqttPacket from 'mqtt-packet'
import { createPacketParser, encodePublish, inspectPublish, publishPacketBytes, inspectFilters } from '../../gateway/mqtt/codec.js'
import { Framer, FrameError } from '../../gateway/mqtt/framer.js'
import { parseSubscriptionFilter, topicMatches, isValidTopicFilter } from '../../gateway/mqtt/topics.js'

/** A v5 PUBLISH with user properties a=1, b=2, a=3 built by hand (mqtt-packet cannot express the order). */
function publishWithOrderedProps (): Buffer {
  return encodePublish({
    topic: 't/1', qos: 1, retain: false, dup: false, packetId: 7, payload: Buffer.from('hi'),
    userProperties: [['a', '1'], ['b', '2'], ['a', '3']], contentType: 'text/plain'
  }, 5)
}

t.test('mqtt codec - user properties keep wire order and repeats', async (t) => {
  const raw = publishWithOrderedProps()
  t.same(inspectPublish(raw, 5).userProperties, [['a', '1'], ['b', '2'], ['a', '3']])
  const parsed = createPacketParser()
  parsed.parseOne(mqttPacket.generate({ cmd: 'connect', clientId: 'x', protocolVersion: 5 }, { protocolVersion: 5 }))
  const p = parsed.parseOne(raw)
  t.notOk(p instanceof Error)
  t.same((p as { properties: { userProperties: unknown } }).properties.userProperties, { a: ['1', '3'], b: '2' }, 'mqtt-packet merges repeats: why we walk raw bytes')
})

t.test('mqtt codec - PUBLISH encoder matches mqtt-packet without user properties', async (t) => {
  const cases = [
    { v: 4 as const, m: { topic: 'a/b', qos: 0 as const, retain: true, dup: false, payload: Buffer.from('x') } },
    { v: 4 as const, m: { topic: 'a/b', qos: 2 as const, retain: false, dup: true, packetId: 300, payload: Buffer.alloc(200, 1) } },
    { v: 5 as const, m: { topic: 'a', qos: 1 as const, retain: false, dup: false, packetId: 1, payload: Buffer.from('p'), messageExpirySec: 30, topicAlias: 3, responseTopic: 'r', correlationData: Buffer.from('c'), payloadFormat: 1 as const, subscriptionIds: [5] } }
  ]
  for (const { v, m } of cases) {
    const ours = encodePublish(m, v)
    t.equal(ours.length, publishPacketBytes(m, v))
    const parser = createPacketParser()
    if (v === 5) parser.parseOne(mqttPacket.generate({ cmd: 'connect', clientId: 'x', protocolVersion: 5 }, { protocolVersion: 5 }))
    const back = parser.parseOne(ours) as { topic: string, qos: number, retain: boolean, dup: boolean, payload: Buffer, messageId?: number, properties?: Record<string, unknown> }
    t.equal(back.topic, m.topic)
    t.equal(back.qos, m.qos)
    t.equal(back.retain, m.retain)
    t.equal(back.dup, m.dup)
    t.same(back.payload, m.payload)
    if (v === 5) {
      t.equal(back.properties?.messageExpiryInterval, 30)
      t.equal(back.properties?.topicAlias, 3)
      t.equal(back.properties?.responseTopic, 'r')
      t.same(back.properties?.subscriptionIdentifier, 5)
    }
  }
})

t.test('mqtt codec - invalid UTF-8 in a topic or filter is malformed', async (t) => {
  const good = encodePublish({ topic: 'ab', qos: 0, retain: false, dup: false, payload: Buffer.alloc(0) }, 4)
  const bad = Buffer.from(good)
  bad[4] = 0xff // first topic byte
  t.throws(() => inspectPublish(bad, 4), { name: 'MalformedPacket' })
  const nul = Buffer.from(good)
  nul[4] = 0
  t.throws(() => inspectPublish(nul, 4), { name: 'MalformedPacket' }, 'U+0000 is refused [MQTT-1.5.4-2]')
  const sub = mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'ab', qos: 0 }] }, { protocolVersion: 4 })
  sub[sub.length - 2] = 0xc3 // truncated two-byte sequence
  t.throws(() => inspectFilters(sub, 4, true), { name: 'MalformedPacket' })
})

t.test('mqtt framer - packets split byte by byte and packed together', async (t) => {
  const a = mqttPacket.generate({ cmd: 'pingreq' })
  const b = publishWithOrderedProps()
  const stream = Buffer.concat([a, b, a, b])
  const got: Buffer[] = []
  const f = new Framer(1024)
  for (let i = 0; i < stream.length; i++) t.equal(f.push(stream.subarray(i, i + 1), (p) => { got.push(Buffer.from(p)); return true }), undefined)
  t.same(got, [a, b, a, b])
  const packed: Buffer[] = []
  const g = new Framer(1024)
  g.push(stream, (p) => { packed.push(Buffer.from(p)); return true })
  t.same(packed, [a, b, a, b])
})

t.test('mqtt framer - oversized and bad length refused before buffering', async (t) => {
  const f = new Framer(100)
  t.equal(f.push(Buffer.from([0x30, 0xe8, 0x07]), () => true), FrameError.tooLarge, '1000-byte remaining length > 100')
  const g = new Framer(100)
  t.equal(g.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), () => true), FrameError.malformedLength)
})

t.test('mqtt topics - filters, matching, shared prefixes', async (t) => {
  t.ok(topicMatches('a/+/c', 'a/b/c'))
  t.ok(topicMatches('a/#', 'a'))
  t.ok(topicMatches('#', '/x'))
  t.notOk(topicMatches('#', '$SYS/x'), 'leading wildcard skips $ topics [MQTT-4.7.2-1]')
  t.notOk(topicMatches('+/x', '$a/x'))
  t.ok(topicMatches('$a/+', '$a/x'))
  t.notOk(isValidTopicFilter('a/#/b'))
  t.notOk(isValidTopicFilter('a+'))
  t.same(parseSubscriptionFilter('$share/g1/a/+'), { raw: '$share/g1/a/+', filter: 'a/+', mode: 'shared', group: 'g1' })
  t.equal(parseSubscriptionFilter('$failover/g/x')?.mode, 'failover')
  t.equal(parseSubscriptionFilter('$keyshared/g/x')?.mode, 'key_shared')
  t.equal(parseSubscriptionFilter('$exclusive/g/x')?.mode, 'exclusive')
  t.equal(parseSubscriptionFilter('$share//x'), undefined)
  t.equal(parseSubscriptionFilter('$share/g+/x'), undefined)
  t.equal(parseSubscriptionFilter('a/b')?.group, undefined)
})
