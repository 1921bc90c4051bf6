/**
 * Starts each system of the peer benchmark on loopback in its own process,
 * with its durability stated, and stops it again. Native peers come from
 * Debian (`mosquitto`, `nats-server`); Node-hosted ones run in
 * broker-child.ts. Every process is started fresh per round with an empty
 * data dir, so rounds do not inherit each other's backlog.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { freePort } from '../../common/free-port.js'
import { pinnedCommand } from './placement.js'
import type { BrokerWatchFigures } from './broker-watch.js'

/** Longest a peer may take to listen, ms. */
export const PEER_START_MS_MAX = 30_000
/** Longest a peer may take to exit after SIGTERM before SIGKILL, ms. */
export const PEER_STOP_MS_MAX = 5_000

export const PeerName = {
  ferry: 'ferry',
  ferryMemory: 'ferry-memory',
  mosquitto: 'mosquitto',
  nats: 'nats',
  aedes: 'aedes',
  null: 'null',
  uwsBare: 'uws-bare'
} as const
export type PeerName = typeof PeerName[keyof typeof PeerName]

/** What each system promises about a QoS 1 message it acknowledged, shown beside its figures. */
export const PEER_DURABILITY: Record<PeerName, string> = {
  ferry: 'file ledger, fdatasync before PUBACK (sync, default)',
  'ferry-memory': 'memory (namespace durability memory)',
  mosquitto: 'memory (persistence off, unlimited queues)',
  nats: 'JetStream file store, async fsync (default sync_interval)',
  aedes: 'memory (aedes-persistence in memory)',
  null: 'none (forwards, stores nothing)',
  'uws-bare': 'none (HTTP handler that answers 201)'
}

export interface RunningPeer {
  name: PeerName
  durability: string
  mqttUrl?: string
  wsUrl?: string
  httpUrl?: string
  pid: number
  /** Resident set size of the peer's process, bytes (from /proc). */
  rssBytes: () => Promise<number>
  /** Node-hosted systems only: heap figures after a full GC. */
  heap?: () => Promise<HeapFigures>
  /** Node-hosted systems only: a run's old-generation figures, between memStart and memStop (broker-child's MemWatch). */
  memStart?: () => void
  memStop?: () => Promise<MemFigures>
  /** Node-hosted systems only: where a run's latency went in the broker's process (broker-watch.ts), between watchStart and watchStop. */
  watchStart?: () => void
  watchStop?: () => Promise<BrokerWatchFigures>
  /** Node-hosted systems only: writes a heap snapshot to FILE, resolved once written. */
  heapSnapshot?: (file: string) => Promise<string>
  stop: () => Promise<void>
}

export interface HeapFigures { heapUsed: number, arrayBuffers: number, rss: number }
export interface MemFigures { promotedBytes: number, majorGcs: number, oldSpaceCommittedMaxBytes: number }

export { freePort }

async function waitListening (port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + PEER_START_MS_MAX
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`peer exited with ${child.exitCode} before listening on ${port}`)
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1')
      s.once('connect', () => { s.destroy(); resolve(true) })
      s.once('error', () => { resolve(false) })
    })
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`peer did not listen on ${port} within ${PEER_START_MS_MAX} ms`)
}

/** The unit of /proc/PID/stat's utime and stime: USER_HZ, 100 on every Linux architecture Ferry runs on (`getconf CLK_TCK`). */
const PROC_CLOCK_TICKS_PER_SEC = 100

/**
 * CPU time PID has used so far, user + system, every thread, µs (from /proc, 10 ms resolution): a run's
 * difference over its messages is the CPU cost per message of any system, native or Node-hosted.
 */
export async function cpuTimeUsOf (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may hold spaces: count the fields after its closing parenthesis (field 3 on).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[14 - 3]) + Number(fields[15 - 3])
  return ticks * (1_000_000 / PROC_CLOCK_TICKS_PER_SEC)
}

async function rssOf (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const m = /VmRSS:\s+(\d+) kB/.exec(status)
  return m !== null ? Number(m[1]) * 1024 : 0
}

function stopper (child: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      const timer = setTimeout(() => { child.kill('SIGKILL') }, PEER_STOP_MS_MAX)
      await exited
      clearTimeout(timer)
    }
    await rm(dir, { recursive: true, force: true })
  }
}

async function startMosquitto (dir: string, cpuList: string | undefined): Promise<RunningPeer> {
  const mqtt = await freePort()
  const ws = await freePort()
  const conf = join(dir, 'mosquitto.conf')
  // Unlimited queues and in-flight windows so mosquitto never drops QoS 1 under the benchmark's load.
  await writeFile(conf, [
    `listener ${mqtt} 127.0.0.1`, 'allow_anonymous true',
    `listener ${ws} 127.0.0.1`, 'protocol websockets', 'allow_anonymous true',
    'persistence false', 'max_queued_messages 0', 'max_queued_bytes 0',
    'log_type error', 'log_dest stderr', ''
  ].join('\n'))
  const cmd = pinnedCommand(cpuList, 'mosquitto', ['-c', conf])
  const child = spawn(cmd.command, cmd.args, { stdio: ['ignore', 'ignore', 'inherit'] })
  await waitListening(mqtt, child)
  await waitListening(ws, child)
  return { name: 'mosquitto', durability: PEER_DURABILITY.mosquitto, mqttUrl: `mqtt://127.0.0.1:${mqtt}`, wsUrl: `ws://127.0.0.1:${ws}/mqtt`, pid: child.pid ?? 0, rssBytes: async () => await rssOf(child.pid ?? 0), stop: stopper(child, dir) }
}

