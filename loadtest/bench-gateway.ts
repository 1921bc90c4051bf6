/**
 * Gateway benchmark: `npm run bench:gateway [-- --json] [-- --seconds 3]`.
 *
 * Starts a dev gateway in a child process (its own event loop, file ledger
 * in a temporary dir, loopback only) and measures from this process:
 *  - MQTT end-to-end, 4 publishers → 1 subscriber, 256-byte payloads, QoS 0
 *    and QoS 1 (publish and subscribe at that QoS), over TCP and WebSocket:
 *    msgs/s received and p50/p99 latency (send → receive, one clock);
 *  - HTTP durable publish, autocannon against
 *    POST /v1/topics/public/default/bench/messages (req/s, p50/p99).
 * Each scenario runs a bounded few seconds. `--json` prints one JSON line;
 * `--profile DIR` writes a CPU profile of the gateway child into DIR.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import mqtt, { type MqttClient } from 'mqtt'
import { createRequire } from 'node:module'

/** The part of autocannon's API we use (it ships no types). */
interface AutocannonResult {
  requests: { average: number }
  latency: { p50: number, p99: number }
  non2xx: number
}
type Autocannon = (opts: { url: string, method: string, headers: Record<string, string>, body: Buffer, connections: number, duration: number }) => Promise<AutocannonResult>
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon

/** Seconds per scenario: long enough for a stable rate, short enough for CI. */
const SCENARIO_SECONDS_DEFAULT = 3
const PUBLISHERS = 4
const PAYLOAD_BYTES = 256
/** QoS 0 messages a publisher may have sent but not yet seen delivered: keeps queues (and latency) bounded. */
const QOS0_OUTSTANDING_MAX = 512
/** QoS 1 publishes a publisher keeps unacknowledged (our default Receive Maximum). */
const QOS1_INFLIGHT_MAX = 64
/** Concurrent HTTP connections for autocannon. */
const HTTP_CONNECTIONS = 32
/** Longest the child gateway may take to start, ms. */
const CHILD_START_MS_MAX = 30_000

interface Ports { mqtt: number, http: number }

interface MqttResult { msgsPerSec: number, p50Ms: number, p99Ms: number, sent: number, received: number }

// ---------------------------------------------------------------------------
// Child: the gateway

async function serve (dataDir: string): Promise<void> {
  const { startGateway } = await import('../gateway/index.js')
  const gw = await startGateway({ siteId: 'bench', dataDir, dev: true, host: '127.0.0.1', mqttPort: 0, httpPort: 0 })
  process.stdout.write(JSON.stringify({ ports: gw.ports }) + '\n')
  const stop = (): void => { void gw.close().finally(() => { process.exit(0) }) }
  process.on('SIGTERM', stop)
  process.stdin.on('end', stop) // parent gone
  process.stdin.resume()
}

async function startChild (dataDir: string, profileDir: string | undefined): Promise<{ child: ChildProcess, ports: Ports }> {
  const self = fileURLToPath(import.meta.url)
  const prof = profileDir !== undefined ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []
  const { GATEWAY_NODE_FLAGS } = await import('../gateway/index.js')
  const child = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, ...prof, '--import', 'tsx', self, '--serve', dataDir], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const ports = await new Promise<Ports>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error('gateway child did not start')) }, CHILD_START_MS_MAX)
    lines.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { ports?: { mqtt?: number, http?: number } }
        if (msg.ports?.mqtt !== undefined && msg.ports.http !== undefined) { clearTimeout(timer); resolve({ mqtt: msg.ports.mqtt, http: msg.ports.http }) }
      } catch { /* a log line */ }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`gateway child exited with ${String(code)}`)) })
  })
  return { child, ports }
}

// ---------------------------------------------------------------------------
// MQTT scenario

function percentile (sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number
}

function nowMs (): number { return Number(process.hrtime.bigint()) / 1e6 }

