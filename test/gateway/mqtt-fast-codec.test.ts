/**
 * The hot path's own PUBLISH/PUBACK decoder and PUBACK encoder
 * (gateway/mqtt/fast-codec.ts) must give exactly what mqtt-packet gives for
 * the shapes they take, and leave every other shape to mqtt-packet.
 */
import t from 'tap'
import mqttPacket from 'mqtt-packet'
import type { Packet } from 'mqtt-packet'
import { encodePubackSuccess, encodePubacksSuccess, fastDecode } from '../../gateway/mqtt/fast-codec.js'
import { createPacketParser, generate } from '../../gateway/mqtt/codec.js'

type Version = 3 | 4 | 5

/** What mqtt-packet makes of `bytes` after a CONNECT of `version`. */
function viaMqttPacket (bytes: Buffer, version: Version): Packet {
  const parser = mqttPacket.parser()
  let got: Packet | undefined
  parser.on('packet', (p: Packet) => { got = p })
  parser.on('error', (e: Error) => { throw e })
  parser.parse(mqttPacket.generate({ cmd: 'connect', clientId: 'c', protocolVersion: version, protocolId: version === 3 ? 'MQIsdp' : 'MQTT' }, { protocolVersion: version }))
  got = undefined
  parser.parse(bytes)
  if (got === undefined) throw new Error('mqtt-packet parsed nothing')
  return got
}

function plain (p: unknown): unknown {
  const o = { ...(p as Record<string, unknown>) }
  if (Buffer.isBuffer(o.payload)) o.payload = (o.payload as Buffer).toString('hex')
  return o
}

t.test('fast codec - PUBLISH decodes as mqtt-packet does', async (t) => {
  const cases: Array<{ v: Version, p: Record<string, unknown> }> = [
    { v: 4, p: { cmd: 'publish', topic: 'a/b', qos: 0, retain: false, dup: false, payload: Buffer.from('x') } },
    { v: 4, p: { cmd: 'publish', topic: 'a/b', qos: 1, retain: true, dup: true, messageId: 65535, payload: Buffer.alloc(300, 7) } },
    { v: 3, p: { cmd: 'publish', topic: 'x', qos: 2, retain: false, dup: false, messageId: 1, payload: Buffer.alloc(0) } },
    { v: 4, p: { cmd: 'publish', topic: 'ünï/çødé', qos: 1, retain: false, dup: false, messageId: 9, payload: Buffer.alloc(20000, 3) } },
    { v: 5, p: { cmd: 'publish', topic: 't/1', qos: 1, retain: false, dup: false, messageId: 42, payload: Buffer.from('hello') } },
    { v: 5, p: { cmd: 'publish', topic: 't/1', qos: 0, retain: true, dup: false, payload: Buffer.from('') } }
  ]
  for (const c of cases) {
    const bytes = mqttPacket.generate(c.p as unknown as Packet, { protocolVersion: c.v })
    const fast = fastDecode(bytes, c.v)
    t.ok(fast !== undefined, `fast path taken: v${c.v} qos ${String(c.p.qos)}`)
    t.same(plain(fast), plain(viaMqttPacket(bytes, c.v)), `same packet: v${c.v} ${String(c.p.topic)} qos ${String(c.p.qos)}`)
  }
})

t.test('fast codec - PUBACK decodes as mqtt-packet does', async (t) => {
  const cases: Array<{ v: Version, p: Record<string, unknown> }> = [
    { v: 4, p: { cmd: 'puback', messageId: 7 } },
    { v: 5, p: { cmd: 'puback', messageId: 8, reasonCode: 0 } },
    { v: 5, p: { cmd: 'puback', messageId: 9, reasonCode: 0x80 } },
    { v: 5, p: { cmd: 'puback', messageId: 10, reasonCode: 0x10 } }
  ]
  for (const c of cases) {
    const bytes = mqttPacket.generate(c.p as unknown as Packet, { protocolVersion: c.v })
    const fast = fastDecode(bytes, c.v)
    t.ok(fast !== undefined, `fast path taken: v${c.v} ${bytes.toString('hex')}`)
    t.same(plain(fast), plain(viaMqttPacket(bytes, c.v)), `same packet: ${bytes.toString('hex')}`)
  }
})

