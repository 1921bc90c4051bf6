import t from 'tap'
import tls from 'node:tls'
import { copyFile, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { initPki, issueClientCert, issueSiteCert, loadCa, pkiLayout, revoke, siteCertFiles } from '../../pki/index.js'
import { httpRequest, topicPath } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'
import { startSecureGateway, storedTopics, token, tryMqtt } from './helpers.js'

t.test('security mtls - a client certificate authenticates on MQTT/TLS; identity and namespace from the subject and username', async (t) => {
  const gw = await startSecureGateway(t)
  const ca = await loadCa(gw.pkiDir)
  const dev = await issueClientCert(ca, 'acme/sensor-1')
  const cert = await readFile(dev.certFile)
  const key = await readFile(dev.keyFile)

  const c = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 5, clientId: 'cert1', cert, key, username: 'acme/orders' })
  if (!c.ok) throw new Error(`certificate client must connect: ${c.message}`)
  await c.client.publishAsync('reading', '1', { qos: 1 })
  t.same(storedTopics(gw), ['acme/orders/reading'])

  const other = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 5, clientId: 'cert2', cert, key, username: 'globex/orders' })
  t.same(other.ok ? 'connected' : other.code, 0x87, 'another tenant\'s namespace: 0x87')
  const v4 = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 4, clientId: 'cert3', cert, key, username: 'globex/orders' })
  t.same(v4.ok ? 'connected' : v4.code, 5, '3.1.1: rc 5')

  // A site certificate is not a client identity.
  const site = siteCertFiles(pkiLayout(gw.pkiDir), 'test')
  const s = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 5, clientId: 'site', cert: await readFile(site.certFile), key: await readFile(site.keyFile) })
  t.same(s.ok ? 'connected' : s.code, 0x86)

  // A certificate of another network: the handshake still completes (token clients send none), the CONNECT is refused.
  const tmpPki = join(gw.dataDir, 'other-pki')
  await initPki(tmpPki)
  const foreign = await issueClientCert(await loadCa(tmpPki), 'acme/sensor-1')
  const f = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 5, clientId: 'foreign', cert: await readFile(foreign.certFile), key: await readFile(foreign.keyFile) })
  t.same(f.ok ? 'connected' : f.code, 0x86)
  t.same(storedTopics(gw), ['acme/orders/reading'], 'nothing else stored')
})

t.test('security live - revocation: open connections close (v5 DISCONNECT 0x87), new ones and HTTP requests are refused', async (t) => {
  const gw = await startSecureGateway(t, { pkiPollIntervalMs: 500 })
  const tok = await token(gw)
  const keep = await token(gw)
  const ca = await loadCa(gw.pkiDir)
  const dev = await issueClientCert(ca, 'acme/sensor-2')

  const v5 = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 5, clientId: 'rv5', password: tok.token })
  const v4 = await tryMqtt(t, gw, gw.urls.wss, { protocolVersion: 4, clientId: 'rv4', password: tok.token })
  const other = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 5, clientId: 'keep', password: keep.token })
  const byCert = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 5, clientId: 'rvc', cert: await readFile(dev.certFile), key: await readFile(dev.keyFile) })
  if (!v5.ok || !v4.ok || !other.ok || !byCert.ok) throw new Error('all must connect first')
  const reasons: number[] = []
  v5.client.on('disconnect', (p) => { reasons.push(p.reasonCode ?? -1) })
  let v4Closed = false
  v4.client.on('close', () => { v4Closed = true })
  const ok = await httpRequest(gw.urls.https, 'POST', `${topicPath('acme/orders/a')}/messages`, { headers: { authorization: `Bearer ${tok.token}` }, body: 'x', ca: gw.caPem })
  t.equal(ok.status, 201)

  // The operator revokes with the PKI dir; the gateway only watches the file (polled every 500 ms: within the 2 s promise).
  await revoke(pkiLayout(gw.pkiDir), tok.id)
  await revoke(pkiLayout(gw.pkiDir), dev.serial)
  await waitFor(() => reasons.length > 0 && v4Closed, { what: 'revoked connections closed' })
  t.same(reasons, [0x87], 'v5 DISCONNECT 0x87 Not authorized')
  await waitFor(() => !byCert.client.connected, { what: 'certificate connection closed' })
  t.equal(other.client.connected, true, 'a connection with another credential stays')

  const again = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 5, clientId: 'rv5b', password: tok.token })
  t.same(again.ok ? 'connected' : again.code, 0x86)
  const r = await httpRequest(gw.urls.https, 'POST', `${topicPath('acme/orders/a')}/messages`, { headers: { authorization: `Bearer ${tok.token}` }, body: 'x', ca: gw.caPem })
  t.equal(r.status, 401, 'HTTP: the cached token is revoked too')
  t.ok((gw.gateway.security.stats().auth?.revokedClosed ?? 0) >= 3)
})

t.test('security live - certificate rotation without restart keeps open connections', async (t) => {
  const gw = await startSecureGateway(t)
  const tok = await token(gw)
  const before = await tryMqtt(t, gw, gw.urls.mqtts, { protocolVersion: 5, clientId: 'rot', password: tok.token })
  const beforeWs = await tryMqtt(t, gw, gw.urls.wss, { protocolVersion: 5, clientId: 'rot-ws', password: tok.token })
  if (!before.ok || !beforeWs.ok) throw new Error('must connect')
  const serialOf = async (port = gw.ports.mqtts): Promise<string> => await new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: gw.caPem, servername: 'localhost' })
    s.once('secureConnect', () => { const serial = s.getPeerCertificate().serialNumber; s.destroy(); resolve(serial) })
    s.once('error', reject)
  })
  const old = await serialOf()
  t.equal(await serialOf(gw.ports.https), old, 'HTTPS serves the same site certificate')
  const beforeWsTopic = 'after-rotation-ws'
  // A new certificate for the same site name (the operator re-issues under another name and moves it in place).
  const fresh = await issueSiteCert(await loadCa(gw.pkiDir), 'test_next')
  const l = pkiLayout(gw.pkiDir)
  const target = siteCertFiles(l, 'test')
  await copyFile(fresh.keyFile, target.keyFile)
  await copyFile(fresh.certFile, target.certFile)
  await waitFor(async () => (await serialOf()) !== old, { what: 'new certificate served' })
  t.equal((await serialOf()).toLowerCase(), fresh.serial.toLowerCase(), 'new handshakes get the new certificate')
  t.equal(before.client.connected, true, 'the open MQTT/TLS connection was not dropped')
  t.equal(beforeWs.client.connected, true, 'the open secure WebSocket was not dropped')
  await before.client.publishAsync('after-rotation', 'x', { qos: 1 })
  await beforeWs.client.publishAsync(beforeWsTopic, 'x', { qos: 1 })
  // HTTPS (uWebSockets.js) rotates live too (a second SSLApp on the same port): test/security/rotation.test.ts.
  await waitFor(async () => (await serialOf(gw.ports.https)).toLowerCase() === fresh.serial.toLowerCase(), { what: 'HTTPS serves the new certificate' })
  t.same(storedTopics(gw), ['acme/orders/after-rotation', 'acme/orders/after-rotation-ws'])
})
