import t from 'tap'
import https from 'node:https'
import tls from 'node:tls'
import { copyFile } from 'node:fs/promises'
import { issueSiteCert, loadCa, pkiLayout, siteCertFiles } from '../../pki/index.js'
import { waitFor } from '../helpers/wait.js'
import { startSecureGateway, storedTopics, token, tryMqtt, type SecureGateway } from './helpers.js'

/** Serial of the certificate a new TLS handshake on `port` gets. */
async function serialOf (gw: SecureGateway, port: number): Promise<string> {
  return await new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: gw.caPem, servername: 'localhost' })
    s.once('secureConnect', () => { const serial = s.getPeerCertificate().serialNumber; s.destroy(); resolve(serial.toLowerCase()) })
    s.once('error', reject)
  })
}

/** One GET over a keep-alive agent: the status, the local port of the socket used (same port = same connection) and its certificate serial. */
async function keepAliveGet (gw: SecureGateway, agent: https.Agent, path: string): Promise<{ status: number, localPort: number, serial: string }> {
  return await new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: gw.ports.https, path, agent, ca: gw.caPem, servername: 'localhost' }, (res) => {
      const socket = res.socket as tls.TLSSocket
      const localPort = socket.localPort ?? 0
      const serial = socket.getPeerCertificate().serialNumber.toLowerCase()
      res.resume()
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, localPort, serial }) })
    })
    req.on('error', reject)
    req.end()
  })
}

/** Re-issue the site certificate of `test` (under another name, moved in place: key first, then certificate). */
async function replaceSiteCert (gw: SecureGateway, tempName: string): Promise<string> {
  const fresh = await issueSiteCert(await loadCa(gw.pkiDir), tempName)
  const target = siteCertFiles(pkiLayout(gw.pkiDir), 'test')
  await copyFile(fresh.keyFile, target.keyFile)
  await copyFile(fresh.certFile, target.certFile)
  return fresh.serial.toLowerCase()
}

t.test('security rotation - HTTPS/WSS take a new certificate live: open keep-alive and WebSocket connections stay, new ones see the new serial, none refused', async (t) => {
  const gw = await startSecureGateway(t)
  const tok = await token(gw)
  const ws = await tryMqtt(t, gw, gw.urls.wss, { protocolVersion: 5, clientId: 'rot-wss', password: tok.token })
  if (!ws.ok) throw new Error(`WSS client must connect: ${ws.message}`)
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => { agent.destroy() })
  const first = await keepAliveGet(gw, agent, '/healthz')
  t.equal(first.status, 200)
  const oldSerial = await serialOf(gw, gw.ports.https)
  t.equal(first.serial, oldSerial)

  // New connections, one after the other, all through the switch: every one must connect (no ECONNREFUSED).
  const errors: string[] = []
  const served = new Set<string>()
  let hammering = true
  const hammer = (async () => {
    while (hammering) {
      try { served.add(await serialOf(gw, gw.ports.https)) } catch (err) { errors.push(String((err as NodeJS.ErrnoException).code ?? err)) }
    }
  })()

  const newSerial = await replaceSiteCert(gw, 'test_rot1')
  await waitFor(async () => (await serialOf(gw, gw.ports.https)) === newSerial, { what: 'HTTPS serves the new certificate', timeoutMs: 20_000 })
  await waitFor(() => served.has(newSerial), { what: 'the hammer saw the new certificate' })
  hammering = false
  await hammer
  t.same(errors.filter((e) => e === 'ECONNREFUSED'), [], 'no connection refused during the switch')
  t.comment(`${served.size} certificates seen by ${errors.length === 0 ? 'error-free' : `${errors.length} failed (${errors.join(',')})`} new connections`)

  // The keep-alive connection opened before the rotation is the same connection, still answering (with the old certificate).
  const after = await keepAliveGet(gw, agent, '/healthz')
  t.equal(after.status, 200)
  t.equal(after.localPort, first.localPort, 'the keep-alive connection was kept')
  t.equal(after.serial, oldSerial)
  // The WebSocket MQTT client opened before the rotation still works.
  t.equal(ws.client.connected, true, 'the secure WebSocket was not dropped')
  await ws.client.publishAsync('after-rotation', 'x', { qos: 1 })
  // A new WebSocket client connects on the new certificate.
  const ws2 = await tryMqtt(t, gw, gw.urls.wss, { protocolVersion: 5, clientId: 'rot-wss2', password: tok.token })
  if (!ws2.ok) throw new Error(`new WSS client must connect: ${ws2.message}`)
  await ws2.client.publishAsync('after-rotation-new', 'x', { qos: 1 })
  t.same(storedTopics(gw), ['acme/orders/after-rotation', 'acme/orders/after-rotation-new'])
  t.equal(await serialOf(gw, gw.ports.mqtts), newSerial, 'MQTT/TLS rotated too')

  // A second rotation, through refresh() (what SIGHUP calls) as well as the watch.
  const third = await replaceSiteCert(gw, 'test_rot2')
  await gw.gateway.security.refresh()
  await waitFor(async () => (await serialOf(gw, gw.ports.https)) === third, { what: 'second rotation served' })
  t.equal(ws.client.connected, true, 'the first WebSocket survived two rotations')
  t.equal((await keepAliveGet(gw, agent, '/healthz')).localPort, first.localPort)
})

t.test('security rotation - a certificate that does not match its key is not taken; the current one stays', async (t) => {
  const gw = await startSecureGateway(t)
  const oldSerial = await serialOf(gw, gw.ports.https)
  const other = await issueSiteCert(await loadCa(gw.pkiDir), 'test_mismatch')
  const target = siteCertFiles(pkiLayout(gw.pkiDir), 'test')
  await copyFile(other.certFile, target.certFile) // the key is not replaced
  await gw.gateway.security.refresh()
  t.equal(await serialOf(gw, gw.ports.https), oldSerial, 'HTTPS keeps the current certificate')
  t.equal(await serialOf(gw, gw.ports.mqtts), oldSerial, 'MQTT/TLS keeps the current certificate')
  // Then the key arrives: the pair matches and is taken.
  await copyFile(other.keyFile, target.keyFile)
  await waitFor(async () => (await serialOf(gw, gw.ports.https)) === other.serial.toLowerCase(), { what: 'matching pair taken' })
})
