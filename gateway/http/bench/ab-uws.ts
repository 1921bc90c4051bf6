/**
 * Short A/B runner for bench:peers workload 5 only (HTTP durable publish
 * against a bare uWebSockets.js handler), so one change can be measured in
 * well under a minute instead of running the whole peer benchmark:
 *
 *   npx tsx gateway/http/bench/ab-uws.ts [--rounds 3] [--seconds 4] [--warmup 1]
 *       [--dist dist] [--dist /other/checkout/dist ...] [--prof DIR] [--memory] [--bare-later]
 *       [--rate N] [--node-arg FLAG ...] [--node-arg-of 'I FLAG' ...] [--child-log DIR]
 *       [--connections N]
 *
 * Each `--dist` is a compiled tree (`npx tsc -p tsconfig.json`) whose
 * loadtest/peers/broker-child.js is started as `ferry`; the bare handler comes
 * from the first one. The load is the same as the workload's (autocannon,
 * 32 connections, no pipelining, 256-byte application/octet-stream bodies,
 * same URL) for every system; the order rotates every round and every run
 * starts its system fresh. `--prof DIR` runs the children under --cpu-prof
 * and prints each profile's file with the requests its child served, for
 * prof-summary.ts.
 * Prints one line per run and the median / min-max per system with the
 * 1-minute load average. For each run it also prints what the server's heap
 * took per request (bytes allocated, GC time: broker-child's gc-start/gc-stop)
 * and, for Ferry, its group commits (fsyncs from /metrics): publishes per
 * commit and the mean fsync time, which with the connections set the rate
 * (closed loop: `--connections N` changes the workload's 32).
 * Publishes per commit come out at about N / 2 (measured session 9, load 34:
 * 14.5 at 32 connections, 27.7 at 64, whatever the fsync time): the next commit
 * starts at once with what arrived during the previous one, and the requests a
 * commit's replies bring back arrive while that next commit is in flight, so
 * the connections settle into two cohorts answered by alternate commits and the
 * rate is N / (2 x (fsync + gap)). Not the reply batch, corking or autocannon.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { createWriteStream, readFileSync } from 'node:fs'

interface AutocannonResult { requests: { average: number, total: number }, latency: { p50: number, p99: number }, non2xx: number, errors: number }
const autocannon = createRequire(import.meta.url)('autocannon') as (opts: Record<string, unknown>) => Promise<AutocannonResult>

/** The workload's parameters (loadtest/peers/workloads.ts, id http-publish). */
const WORKLOAD_CONNECTIONS = 32
const PAYLOAD_BYTES = 256
const PATH = '/v1/topics/public/default/bench/messages'
const START_MS_MAX = 30_000
/** Longest wait for the child's answer to a stdin command (gc-stop): it answers within a loop turn unless stuck. */
const ASK_MS_MAX = 5_000

function args (name: string): string[] {
  const out: string[] = []
  for (let i = 0; i < process.argv.length - 1; i++) if (process.argv[i] === `--${name}`) out.push(process.argv[i + 1] as string)
  return out
}
function num (name: string, dflt: number): number { const v = args(name)[0]; return v === undefined ? dflt : Number(v) }

const rounds = num('rounds', 3)
const seconds = num('seconds', 4)
const warmup = num('warmup', 1)
const dists = (args('dist').length > 0 ? args('dist') : ['dist']).map((d) => resolve(d))
const profDir = args('prof')[0]
/** `--connections N`: closed-loop concurrency (the workload's is 32; the rate follows the commits it lets share an fsync). */
const connections = num('connections', WORKLOAD_CONNECTIONS)
/** `--node-arg FLAG` (repeatable): extra node flags for the Ferry children only (e.g. --trace-gc, --heap-prof). */
const nodeArgs = args('node-arg')
/** `--node-arg-of 'I FLAG'` (repeatable): a node flag for the Ferry child of the I-th --dist only (A/B of a V8 flag on one build). */
const nodeArgsOf = args('node-arg-of').map((a) => { const sp = a.indexOf(' '); return { index: Number(a.slice(0, sp)), flag: a.slice(sp + 1) } })
/** `--child-log DIR`: each child's stdout (e.g. --trace-gc lines) goes to DIR/LABEL-TIME.log too. */
const childLogDir = args('child-log')[0]
/** `--rate N`: open loop at N requests/s in all (autocannon overallRate) instead of as fast as the connections go: CPU per request is then compared at the same load. */
const openLoopRate = num('rate', 0)
/** `--memory`: Ferry with memory durability for public/default, so the HTTP path's CPU cost is seen without the disk. */
const memory = process.argv.includes('--memory')

/** `--bare-later`: also run the bare handler answering from a later loop turn (what an asynchronous reply costs uWS alone). */
const bareLater = process.argv.includes('--bare-later')

