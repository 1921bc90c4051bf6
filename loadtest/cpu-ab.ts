/**
 * CPU per message of a broker process, A/B alternated: the figure that stays
 * steady on a shared machine where msgs/s does not.
 *
 *   npm run bench:cpu -- --trees /path/a,/path/b [--kind ferry] [--rounds 3] [--seconds 4]
 *     [--warmup 1] [--rate 10000] [--aedes]
 *
 * Each tree is a checkout with a compiled dist/; its broker-child runs the
 * gateway of that tree, and the load generator (this tree's lean runner) is the
 * same for every system. Per round and tree: a fresh broker, an unmeasured
 * warm-up run, then a measured run; the broker's user+system CPU over the
 * measured run (from /proc) divided by the messages delivered. The tree order
 * alternates every round (ABBA...). Ferry brokers also report the heap bytes
 * allocated and the GC time per message over the measured run. `--aedes` adds Aedes to every round as the
 * msgs/s reference; `--rate` runs open loop and reports p99 instead.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir, loadavg } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { runLean, type LeanResult } from './lean/run.js'
import { gatewayNodeFlags, startPeer } from './peers/launch.js'

/** Clock ticks per second of /proc/PID/stat's utime and stime (USER_HZ; 100 on Linux). */
const CLOCK_TICKS_PER_SEC = 100
/** Longest a broker child may take to answer gc-stop, ms. */
const GC_ANSWER_MS_MAX = 5_000
/** Longest a broker child may take to print its ports, ms. */
const BROKER_START_MS_MAX = 30_000

function arg (name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

async function cpuMsOf (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // Fields after the command: state is index 0, utime index 11, stime index 12.
  return (Number(fields[11]) + Number(fields[12])) * 1000 / CLOCK_TICKS_PER_SEC
}

interface GcFigures { allocatedBytes: number, gcs: number, gcCostUs: number }
interface Broker { pid: number, url: string, stop: () => Promise<void>, gcStart?: () => void, gcStop?: () => Promise<GcFigures> }

async function startTreeBroker (tree: string, kind: string): Promise<Broker> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-cpu-ab-'))
  // Ferry children start as every gateway launcher starts them (GATEWAY_NODE_FLAGS); a flag in CPU_AB_NODE_ARGS wins.
  const given = (process.env.CPU_AB_NODE_ARGS ?? '').split(' ').filter((s) => s !== '')
  const extra = kind.startsWith('ferry') ? await gatewayNodeFlags(given) : given
  const child = spawn(process.execPath, [...extra, join(tree, 'dist/loadtest/peers/broker-child.js'), kind, dir], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, FERRY_LOG_LEVEL: 'warn' }, cwd: dir })
  const lines = createInterface({ input: child.stdout })
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${tree} did not start`)) }, BROKER_START_MS_MAX)
    lines.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { ports?: { mqtt?: number } }
        if (msg.ports?.mqtt !== undefined) { clearTimeout(timer); resolve(msg.ports.mqtt) }
      } catch { /* a log line */ }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`broker exited with ${String(code)}`)) })
  })
  const gcWaiters: Array<(g: GcFigures) => void> = []
  lines.on('line', (line) => {
    if (line.startsWith('{"gc"')) gcWaiters.shift()?.((JSON.parse(line) as { gc: GcFigures }).gc)
  })
  const gcStart = (): void => { child.stdin.write('gc-start\n') }
  // A broker-child from before gc-start/gc-stop never answers: no heap figures then, not a hang.
  const gcStop = async (): Promise<GcFigures> => await new Promise((resolve) => {
    const timer = setTimeout(() => { gcWaiters.splice(gcWaiters.indexOf(done), 1); resolve({ allocatedBytes: NaN, gcs: NaN, gcCostUs: NaN }) }, GC_ANSWER_MS_MAX)
    const done = (g: GcFigures): void => { clearTimeout(timer); resolve(g) }
    gcWaiters.push(done)
    child.stdin.write('gc-stop\n')
  })
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
    await rm(dir, { recursive: true, force: true })
  }
  return { pid: child.pid ?? 0, url: `mqtt://127.0.0.1:${port}`, stop, gcStart, gcStop }
}

interface Sample { label: string, round: number, usPerMsg: number, deliveredPerSec: number, p99Ms: number, ok: boolean, allocBytesPerMsg: number, gcUsPerMsg: number }