t.test('fast codec - other shapes are left to mqtt-packet', async (t) => {
  const v5WithProps = mqttPacket.generate({ cmd: 'publish', topic: 't', qos: 1, messageId: 1, retain: false, dup: false, payload: Buffer.from('p'), properties: { contentType: 'text/plain' } }, { protocolVersion: 5 })
  t.equal(fastDecode(v5WithProps, 5), undefined, 'v5 PUBLISH with properties')
  const v5AckWithProps = mqttPacket.generate({ cmd: 'puback', messageId: 3, reasonCode: 0x80, properties: { reasonString: 'no' } }, { protocolVersion: 5 })
  t.equal(fastDecode(v5AckWithProps, 5), undefined, 'v5 PUBACK with properties')
  t.equal(fastDecode(Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]), 4), undefined, 'QoS 3 (both bits set)')
  t.equal(fastDecode(Buffer.from([0x42, 0x02, 0x00, 0x01]), 4), undefined, 'PUBACK with reserved flags set')
  t.equal(fastDecode(Buffer.from([0x40, 0x03, 0x00, 0x01, 0x05]), 5), undefined, 'v5 PUBACK with an unknown reason code')
  t.equal(fastDecode(Buffer.from([0x30, 0x03, 0x00, 0x09, 0x61]), 4), undefined, 'topic length past the packet')
  t.equal(fastDecode(Buffer.from([0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00]), 4), undefined, 'SUBSCRIBE')
})

t.test('fast codec - the parser gives the same errors as before for bad PUBLISH/PUBACK', async (t) => {
  const parser = createPacketParser()
  parser.parseOne(mqttPacket.generate({ cmd: 'connect', clientId: 'c', protocolVersion: 5 }, { protocolVersion: 5 }))
  t.ok(parser.parseOne(Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01])) instanceof Error, 'QoS 3 is an error')
  t.ok(parser.parseOne(Buffer.from([0x40, 0x03, 0x00, 0x01, 0x05])) instanceof Error, 'bad v5 PUBACK reason is an error')
  const ok = parser.parseOne(mqttPacket.generate({ cmd: 'publish', topic: 't', qos: 1, messageId: 5, retain: false, dup: false, payload: Buffer.from('p') }, { protocolVersion: 5 }))
  t.notOk(ok instanceof Error, 'a good PUBLISH after errors parses')
  t.equal((ok as { messageId: number }).messageId, 5)
})

t.test('fast codec - PUBACK success encodes to what every version parses', async (t) => {
  for (const v of [3, 4, 5] as const) {
    const bytes = generate({ cmd: 'puback', messageId: 513, reasonCode: 0 }, v)
    t.same(bytes, encodePubackSuccess(513), `v${v} uses the 4-byte form`)
    const back = viaMqttPacket(bytes, v) as { cmd: string, messageId: number, reasonCode?: number }
    t.equal(back.cmd, 'puback')
    t.equal(back.messageId, 513)
    if (v === 5) t.equal(back.reasonCode, 0, 'v5: a missing reason code means 0x00 (3.4.2.1)')
  }
  const refused = generate({ cmd: 'puback', messageId: 1, reasonCode: 0x97, properties: { reasonString: 'quota' } }, 5)
  t.ok(refused.length > 4, 'a refusal still carries its reason code and string')
})

t.test('mqtt fast codec - successful PUBACKs gathered in one buffer are the single ones back to back, in order', async (t) => {
  const ids = [1, 255, 256, 513, 65535]
  t.same(encodePubacksSuccess(ids), Buffer.concat(ids.map((id) => encodePubackSuccess(id))))
  t.equal(encodePubacksSuccess([]).length, 0)
})