interface System { label: string, dist: string, kind: 'ferry' | 'ferry-memory' | 'uws-bare' | 'uws-bare-later', nodeArgs?: string[] }
const systems: System[] = [
  { label: 'uws-bare', dist: dists[0] as string, kind: 'uws-bare' },
  ...(bareLater ? [{ label: 'uws-later', dist: dists[0] as string, kind: 'uws-bare-later' as const }] : []),
  ...dists.map((d, i) => ({ label: `ferry#${i}`, dist: d, kind: memory ? 'ferry-memory' as const : 'ferry' as const, nodeArgs: nodeArgsOf.filter((a) => a.index === i).map((a) => a.flag) }))
]

async function start (s: System): Promise<{ child: ChildProcess, port: number, dir: string, profile: string | undefined }> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-ab-uws-'))
  const profile = profDir !== undefined ? join(resolve(profDir), `${s.label}-${Date.now()}.cpuprofile`) : undefined
  const prof = profile !== undefined ? ['--cpu-prof', '--cpu-prof-dir', resolve(profDir as string), '--cpu-prof-name', basename(profile)] : []
  const extra = s.kind === 'ferry' || s.kind === 'ferry-memory' ? [...nodeArgs, ...(s.nodeArgs ?? [])] : []
  const child = spawn(process.execPath, [...prof, ...extra, '--expose-gc', join(s.dist, 'loadtest', 'peers', 'broker-child.js'), s.kind, dir], { stdio: ['pipe', 'pipe', process.env.AB_UWS_CHILD_STDERR === 'ignore' ? 'ignore' : 'inherit'], env: { ...process.env, FERRY_LOG_LEVEL: 'warn' } })
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  if (childLogDir !== undefined) child.stdout?.pipe(createWriteStream(join(resolve(childLogDir), `${s.label}-${Date.now()}.log`)))
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${s.label} did not start`)) }, START_MS_MAX)
    lines.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { ports?: { http?: number } }
        if (msg.ports?.http !== undefined) { clearTimeout(timer); resolve(msg.ports.http) }
      } catch { /* a log line */ }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${s.label} exited with ${String(code)}`)) })
  })
  return { child, port, dir, profile }
}

async function stop (child: ChildProcess, dir: string): Promise<void> {
  // SIGTERM makes broker-child exit 0, which writes the CPU profile.
  await new Promise<void>((resolve) => { child.once('exit', () => { resolve() }); child.kill('SIGTERM') })
  await rm(dir, { recursive: true, force: true })
}

/** CPU seconds (user, system) of a process's main thread so far, from /proc (Linux): the per-request cost does not depend on load. */
function mainThreadCpuSec (pid: number): { user: number, sys: number } {
  return cpuSecOf(`/proc/${pid}/task/${pid}/stat`)
}

/** The same for the whole process (every thread: the libuv pool's file writes, V8's GC and compiler threads). */
function processCpuSec (pid: number): number {
  const c = cpuSecOf(`/proc/${pid}/stat`)
  return c.user + c.sys
}

function cpuSecOf (statFile: string): { user: number, sys: number } {
  try {
    const stat = readFileSync(statFile, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { user: Number(f[11]) / 100, sys: Number(f[12]) / 100 } // utime, stime in clock ticks (USER_HZ 100)
  } catch { return { user: Number.NaN, sys: Number.NaN } }
}

/** The answer line to a command written to the child's stdin (broker-child: `gc-stop` answers `{"gc":...}`). */
async function ask<T> (child: ChildProcess, command: string, key: string): Promise<T | undefined> {
  // Not closed after: closing a readline pauses its input, which would stop the child's stdout (--child-log).
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  return await new Promise<T | undefined>((resolve) => {
    const done = (v: T | undefined): void => { clearTimeout(timer); lines.removeAllListeners('line'); resolve(v) }
    const timer = setTimeout(() => { done(undefined) }, ASK_MS_MAX)
    lines.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as Record<string, unknown>
        if (msg[key] !== undefined) done(msg[key] as T)
      } catch { /* a log line */ }
    })
    child.stdin?.write(`${command}\n`)
  })
}

/** Ferry's fsync count and total seconds so far, from its /metrics (undefined for the bare handler). */
async function fsyncs (port: number): Promise<{ count: number, sumSec: number } | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    const count = /^ferry_fsync_duration_seconds_count(?:\{\})? (\S+)$/m.exec(text)
    const sum = /^ferry_fsync_duration_seconds_sum(?:\{\})? (\S+)$/m.exec(text)
    return count === null || sum === null ? undefined : { count: Number(count[1]), sumSec: Number(sum[1]) }
  } catch { return undefined }
}