async function measure (label: string, round: number, b: Broker, seconds: number, warmup: number, rate: number | undefined): Promise<Sample> {
  const scenario = { url: b.url, publishers: 4, subscribers: 1, qos: 1 as const, payloadBytes: 256, windowPerPublisher: 64, topicsPerPublisher: 1, label, ...(rate !== undefined ? { openLoopRatePerSec: rate } : {}) }
  await runLean({ ...scenario, seconds: warmup })
  b.gcStart?.()
  const cpu0 = await cpuMsOf(b.pid)
  const r: LeanResult = await runLean({ ...scenario, seconds, warmupSeconds: 0 })
  const cpu1 = await cpuMsOf(b.pid)
  const gc = await b.gcStop?.()
  const n = Math.max(1, r.delivered)
  return { label, round, usPerMsg: (cpu1 - cpu0) * 1000 / n, deliveredPerSec: r.deliveredPerSec, p99Ms: r.latencyMs.p99, ok: r.ok, allocBytesPerMsg: (gc?.allocatedBytes ?? NaN) / n, gcUsPerMsg: (gc?.gcCostUs ?? NaN) / n }
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

async function main (): Promise<void> {
  const trees = (arg('trees') ?? '.').split(',')
  const kind = arg('kind') ?? 'ferry'
  const rounds = Number(arg('rounds') ?? 3)
  const seconds = Number(arg('seconds') ?? 4)
  const warmup = Number(arg('warmup') ?? 1)
  const rate = arg('rate') !== undefined ? Number(arg('rate')) : undefined
  const withAedes = process.argv.includes('--aedes')
  const samples: Sample[] = []
  const load0 = loadavg()[0] as number
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? trees : [...trees].reverse()
    const systems: Array<{ label: string, start: () => Promise<Broker> }> = order.map((t) => ({ label: t, start: async () => await startTreeBroker(t, kind) }))
    if (withAedes) {
      systems.splice(round % (systems.length + 1), 0, {
        label: 'aedes',
        start: async () => {
          const p = await startPeer('aedes')
          return { pid: p.pid, url: p.mqttUrl as string, stop: p.stop }
        }
      })
    }
    for (const s of systems) {
      const b = await s.start()
      try {
        const sample = await measure(s.label, round, b, seconds, warmup, rate)
        samples.push(sample)
        process.stderr.write(`round ${round} ${s.label}: ${sample.usPerMsg.toFixed(1)} µs/msg, ${Math.round(sample.allocBytesPerMsg)} B alloc/msg, GC ${sample.gcUsPerMsg.toFixed(2)} µs/msg, ${Math.round(sample.deliveredPerSec)} msgs/s, p99 ${sample.p99Ms.toFixed(2)} ms${sample.ok ? '' : ' NOT OK'} (load ${loadavg()[0]?.toFixed(2)})\n`)
      } finally { await b.stop() }
    }
  }
  const labels = [...new Set(samples.map((s) => s.label))]
  for (const l of labels) {
    const mine = samples.filter((s) => s.label === l)
    const us = mine.map((s) => s.usPerMsg)
    const rates = mine.map((s) => s.deliveredPerSec)
    const p99 = mine.map((s) => s.p99Ms)
    const alloc = mine.map((s) => s.allocBytesPerMsg)
    const gcUs = mine.map((s) => s.gcUsPerMsg)
    process.stdout.write(`${l}: µs/msg median ${median(us).toFixed(1)} (${Math.min(...us).toFixed(1)}-${Math.max(...us).toFixed(1)}), heap B/msg median ${Math.round(median(alloc))} (${Math.round(Math.min(...alloc))}-${Math.round(Math.max(...alloc))}), GC µs/msg median ${median(gcUs).toFixed(2)}, msgs/s median ${Math.round(median(rates))} (${Math.round(Math.min(...rates))}-${Math.round(Math.max(...rates))}), p99 ms median ${median(p99).toFixed(2)} (${Math.min(...p99).toFixed(2)}-${Math.max(...p99).toFixed(2)}), all ok ${String(mine.every((s) => s.ok))}\n`)
  }
  process.stdout.write(`load average 1 m: start ${load0.toFixed(2)}, end ${(loadavg()[0] as number).toFixed(2)}\n`)
}

main().catch((err: unknown) => { process.stderr.write(`cpu-ab: ${String(err)}\n`); process.exit(1) })