async function startNats (dir: string, cpuList: string | undefined): Promise<RunningPeer> {
  const client = await freePort()
  const mqtt = await freePort()
  const conf = join(dir, 'nats.conf')
  await writeFile(conf, [
    `listen: 127.0.0.1:${client}`, 'server_name: bench',
    `jetstream { store_dir: "${join(dir, 'js')}" }`,
    `mqtt { listen: 127.0.0.1:${mqtt} }`, ''
  ].join('\n'))
  const cmd = pinnedCommand(cpuList, 'nats-server', ['-c', conf])
  const child = spawn(cmd.command, cmd.args, { stdio: ['ignore', 'ignore', 'inherit'] })
  await waitListening(mqtt, child)
  return { name: 'nats', durability: PEER_DURABILITY.nats, mqttUrl: `mqtt://127.0.0.1:${mqtt}`, pid: child.pid ?? 0, rssBytes: async () => await rssOf(child.pid ?? 0), stop: stopper(child, dir) }
}

/**
 * Node flags of a Ferry broker child: GATEWAY_NODE_FLAGS, as every gateway launcher passes them, or the words of
 * FERRY_BENCH_GATEWAY_NODE_FLAGS when set (empty: none), for A/B runs of the flags themselves; then EXTRA
 * (a flag there wins over the same flag of GATEWAY_NODE_FLAGS).
 */
export async function gatewayNodeFlags (extra: readonly string[] = []): Promise<string[]> {
  const given = process.env.FERRY_BENCH_GATEWAY_NODE_FLAGS
  if (given !== undefined) return [...given.split(' ').filter((s) => s !== ''), ...extra]
  const { withGatewayNodeFlags } = await import('../../gateway/index.js')
  return withGatewayNodeFlags(extra)
}

async function startNodeChild (name: PeerName, dir: string, cpuList: string | undefined): Promise<RunningPeer> {
  const here = dirname(fileURLToPath(import.meta.url))
  // Compiled (dist/, as `npm run bench:*` runs it): the child runs the compiled gateway, as production does;
  // from sources (tests): through tsx.
  const compiled = import.meta.url.endsWith('.js')
  const entry = compiled ? [join(here, 'broker-child.js')] : ['--import', 'tsx', join(here, 'broker-child.ts')]
  const flags = name === 'ferry' || name === 'ferry-memory' ? await gatewayNodeFlags() : []
  const cmd = pinnedCommand(cpuList, process.execPath, [...flags, '--expose-gc', ...entry, name, dir])
  const child = spawn(cmd.command, cmd.args, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, FERRY_LOG_LEVEL: 'warn' } })
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const ports = await new Promise<Record<string, number>>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${name} did not start`)) }, PEER_START_MS_MAX)
    lines.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { ports?: Record<string, number> }
        if (msg.ports !== undefined) { clearTimeout(timer); resolve(msg.ports) }
      } catch { /* a log line */ }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${name} exited with ${String(code)}`)) })
  })
  // Answers on stdout are one JSON line each, `{"KEY":...}`, in the order asked.
  const waiters = new Map<string, Array<(v: unknown) => void>>()
  lines.on('line', (line) => {
    const key = /^\{"(heap|mem|snapshot|watch)"/.exec(line)?.[1]
    if (key === undefined) return
    waiters.get(key)?.shift()?.((JSON.parse(line) as Record<string, unknown>)[key])
  })
  const ask = async <T>(key: string, line: string): Promise<T> => await new Promise((resolve) => {
    const list = waiters.get(key) ?? []
    waiters.set(key, list)
    list.push(resolve as (v: unknown) => void)
    child.stdin?.write(line + '\n')
  })
  const peer: RunningPeer = {
    name,
    durability: PEER_DURABILITY[name],
    pid: child.pid ?? 0,
    rssBytes: async () => await rssOf(child.pid ?? 0),
    heap: async () => await ask<HeapFigures>('heap', 'heap'),
    memStart: () => { child.stdin?.write('mem-start\n') },
    memStop: async () => await ask<MemFigures>('mem', 'mem-stop'),
    watchStart: () => { child.stdin?.write('watch-start\n') },
    watchStop: async () => await ask<BrokerWatchFigures>('watch', 'watch-stop'),
    heapSnapshot: async (file) => await ask<string>('snapshot', `snapshot ${file}`),
    stop: stopper(child, dir)
  }
  if (ports.mqtt !== undefined) peer.mqttUrl = `mqtt://127.0.0.1:${ports.mqtt}`
  if (ports.ws !== undefined) peer.wsUrl = `ws://127.0.0.1:${ports.ws}/mqtt`
  if (ports.http !== undefined) peer.httpUrl = `http://127.0.0.1:${ports.http}`
  return peer
}

/**
 * Starts NAME fresh, on the CPUs of CPU_LIST (a taskset list, placement.ts) or on every CPU when undefined.
 * taskset execs the system, so the pid is the system's and every thread it starts keeps the mask.
 */
export async function startPeer (name: PeerName, cpuList?: string): Promise<RunningPeer> {
  const dir = await mkdtemp(join(tmpdir(), `ferry-peer-${name}-`))
  if (name === 'mosquitto') return await startMosquitto(dir, cpuList)
  if (name === 'nats') return await startNats(dir, cpuList)
  return await startNodeChild(name, dir, cpuList)
}
