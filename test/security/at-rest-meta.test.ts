import t from 'tap'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isSealedMeta } from '../../gateway/codec/index.js'
import { MetaSpace } from '../../store/index.js'
import { pkiLayout, rotateAtRestKey } from '../../pki/index.js'
import mqtt, { type MqttClient } from 'mqtt'
import { collect, connectMqtt, ensureTestPki, startTestGateway, type TestGateway } from '../helpers/gateway.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'
import type { TapTest } from '../helpers/tap-test.js'

/** Every file under `dir`, concatenated (segments, meta log, checkpoints, cursors). */
async function rawBytes (dir: string): Promise<Buffer> {
  const out: Buffer[] = []
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(await readFile(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)))
  }
  return Buffer.concat(out)
}

/** Connect a persistent session; resolves with the client and the CONNACK's session present flag. */
async function connectSession (t: TapTest, gw: TestGateway, clientId: string): Promise<{ client: MqttClient, present: boolean }> {
  const client = mqtt.connect(gw.urls.mqtt, { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 3600 }, reconnectPeriod: 0, connectTimeout: 10_000 })
  t.teardown(async () => { await client.endAsync(true).catch(() => undefined) })
  const present = await new Promise<boolean>((resolve, reject) => {
    client.once('connect', (ack) => { resolve(ack.sessionPresent) })
    client.once('error', reject)
  })
  return { client, present }
}

const SECRET_RETAINED = 'RETAINED-SECRET-PAYLOAD-7f3a'
const SECRET_RETAINED_2 = 'RETAINED-AFTER-ROTATION-91c2'

async function setup (t: TapTest): Promise<{ gw: TestGateway, pkiDir: string }> {
  const tmp = await tmpDir('ferry-at-rest-meta-')
  t.teardown(tmp.cleanup)
  const { pkiDir } = await ensureTestPki(`${tmp.dir}/pki`)
  // Dev mode: anonymous clients are bound to public/default, which encrypts at rest.
  const gw = await startTestGateway(t, { pkiDir, namespaces: { 'public/default': { encryptAtRest: true } } })
  return { gw, pkiDir }
}

t.test('security at rest - retained copies and MQTT session records are encrypted; after a restart both still work', async (t) => {
  const { gw, pkiDir } = await setup(t)
  const pub = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5, clientId: 'meta-pub' })
  await pub.publishAsync('rt/a', SECRET_RETAINED, { qos: 1, retain: true, properties: { contentType: 'text/secret' } })
  // A persistent session with a subscription, then gone: its record stays in the ledger.
  const s1 = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5, clientId: 'meta-sess', clean: false, properties: { sessionExpiryInterval: 3600 } })
  await s1.subscribeAsync('sess/+/x', { qos: 1 })
  await s1.endAsync()
  await waitFor(() => {
    const v = gw.gateway.ledger.getMeta(MetaSpace.mqttSession, 'meta-sess')
    return isSealedMeta(v) // the record written at detach (disconnectedAtMs set) is sealed too
  }, { what: 'session record sealed' })
  const retained = gw.gateway.ledger.getMeta(MetaSpace.retained, 'public/default/rt/a') as Record<string, unknown>
  t.ok(isSealedMeta(retained.sealed as never), 'the retained value is sealed')

  await gw.close()
  const bytes = await rawBytes(gw.dataDir)
  t.notOk(bytes.includes(Buffer.from(SECRET_RETAINED)), 'the retained payload is nowhere in the data dir in plaintext')
  t.notOk(bytes.includes(Buffer.from('disconnectedAtMs')) || bytes.includes(Buffer.from('expirySec')), 'no session record in plaintext')
  t.ok(bytes.includes(Buffer.from('publishTime')), 'control: the scan reads the metadata files (the retained entry id and time stay plain)')

  // Restart: the retained message and the session work.
  await gw.restart()
  const reader = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5, clientId: 'meta-reader' })
  const got = collect(reader)
  await reader.subscribeAsync('rt/#', { qos: 1 })
  await waitFor(() => got.length === 1, { what: 'retained message delivered after restart' })
  t.equal(got[0]?.payload.toString(), SECRET_RETAINED)
  t.equal(got[0]?.packet.retain, true)
  t.equal(got[0]?.packet.properties?.contentType, 'text/secret', 'props kept')

  const { client: s2, present } = await connectSession(t, gw, 'meta-sess')
  const box = collect(s2)
  t.equal(present, true, 'the session is present after the restart')
  const pub2 = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5, clientId: 'meta-pub2' })
  await pub2.publishAsync('sess/1/x', 'to the session', { qos: 1 })
  await waitFor(() => box.length === 1, { what: 'the restored subscription delivers' })
  t.equal(box[0]?.payload.toString(), 'to the session')

  // Key rotation: the old value keeps its key; a new retained copy is sealed with the new one; both read after a restart.
  t.equal(await rotateAtRestKey(pkiLayout(pkiDir)), 'k2')
  await gw.gateway.security.refresh()
  await pub2.publishAsync('rt/b', SECRET_RETAINED_2, { qos: 1, retain: true })
  await gw.restart()
  const r2 = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5, clientId: 'meta-reader2' })
  const got2 = collect(r2)
  await r2.subscribeAsync('rt/#', { qos: 1 })
  await waitFor(() => got2.length === 2, { what: 'both retained messages after rotation' })
  t.same(got2.map((m) => m.payload.toString()).sort(), [SECRET_RETAINED, SECRET_RETAINED_2].sort())
})

t.test('security at rest - a retained copy or session record whose key is missing is not delivered as garbage, nor restored', async (t) => {
  const { gw, pkiDir } = await setup(t)
  const pub = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5, clientId: 'mk-pub' })
  await pub.publishAsync('rt/k', 'sealed with k1', { qos: 1, retain: true })
  const s1 = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5, clientId: 'mk-sess', clean: false, properties: { sessionExpiryInterval: 3600 } })
  await s1.subscribeAsync('mk/#', { qos: 1 })
  await s1.endAsync()
  const l = pkiLayout(pkiDir)
  await rotateAtRestKey(l)
  // k1 lost.
  const doc = JSON.parse(await readFile(l.atRestKeys, 'utf8')) as { current: string, keys: Record<string, string> }
  await writeFile(l.atRestKeys, JSON.stringify({ current: 'k2', keys: { k2: doc.keys.k2 } }))
  await gw.restart()
  const reader = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5, clientId: 'mk-reader' })
  const got = collect(reader)
  await reader.subscribeAsync('rt/#', { qos: 1 })
  await pub.endAsync(true).catch(() => undefined)
  const pub2 = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5, clientId: 'mk-pub2' })
  await pub2.publishAsync('rt/marker', 'marker', { qos: 1 }) // not retained: ordered after any retained delivery
  await waitFor(() => got.some((m) => m.topic === 'rt/marker'), { what: 'marker delivered' })
  t.same(got.map((m) => m.payload.toString()), ['marker'], 'the retained copy sealed with the lost key is withheld')
  t.ok(gw.gateway.security.stats().metaCodec.failed >= 1, 'the failure is counted')
  const { present } = await connectSession(t, gw, 'mk-sess')
  t.equal(present, false, 'the session whose record does not open is not restored')
})
