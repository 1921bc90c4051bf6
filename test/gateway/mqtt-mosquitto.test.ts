/**
 * Interop with Debian's mosquitto_pub / mosquitto_sub (package
 * mosquitto-clients, installed by scripts/setup.sh) over plain TCP and TLS.
 */
import t from 'tap'
import { spawn, execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'
import { startTestGateway, connectMqtt, collect } from '../helpers/gateway.js'
import { waitFor } from '../helpers/wait.js'

/** Async: the gateway runs in this process, a sync child would block it. */
const run = promisify(execFile)

function has (cmd: string): boolean {
  try { execFileSync('which', [cmd], { stdio: 'ignore' }); return true } catch { return false }
}

if (!has('mosquitto_pub') || !has('mosquitto_sub')) {
  t.fail('mosquitto_pub / mosquitto_sub not installed: run scripts/setup.sh (apt-get install mosquitto-clients)')
} else {
  t.test('mqtt mosquitto - mosquitto_sub receives from mosquitto_pub (3.1.1 and 5, QoS 0/1/2)', async (t) => {
    const gw = await startTestGateway(t)
    for (const v of ['mqttv311', 'mqttv5'] as const) {
      const lines: string[] = []
      const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(gw.ports.mqtt), '-V', v, '-t', `mosq/${v}/#`, '-q', '2', '-v', '-i', `msub-${v}`])
      t.teardown(() => { sub.kill() })
      let buf = ''
      sub.stdout.on('data', (d: Buffer) => { buf += d.toString(); const parts = buf.split('\n'); buf = parts.pop() ?? ''; lines.push(...parts) })
      // Wait until the subscription exists: a retained-free probe from our own client round-trips.
      const probe = await connectMqtt(t, gw, gw.urls.mqtt)
      await waitFor(async () => { await probe.publishAsync(`mosq/${v}/probe`, 'p', { qos: 1 }); return lines.some((l) => l.endsWith(' p')) }, { intervalMs: 100, what: 'mosquitto_sub subscribed' })
      for (const q of ['0', '1', '2']) {
        await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(gw.ports.mqtt), '-V', v, '-t', `mosq/${v}/q${q}`, '-q', q, '-m', `hello-${q}`])
      }
      await waitFor(() => ['0', '1', '2'].every((q) => lines.includes(`mosq/${v}/q${q} hello-${q}`)), { what: `${v} messages` })
      t.pass(`${v}: all three QoS levels`)
    }
  })

  t.test('mqtt mosquitto - mosquitto_pub over TLS with the dev CA, retained message to an npm client', async (t) => {
    const gw = await startTestGateway(t)
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(gw.ports.mqtts), '--cafile', gw.caFile, '-t', 'mosq/tls', '-q', '1', '-r', '-m', 'over-tls'])
    const c = await connectMqtt(t, gw, gw.urls.mqtts)
    const box = collect(c)
    await c.subscribeAsync('mosq/tls', { qos: 1 })
    await waitFor(() => box.length === 1)
    t.equal(box[0]?.payload.toString(), 'over-tls')
    t.equal(box[0]?.packet.retain, true)
  })

  t.test('mqtt mosquitto - the will of a killed mosquitto_sub is published', async (t) => {
    const gw = await startTestGateway(t)
    const watcher = await connectMqtt(t, gw, gw.urls.mqtt)
    const box = collect(watcher)
    await watcher.subscribeAsync('mosq/will', { qos: 1 })
    const victim = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(gw.ports.mqtt), '-t', 'mosq/none', '--will-topic', 'mosq/will', '--will-payload', 'died', '--will-qos', '1', '-i', 'victim'])
    t.teardown(() => { victim.kill('SIGKILL') })
    // Wait for the victim's session, then kill it without DISCONNECT.
    const probe = await connectMqtt(t, gw, gw.urls.mqtt)
    await waitFor(async () => { await probe.publishAsync('mosq/none', 'x', { qos: 1 }); return (gw.gateway.ledger.cursors('public/default/mosq/none').length > 0) }, { intervalMs: 100, what: 'victim subscribed' })
    victim.kill('SIGKILL')
    await waitFor(() => box.some((m) => m.payload.toString() === 'died'), { what: 'will after kill' })
    t.pass('will published')
  })

  t.test('mqtt mosquitto - mosquitto_sub -V mqttv5 sees exactly the user properties mosquitto_pub sent', async (t) => {
    const gw = await startTestGateway(t)
    const lines: string[] = []
    const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(gw.ports.mqtt), '-V', 'mqttv5', '-t', 'mosq/up', '-q', '1', '-F', '%p|%P', '-i', 'msub-up'])
    t.teardown(() => { sub.kill() })
    let buf = ''
    sub.stdout.on('data', (d: Buffer) => { buf += d.toString(); const parts = buf.split('\n'); buf = parts.pop() ?? ''; lines.push(...parts) })
    const probe = await connectMqtt(t, gw, gw.urls.mqtt)
    await waitFor(async () => { await probe.publishAsync('mosq/up', 'probe', { qos: 1 }); return lines.some((l) => l.startsWith('probe|')) }, { intervalMs: 100, what: 'mosquitto_sub subscribed' })
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(gw.ports.mqtt), '-V', 'mqttv5', '-t', 'mosq/up', '-q', '1', '-m', 'with-props',
      '-D', 'publish', 'user-property', 'b', '1', '-D', 'publish', 'user-property', 'a', '2'])
    const line = await waitFor(() => lines.find((l) => l.startsWith('with-props|')), { what: 'message with properties' })
    t.equal(line, 'with-props|b:1 a:2', 'the publisher\'s user properties, in order, nothing added [MQTT-3.3.2-18]')
    t.equal(lines.find((l) => l.startsWith('probe|')), 'probe|', 'none published, none delivered')
  })
}
