import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runLean } from '../../loadtest/lean/run.js'
import { startNullBroker } from '../../loadtest/peers/null-broker.js'
import { startPeer } from '../../loadtest/peers/launch.js'
import { renderMarkdown, renderSvg } from '../../loadtest/peers/report.js'
import { builtScript } from '../helpers/cli-build.js'
import { portOf, startFakeBroker } from '../helpers/fake-mqtt-broker.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

t.test('loadtest - lean generator: QoS 1 fan-in through the do-nothing broker arrives complete, once', async (t) => {
  const server = await startNullBroker(0)
  t.teardown(() => { server.close() })
  const r = await runLean({ url: `mqtt://127.0.0.1:${portOf(server)}`, publishers: 4, subscribers: 1, qos: 1, payloadBytes: 256, windowPerPublisher: 64, topicsPerPublisher: 2, seconds: 1 })
  t.ok(r.published > 0, 'published something')
  t.equal(r.acked, r.published, 'every publish acknowledged')
  t.equal(r.delivered, r.published, 'every publish delivered')
  t.equal(r.lost, 0)
  t.equal(r.duplicates, 0)
  t.ok(r.ok, r.problems.join('; '))
  t.ok(r.latencyMs.p99 >= r.latencyMs.p50, 'percentiles ordered')
})

t.test('loadtest - lean generator: a broker that drops acknowledged messages fails the run', async (t) => {
  const server = await startFakeBroker({ dropEveryNth: 10 })
  t.teardown(() => { server.close() })
  const r = await runLean({ url: `mqtt://127.0.0.1:${portOf(server)}`, publishers: 2, subscribers: 1, qos: 1, payloadBytes: 64, windowPerPublisher: 16, topicsPerPublisher: 1, seconds: 1 })
  t.notOk(r.ok, 'run marked failed')
  t.ok(r.lost > 0, `lost counted (${r.lost})`)
  t.match(r.problems.join(';'), /acknowledged messages never delivered/)
})

t.test('loadtest - lean generator over WebSocket and open loop against Mosquitto', async (t) => {
  const peer = await startPeer('mosquitto')
  t.teardown(async () => { await peer.stop() })
  const ws = await runLean({ url: peer.wsUrl as string, publishers: 2, subscribers: 2, qos: 1, payloadBytes: 128, windowPerPublisher: 32, topicsPerPublisher: 1, seconds: 1 })
  t.ok(ws.ok, ws.problems.join('; '))
  t.equal(ws.delivered, ws.published * 2, 'each of two subscribers got every message')
  const open = await runLean({ url: peer.mqttUrl as string, publishers: 2, subscribers: 1, qos: 1, payloadBytes: 64, windowPerPublisher: 32, topicsPerPublisher: 1, seconds: 1, openLoopRatePerSec: 2000 })
  t.ok(open.ok, open.problems.join('; '))
  t.ok(open.published > 0, 'open loop published')
  t.equal(open.delivered, open.published, 'open loop: every message delivered')
})

t.test('loadtest - ferry bench mqtt reports and checks a run', async (t) => {
  const peer = await startPeer('mosquitto')
  t.teardown(async () => { await peer.stop() })
  const child = spawn(process.execPath, [builtScript(join(root, 'cli', 'ferry.ts')), 'bench', 'mqtt', '--url', peer.mqttUrl as string, '--seconds', '1', '--json'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  const [code] = await once(child, 'exit') as [number]
  t.equal(code, 0, 'exit 0')
  const r = JSON.parse(out.trim()) as { ok: boolean, published: number, delivered: number }
  t.ok(r.ok)
  t.equal(r.delivered, r.published)
})

t.test('loadtest - peer report renders tables with durability and ratios', async (t) => {
  const w = { id: 'x', title: 'X', headline: 'deliveredPerSec', higherIsBetter: true, peers: [
    { name: 'ferry', durability: 'sync', median: { deliveredPerSec: 100 }, spread: { deliveredPerSec: [90, 110] as [number, number] }, runs: [], ok: true },
    { name: 'mosquitto', durability: 'memory', median: { deliveredPerSec: 200 }, spread: { deliveredPerSec: [190, 210] as [number, number] }, runs: [], ok: true }
  ] }
  const md = renderMarkdown({ when: 'now', cpus: 2, node: 'v20', loadAverage1mAtStart: 0.1, rounds: 3, seconds: 5, workloads: [w] })
  t.match(md, /\| mosquitto \| memory \| 200 \| 190–210 \| 0\.50x \|/)
  t.match(renderSvg([w]), /<svg[\s\S]*<rect/)
})
