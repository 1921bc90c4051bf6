import t from 'tap'
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { pkiLayout, rotateAtRestKey } from '../../pki/index.js'
import { collect, connectMqtt, startTestGateway, ensureTestPki, type TestGateway } from '../helpers/gateway.js'
import { httpRequest, topicPath } from '../helpers/http.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'
import type { TapTest } from '../helpers/tap-test.js'

/** Key id of a stored record (envelope: version, flags, key id length, key id), or '-' when not encrypted. */
function keyIdOf (raw: Buffer): string {
  if (raw[0] !== 1 || ((raw[1] as number) & 0x04) === 0) return '-'
  return raw.subarray(3, 3 + (raw[2] as number)).toString('ascii')
}

async function raw (gw: TestGateway, topic: string): Promise<Buffer[]> {
  return (await gw.gateway.ledger.read(topic, 0, { maxEntries: 1000 })).map((e) => e.payload)
}

async function pullAll (gw: TestGateway, topic: string, sub: string, want: number): Promise<string[]> {
  const r = await httpRequest(gw.urls.http, 'GET', `${topicPath(topic)}/subscriptions/${sub}/messages?waitMs=3000&max=${want}&position=earliest`)
  return (r.json?.messages ?? []).map((m: { payload: string }) => m.payload)
}

async function setup (t: TapTest): Promise<{ gw: TestGateway, pkiDir: string }> {
  const tmp = await tmpDir('ferry-at-rest-')
  t.teardown(tmp.cleanup)
  const { pkiDir } = await ensureTestPki(`${tmp.dir}/pki`)
  const gw = await startTestGateway(t, {
    pkiDir,
    namespaces: {
      'public/default': { encryptAtRest: true, compression: 'brotli' },
      'public/def': { compression: 'deflate' },
      'public/enc': { encryptAtRest: true },
      'public/plain': {}
    }
  })
  return { gw, pkiDir }
}

t.test('security at rest - compress then encrypt per namespace; MQTT and HTTP read plaintext back, in order, large payloads included', async (t) => {
  const { gw } = await setup(t)
  const sub = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5, clientId: 'ar-sub' })
  const box = collect(sub)
  await sub.subscribeAsync('doc/#', { qos: 1 })
  const pub = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5, clientId: 'ar-pub' })
  const big = 'all work and no play '.repeat(10_000) // 210 kB: compressed on zlib's threadpool
  const sent = ['small-1', big, 'small-2', big.toUpperCase(), 'small-3']
  await Promise.all(sent.map(async (p) => await pub.publishAsync('doc/a', p, { qos: 1 })))
  await waitFor(() => box.length === sent.length)
  t.same(box.map((m) => m.payload.toString()), sent, 'plaintext delivered, in publish order')
  t.same(box.map((m) => m.packet.properties?.userProperties?.['ferry-codec']), sent.map(() => undefined), 'the codec marker is not delivered')

  const stored = await raw(gw, 'public/default/doc/a')
  t.equal(stored.length, sent.length)
  for (const [i, r] of stored.entries()) {
    t.equal(keyIdOf(r), 'k1', `record ${i} sealed with k1`)
    t.notOk(r.includes(Buffer.from('small')) || r.includes(Buffer.from('all work')), `record ${i}: no plaintext on disk`)
  }
  t.ok((stored[1] as Buffer).length < big.length / 20, 'compressed before encryption')

  await httpRequest(gw.urls.http, 'POST', `${topicPath('public/def/x')}/messages`, { body: big })
  const def = await raw(gw, 'public/def/x')
  t.equal(keyIdOf(def[0] as Buffer), '-', 'compression only: not encrypted')
  t.ok((def[0] as Buffer).length < big.length / 20)
  t.same(await pullAll(gw, 'public/def/x', 's', 1), [big], 'HTTP pull reads it back')
  await httpRequest(gw.urls.http, 'POST', `${topicPath('public/plain/x')}/messages`, { body: 'as is' })
  t.same(await raw(gw, 'public/plain/x'), [Buffer.from('as is')], 'no policy: stored as sent')
})

t.test('security at rest - key rotation: old records keep their key; a missing or wrong key is an error, never garbage', async (t) => {
  const { gw, pkiDir } = await setup(t)
  const l = pkiLayout(pkiDir)
  const post = async (body: string): Promise<void> => { t.equal((await httpRequest(gw.urls.http, 'POST', `${topicPath('public/enc/t')}/messages`, { body })).status, 201) }
  await post('one')
  t.equal(await rotateAtRestKey(l), 'k2')
  await gw.gateway.security.refresh()
  await post('two')
  t.same((await raw(gw, 'public/enc/t')).map(keyIdOf), ['k1', 'k2'])
  t.same(await pullAll(gw, 'public/enc/t', 'both', 2), ['one', 'two'], 'both keys read')

  // Survives a restart (keys from the PKI dir).
  await gw.restart()
  t.same(await pullAll(gw, 'public/enc/t', 'after-restart', 2), ['one', 'two'])

  // k1 lost: its record is not delivered; k2's is.
  const doc = JSON.parse(await readFile(l.atRestKeys, 'utf8')) as { current: string, keys: Record<string, string> }
  await writeFile(l.atRestKeys, JSON.stringify({ current: 'k2', keys: { k2: doc.keys.k2 } }))
  await gw.gateway.security.refresh()
  t.same(await pullAll(gw, 'public/enc/t', 'missing', 2), ['two'], 'the record of the missing key is withheld')
  // k2 replaced by another key: GCM refuses it.
  await writeFile(l.atRestKeys, JSON.stringify({ current: 'k2', keys: { k2: randomBytes(32).toString('base64') } }))
  await gw.gateway.security.refresh()
  t.same(await pullAll(gw, 'public/enc/t', 'wrong', 2), [], 'a wrong key delivers nothing')
  t.ok(gw.gateway.security.stats().codec.failed >= 3, 'failures counted')
})

t.test('security at rest - a client cannot make the gateway decode its bytes (reserved ferry-codec property)', async (t) => {
  const { gw } = await setup(t)
  const c = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5, clientId: 'forger' })
  const box = collect(c)
  await c.subscribeAsync('f', { qos: 1 })
  // public/default encrypts: the forged marker must not confuse the codec.
  await c.publishAsync('f', Buffer.from([1, 4, 2, 0x6b, 0x31, 9, 9, 9]), { qos: 1, properties: { userProperties: { 'ferry-codec': '1', other: 'kept' } } })
  await waitFor(() => box.length === 1)
  t.same([...(box[0]?.payload ?? [])], [1, 4, 2, 0x6b, 0x31, 9, 9, 9], 'bytes delivered as sent')
  const up = box[0]?.packet.properties?.userProperties ?? {}
  t.equal(up.other, 'kept', 'other properties kept')
  t.equal(up['ferry-codec'], undefined, 'the reserved property is dropped')
})
