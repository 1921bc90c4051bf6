import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { copyFile, readFile, writeFile } from 'node:fs/promises'
import https from 'node:https'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { pkiLayout, siteCertFiles } from '../../pki/index.js'
import { httpRequest, topicPath } from '../helpers/http.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor, within } from '../helpers/wait.js'
import { ROOT as root, ferry } from '../helpers/ferry-cli.js'
import { serialOf } from './helpers.js'
import { cliArgs } from '../helpers/cli-build.js'

/** The gateway's exit after SIGTERM/SIGINT (x3 stretch): a stuck close names itself before tap's 240 s timeout. */
const GATEWAY_EXIT_MS_MAX = 20_000




async function keepAliveGet (port: number, ca: string, agent: https.Agent): Promise<{ status: number, localPort: number }> {
  return await new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/healthz', agent, ca, servername: 'localhost' }, (res) => {
      const localPort = res.socket.localPort ?? 0
      res.resume()
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, localPort }) })
    })
    req.on('error', reject)
    req.end()
  })
}

t.test('security sighup - ferry gateway: SIGHUP reloads namespace policies and the site certificate; open connections stay', async (t) => {
  const tmp = await tmpDir('ferry-sighup-')
  t.teardown(tmp.cleanup)
  const dir = join(tmp.dir, 'pki')
  t.equal((await ferry(['pki', 'init', '--dir', dir])).code, 0)
  t.equal((await ferry(['pki', 'site', 'eu1', '--dir', dir])).code, 0)
  const site = join(tmp.dir, 'site.json')
  await writeFile(site, JSON.stringify({ namespaces: { 'acme/orders': { maxMessageBytes: 1000 } } }))
  const gw = spawn(process.execPath, cliArgs(['gateway', '--site', 'eu1', '--pki', dir, '--data', join(tmp.dir, 'data'), '--mqtts', '0', '--https', '0', '--config', site, '--no-probe']),
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_LOG_LEVEL: 'info' } })
  t.teardown(() => { if (gw.exitCode === null) gw.kill('SIGKILL') })
  let out = ''
  let err = ''
  gw.stdout.on('data', (c: Buffer) => { out += c.toString() })
  gw.stderr.on('data', (c: Buffer) => { err += c.toString() })
  const ready = await waitFor(() => /^ferry ready .*$/m.exec(out)?.[0], { timeoutMs: 60_000, what: 'ready line' })
  const httpsPort = Number(/ https=(\d+)/.exec(ready)?.[1])
  const mqttsPort = Number(/ mqtts=(\d+)/.exec(ready)?.[1])
  const ca = await readFile(pkiLayout(dir).caCert, 'utf8')
  const tok = (await ferry(['pki', 'token', '--dir', dir, '--tenant', 'acme', '--ns', 'orders', '--actions', 'produce,consume', '--ttl', '1h'])).out.trim()
  const url = `https://127.0.0.1:${httpsPort}`
  const publish = async (bytes: number): Promise<number> => (await httpRequest(url, 'POST', `${topicPath('acme/orders/x')}/messages`, { body: 'x'.repeat(bytes), ca, headers: { authorization: `Bearer ${tok}` } })).status
  t.equal(await publish(500), 201, '500 bytes pass under maxMessageBytes 1000')

  // Connections opened before: MQTT over secure WebSocket and over TLS, and an HTTPS keep-alive connection.
  const ws = await mqtt.connectAsync(`wss://127.0.0.1:${httpsPort}/mqtt`, { protocolVersion: 5, clientId: 'hup-ws', username: 'acme/orders', password: tok, ca, reconnectPeriod: 0 })
  t.teardown(async () => { await ws.endAsync(true).catch(() => undefined) })
  const tcp = await mqtt.connectAsync(`mqtts://127.0.0.1:${mqttsPort}`, { protocolVersion: 5, clientId: 'hup-tcp', username: 'acme/orders', password: tok, ca, reconnectPeriod: 0 })
  t.teardown(async () => { await tcp.endAsync(true).catch(() => undefined) })
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => { agent.destroy() })
  const first = await keepAliveGet(httpsPort, ca, agent)
  const oldSerial = await serialOf(httpsPort, ca)

  // The operator changes the policy and re-issues the site certificate (under another name, moved in place), then SIGHUP.
  await writeFile(site, JSON.stringify({ namespaces: { 'acme/orders': { maxMessageBytes: 100 } } }))
  t.equal((await ferry(['pki', 'site', 'eu1_next', '--dir', dir])).code, 0)
  const l = pkiLayout(dir)
  const next = siteCertFiles(l, 'eu1_next')
  const target = siteCertFiles(l, 'eu1')
  await copyFile(next.keyFile, target.keyFile)
  await copyFile(next.certFile, target.certFile)
  const newSerial = new (await import('node:crypto')).X509Certificate(await readFile(next.certFile)).serialNumber.toLowerCase()
  gw.kill('SIGHUP')

  await waitFor(async () => (await publish(500)) === 413, { what: 'the new maxMessageBytes applies', timeoutMs: 20_000 })
  await waitFor(async () => (await serialOf(httpsPort, ca)) === newSerial, { what: 'HTTPS serves the new certificate', timeoutMs: 20_000 })
  await waitFor(async () => (await serialOf(mqttsPort, ca)) === newSerial, { what: 'MQTT/TLS serves the new certificate', timeoutMs: 20_000 })
  t.not(newSerial, oldSerial)
  t.equal(ws.connected, true, 'the secure WebSocket stayed')
  t.equal(tcp.connected, true, 'the MQTT/TLS connection stayed')
  await ws.publishAsync('after-hup', 'small', { qos: 1 })
  await tcp.publishAsync('after-hup', 'small', { qos: 1 })
  const again = await keepAliveGet(httpsPort, ca, agent)
  t.equal(again.status, 200)
  t.equal(again.localPort, first.localPort, 'the HTTPS keep-alive connection stayed')
  t.match(err, /SIGHUP: PKI dir and site certificate reloaded/)

  gw.kill('SIGTERM')
  const [code] = await within(once(gw, 'exit'), GATEWAY_EXIT_MS_MAX, 'the gateway exits after SIGTERM') as [number | null]
  t.equal(code, 0)
})
