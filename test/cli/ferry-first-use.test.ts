/**
 * The `ferry` command as a new user runs it, against a real gateway: the
 * README's wildcard `sub`, both transports printing the same topic names,
 * errors that say what went wrong and where. (`./ferry` itself: ferry-wrapper.test.ts.)
 */
import t from 'tap'
import net from 'node:net'
import { startTestGateway } from '../helpers/gateway.js'
import { waitFor } from '../helpers/wait.js'
import { spawnFerry as ferry } from '../helpers/ferry-cli.js'

// Each case starts Node processes (each loads the whole CLI); a loaded 2-core machine makes that slow.
t.setTimeout(300_000)

/** A loopback port nobody listens on. */
async function closedPort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  return port
}

const gw = await startTestGateway(t)
const http = gw.urls.http

t.test("cli first use - README's ferry sub -t 'sensors/#' works over HTTP and prints what MQTT sub prints", async (t) => {
  const viaHttp = ferry(['sub', '-t', 'sensors/#', '--count', '2', '--url', http, '--subscription', 'readme'])
  const viaMqtt = ferry(['sub', '-t', 'sensors/#', '--count', '2', '--url', gw.urls.mqtt])
  t.teardown(() => { viaHttp.child.kill('SIGKILL'); viaMqtt.child.kill('SIGKILL') })
  // Both subscriptions must exist before the publishes (MQTT delivers only what arrives after SUBSCRIBE).
  await waitFor(async () => {
    const stats = (await (await fetch(`${http}/v1/admin/stats`)).json()) as { dispatcher: { subscriptions: Array<{ filter: string, consumers: number }> } }
    return stats.dispatcher.subscriptions.filter((s) => s.filter === 'sensors/#' && s.consumers > 0).length >= 2
  }, { timeoutMs: 90_000, what: 'both ferry sub processes subscribed' })
  const pub1 = ferry(['pub', '-t', 'sensors/t1', '-m', '21.5', '--url', http])
  const pub2 = ferry(['pub', '-t', 'sensors/t2', '-m', '19.0', '--url', gw.urls.mqtt])
  t.equal(await pub1.exit, 0, pub1.err())
  t.equal(await pub2.exit, 0, pub2.err())
  t.equal(await viaHttp.exit, 0, `http sub exits after --count (stderr: ${viaHttp.err()})`)
  t.equal(await viaMqtt.exit, 0, `mqtt sub exits after --count (stderr: ${viaMqtt.err()})`)
  const expected = ['sensors/t1 21.5', 'sensors/t2 19.0']
  t.same(viaHttp.out().trim().split('\n').sort(), expected, 'HTTP: local topic names')
  t.same(viaMqtt.out().trim().split('\n').sort(), expected, 'MQTT: the same lines')
  t.match(pub1.out(), /^published topic=sensors\/t1 messageId=\d+$/m)
  const again = await fetch(`${http}/v1/topics/public/default/sensors/%23/subscriptions/readme/messages`)
  t.same(await again.json(), { messages: [] }, 'ferry sub acked what it printed, per topic')
})

t.test('cli first use - a refused publish prints the gateway reason, over MQTT and HTTP', async (t) => {
  const mqtt = ferry(['pub', '-t', 'p/x', '-m', 'x', '--priority', '12', '--url', gw.urls.mqtt])
  const viaHttp = ferry(['pub', '-t', 'p/x', '-m', 'x', '--priority', '12', '--url', http])
  t.equal(await mqtt.exit, 1)
  t.match(mqtt.err(), /ferry-priority/, `the reason string, not only the reason code's name (stderr: ${mqtt.err()})`)
  t.match(mqtt.err(), /0x8/, 'and the reason code')
  t.equal(await viaHttp.exit, 1)
  t.match(viaHttp.err(), /400: .*ferry-priority/)
})

t.test('cli first use - ws:// without /mqtt reaches the MQTT WebSocket endpoint', async (t) => {
  const r = ferry(['pub', '-t', 'ws/x', '-m', 'over ws', '--url', `ws://127.0.0.1:${gw.ports.http}`])
  t.equal(await r.exit, 0, `exit 0 (stderr: ${r.err()})`)
  t.match(r.out(), /published topic=ws\/x/)
})

t.test('cli first use - an unreachable gateway names the address tried', async (t) => {
  const port = await closedPort()
  const viaHttp = ferry(['pub', '-t', 'x', '-m', 'y', '--url', `http://127.0.0.1:${port}`])
  const viaMqtt = ferry(['pub', '-t', 'x', '-m', 'y', '--url', `mqtt://127.0.0.1:${port}`])
  const sub = ferry(['sub', '-t', 'x', '--url', `http://127.0.0.1:${port}`])
  for (const [name, r] of [['http pub', viaHttp], ['mqtt pub', viaMqtt], ['http sub', sub]] as const) {
    t.equal(await r.exit, 1, `${name} exits 1`)
    t.match(r.err(), new RegExp(`127\\.0\\.0\\.1:${port}`), `${name} says where (stderr: ${r.err()})`)
    t.match(r.err(), /ECONNREFUSED/, `${name} says why`)
  }
})