async function mqttScenario (url: string, qos: 0 | 1, seconds: number, tag: string): Promise<MqttResult> {
  const opts = { reconnectPeriod: 0, protocolVersion: 5 as const }
  const topic = `bench/${tag}`
  const sub = await mqtt.connectAsync(url, { ...opts, clientId: `bench-sub-${tag}`, properties: { receiveMaximum: 1024 } })
  await sub.subscribeAsync(topic, { qos })
  const pubs: MqttClient[] = []
  for (let i = 0; i < PUBLISHERS; i++) pubs.push(await mqtt.connectAsync(url, { ...opts, clientId: `bench-pub-${tag}-${i}` }))

  // Latencies of messages received in the measured window (bounded by what a few seconds can carry).
  const latencies: number[] = []
  const sentBy = new Array<number>(PUBLISHERS).fill(0)
  const receivedFrom = new Array<number>(PUBLISHERS).fill(0)
  let measuring = false
  let received = 0
  const waiters: Array<(() => void) | undefined> = new Array(PUBLISHERS).fill(undefined)
  sub.on('message', (_t, payload) => {
    const pub = payload.readUInt8(0)
    const sentAt = payload.readDoubleLE(1)
    receivedFrom[pub] = (receivedFrom[pub] ?? 0) + 1
    if (measuring) { received++; latencies.push(nowMs() - sentAt) }
    const w = waiters[pub]
    if (w !== undefined) { waiters[pub] = undefined; w() }
  })

  let running = true
  const loops = pubs.map(async (client, idx) => {
    const payload = Buffer.alloc(PAYLOAD_BYTES, 0x61)
    payload.writeUInt8(idx, 0)
    let inflight = 0
    let wakeInflight: (() => void) | undefined
    while (running) {
      if (qos === 0) {
        if ((sentBy[idx] ?? 0) - (receivedFrom[idx] ?? 0) >= QOS0_OUTSTANDING_MAX) {
          await new Promise<void>((resolve) => { waiters[idx] = resolve; setTimeout(resolve, 50) })
          continue
        }
      } else if (inflight >= QOS1_INFLIGHT_MAX) {
        await new Promise<void>((resolve) => { wakeInflight = resolve })
        continue
      }
      const msg = Buffer.from(payload)
      msg.writeDoubleLE(nowMs(), 1)
      sentBy[idx] = (sentBy[idx] ?? 0) + 1
      inflight++
      client.publish(topic, msg, { qos }, () => {
        inflight--
        const w = wakeInflight
        wakeInflight = undefined
        w?.()
      })
      // Yield now and then so acks and deliveries get processed.
      if ((sentBy[idx] ?? 0) % 32 === 0) await new Promise<void>((resolve) => setImmediate(resolve))
    }
  })

  // Warm up one second, then measure.
  await new Promise((resolve) => setTimeout(resolve, 1000))
  measuring = true
  const start = nowMs()
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  measuring = false
  const elapsedS = (nowMs() - start) / 1000
  running = false
  for (const w of waiters) w?.()
  await Promise.race([Promise.all(loops), new Promise((resolve) => setTimeout(resolve, 2000))])
  await Promise.all([sub, ...pubs].map(async (c) => { await c.endAsync(true).catch(() => undefined) }))

  const sorted = Float64Array.from(latencies).sort()
  return {
    msgsPerSec: Math.round(received / elapsedS),
    p50Ms: round2(percentile(sorted, 0.5)),
    p99Ms: round2(percentile(sorted, 0.99)),
    sent: sentBy.reduce((a, b) => a + b, 0),
    received
  }
}

function round2 (n: number): number { return Math.round(n * 100) / 100 }

// ---------------------------------------------------------------------------
// HTTP scenario

async function httpScenario (port: number, seconds: number): Promise<{ reqPerSec: number, p50Ms: number, p99Ms: number, non2xx: number } | null> {
  const url = `http://127.0.0.1:${port}/v1/topics/public/default/bench/messages`
  // Probe: the route may not exist yet.
  const probe = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(PAYLOAD_BYTES, 0x61) }).catch(() => undefined)
  if (probe === undefined || probe.status >= 300) return null
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.alloc(PAYLOAD_BYTES, 0x61),
    connections: HTTP_CONNECTIONS,
    duration: seconds
  })
  return { reqPerSec: Math.round(result.requests.average), p50Ms: result.latency.p50, p99Ms: result.latency.p99, non2xx: result.non2xx }
}

// ---------------------------------------------------------------------------

async function main (): Promise<void> {
  const args = process.argv.slice(2)
  if (args[0] === '--serve') { await serve(args[1] as string); return }
  const json = args.includes('--json')
  const si = args.indexOf('--seconds')
  const seconds = si >= 0 ? Number(args[si + 1]) : SCENARIO_SECONDS_DEFAULT
  const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-gw-'))
  const pi = args.indexOf('--profile')
  const { child, ports } = await startChild(dir, pi >= 0 ? args[pi + 1] : undefined)
  try {
    const out: Record<string, unknown> = {
      bench: 'gateway',
      node: process.version,
      payloadBytes: PAYLOAD_BYTES,
      publishers: PUBLISHERS,
      scenarioSeconds: seconds
    }
    const tcp = `mqtt://127.0.0.1:${ports.mqtt}`
    const ws = `ws://127.0.0.1:${ports.http}/mqtt`
    out.mqttTcpQos0 = await mqttScenario(tcp, 0, seconds, 'tcp0')
    out.mqttTcpQos1 = await mqttScenario(tcp, 1, seconds, 'tcp1')
    out.mqttWsQos0 = await mqttScenario(ws, 0, seconds, 'ws0')
    out.mqttWsQos1 = await mqttScenario(ws, 1, seconds, 'ws1')
    out.httpDurablePublish = await httpScenario(ports.http, seconds)
    if (json) process.stdout.write(JSON.stringify(out) + '\n')
    else console.log(out)
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => { child.once('exit', resolve); setTimeout(resolve, 5000) })
    await rm(dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => { console.error(err); process.exit(1) })