async function runOne (s: System): Promise<{ rate: number, cpuUsPerReq: number }> {
  const { child, port, dir, profile } = await start(s)
  try {
    const opts = { url: `http://127.0.0.1:${port}${PATH}`, method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(PAYLOAD_BYTES, 0x61), connections, ...(openLoopRate > 0 ? { overallRate: openLoopRate } : {}) }
    const warm = warmup > 0 ? (await autocannon({ ...opts, duration: warmup })).requests.total : 0
    const ferry = s.kind === 'ferry' || s.kind === 'ferry-memory'
    const sync0 = ferry ? await fsyncs(port) : undefined
    child.stdin?.write('gc-start\n')
    const cpu0 = mainThreadCpuSec(child.pid ?? 0)
    const all0 = processCpuSec(child.pid ?? 0)
    const gen0 = process.cpuUsage()
    const r = await autocannon({ ...opts, duration: seconds })
    const gen = process.cpuUsage(gen0)
    const cpu1 = mainThreadCpuSec(child.pid ?? 0)
    const allUsPerReq = (processCpuSec(child.pid ?? 0) - all0) * 1e6 / r.requests.total
    const gc = await ask<{ allocatedBytes: number, gcs: number, gcCostUs: number }>(child, 'gc-stop', 'gc')
    const sync1 = ferry ? await fsyncs(port) : undefined
    const userUsPerReq = (cpu1.user - cpu0.user) * 1e6 / r.requests.total
    const sysUsPerReq = (cpu1.sys - cpu0.sys) * 1e6 / r.requests.total
    const cpuUsPerReq = userUsPerReq + sysUsPerReq
    const rate = Math.round(r.requests.average)
    // autocannon runs in this process, on the same 2 cores: what it spends per request is CPU the server cannot have.
    const genUsPerReq = (gen.user + gen.system) / r.requests.total
    const genCores = (gen.user + gen.system) / 1e6 / seconds
    const heap = gc === undefined ? '' : `  heap ${Math.round(gc.allocatedBytes / r.requests.total)} B/req GC ${(gc.gcCostUs / r.requests.total).toFixed(2)} us/req`
    const commits = sync0 === undefined || sync1 === undefined || sync1.count === sync0.count
      ? ''
      : commitFigures(r.requests.total, sync1.count - sync0.count, sync1.sumSec - sync0.sumSec, seconds)
    process.stdout.write(`${s.label.padEnd(9)} ${String(rate).padStart(7)} req/s  main thread ${cpuUsPerReq.toFixed(1)} us CPU/req (user ${userUsPerReq.toFixed(1)} sys ${sysUsPerReq.toFixed(1)}), all threads ${allUsPerReq.toFixed(1)}  generator ${genUsPerReq.toFixed(1)} us/req (${genCores.toFixed(2)} cores)${heap}${commits}  p50 ${r.latency.p50} ms p99 ${r.latency.p99} ms  non2xx ${r.non2xx} errors ${r.errors}  load ${loadavg()[0]?.toFixed(2)}\n`)
    // Every request the child served, for prof-summary.ts (CPU per request from the profile).
    if (profile !== undefined) process.stdout.write(`          profile ${profile} requests ${warm + r.requests.total}\n`)
    return { rate, cpuUsPerReq }
  } finally {
    await stop(child, dir)
  }
}

/**
 * Publishes per commit, the mean fsync, and the gap: the mean time between commits less the mean fsync, when
 * the disk has no commit of this site in flight (commits are one at a time: store COMMITS_IN_FLIGHT_MAX). In a
 * closed loop every request waits for about two commits, so the gap is rate lost to the main thread's turn
 * between one commit's completion and the next one's issue.
 */
function commitFigures (requests: number, commits: number, fsyncSec: number, runSec: number): string {
  const fsyncMs = fsyncSec * 1e3 / commits
  const gapMs = runSec * 1e3 / commits - fsyncMs
  return `  ${(requests / commits).toFixed(1)} req/commit fsync ${fsyncMs.toFixed(3)} ms gap ${gapMs.toFixed(3)} ms`
}

function median (xs: number[]): number { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] as number }

async function main (): Promise<void> {
  const rates = new Map<string, number[]>(systems.map((s) => [s.label, []]))
  const cpus = new Map<string, number[]>(systems.map((s) => [s.label, []]))
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < systems.length; i++) {
      const s = systems[(i + r) % systems.length] as System
      const one = await runOne(s)
      rates.get(s.label)?.push(one.rate)
      cpus.get(s.label)?.push(one.cpuUsPerReq)
    }
  }
  const ceiling = median(rates.get('uws-bare') ?? [])
  for (const s of systems) {
    const xs = rates.get(s.label) ?? []
    const cs = cpus.get(s.label) ?? []
    const us = (x: number): string => x.toFixed(1)
    process.stdout.write(`${s.label.padEnd(9)} median ${median(xs)} req/s (${Math.min(...xs)}-${Math.max(...xs)})  ratio ${(median(xs) / ceiling).toFixed(2)}  ${us(median(cs))} us CPU/req (${us(Math.min(...cs))}-${us(Math.max(...cs))})  ${s.dist}\n`)
  }
}

main().catch((err: unknown) => { process.stderr.write(`ab-uws: ${String(err)}\n`); process.exit(1) })
