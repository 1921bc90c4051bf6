/**
 * Replication benchmark: `npm run bench:replication [-- --json] [-- --quick]`
 * (runs the compiled build: `tsc`, then dist/loadtest/bench-replication.js).
 *
 * Two sites (file ledgers, sync durability, 128-byte payloads), each with its
 * own nats-server joined by a NATS gateway, the real replicator between them.
 * Site a (publisher and sender) runs in this process, site b (receiver) in a
 * child process, as two sites would run on two machines; `--one-process`
 * runs both here (the way figures before pipelining were taken). Measures,
 * in this run on this machine:
 * - local durable publish throughput at site a (no link running), msgs/s;
 * - replicated throughput: messages published at a as fast as possible and
 *   the time until b holds them all (durable there), msgs/s, and its ratio to
 *   local; beside it the publish rate at a while the link runs
 *   (`replicatedPhasePublishMsgsPerSec`: when it equals the replicated rate,
 *   the link kept pace and the publisher was what slowed) and the CPU
 *   microseconds per message in each process (`cpuUsPerMsgSiteA` with the
 *   publishing, `cpuUsPerMsgSiteB`, `cpuUsPerMsgLocal` for phase 1 alone),
 *   which depend on the machine's load much less than msgs/s do; of site a's,
 *   the part on its main thread (`cpuUsPerMsgSiteAMainThread`, the event loop:
 *   the rest is the thread pool's writes and fsyncs), the CPU of both
 *   nats-servers (`cpuUsPerMsgNatsServers`) and the entries per batch the link
 *   sent (`replicatedEntriesPerBatch`; `lagEntriesPerBatch` at the fixed rate);
 * - drain: the pace of the link alone, shipping the backlog of the local
 *   phase (100,000 messages, no publisher running) until b holds it durably,
 *   msgs/s (`drainMsgsPerSec`), and the CPU microseconds per
 *   message of the sender and the receiver meanwhile (`drainCpuUsPerMsg*`:
 *   compare with `cpuUsPerMsgLocal`, what a durable publish costs; the
 *   `...MainThread` figures are the event loop's part of the sender's and of
 *   the local publish's, the rest being the thread pool and V8's helpers);
 * - lag at a fixed rate (10,000 msgs/s by default): arrival at b minus the
 *   publish time at a, p50 / p99 / max ms (origin publish time travels);
 * - catch-up: seconds to ship a 100,000-message backlog built while b's
 *   region server was down.
 * An unmeasured warm-up burst comes first, shipped to b by a link that is
 * closed again before the local phase: it warms both processes, so the drain's
 * receiver figure is b's steady cost, not the JIT warm-up of its fresh child
 * (before, a second drain after the first cost b half). `--throughput-only` stops after the
 * replicated phase; FERRY_BENCH_MARKS=1 prints phase marks in the monotonic
 * microseconds of a `node --cpu-prof` (both processes), to slice profiles.
 * `--site-b-dir DIR` puts site b's ledger under DIR (another disk; /dev/shm takes b's fsyncs off the disk a
 * uses: session 12 found no gain from it, so the two sites' fsyncs on one disk are not what holds the ratio).
 * npm runs it with the gateway's node flags (gateway/node-flags.ts; site b's fork inherits them), as gateways run.
 * `--plain 0` ships every message decoded, as before session 15 (REPL_SHIP_PLAIN_RECORDS; A/B in one build).
 * `--coalesce-ms N` sets site a's REPL_BATCH_COALESCE_MS (0: coalescing off; A/B runs in one build),
 * `--coalesce-entries N` its REPL_BATCH_COALESCE_ENTRIES_MIN, `--coalesce-inflight N` its REPL_BATCH_COALESCE_INFLIGHT_MIN.
 * Prints a table to stderr, or one JSON line on stdout with --json (with the
 * link's pipelining and coalescing bounds, so figures from different settings are not mixed up).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import * as hdr from 'hdr-histogram-js'
import { silentLogger } from '../common/log.js'
import { startGateway, type Gateway } from '../gateway/index.js'
import { ReplLimits, connectNats, startReplicator, staticPlan, type LinkTransport, type Replicator } from '../replicator/index.js'
import { freePort, natsService, type NatsRegion, type Service } from '../topology/index.js'

const json = process.argv.includes('--json')
const quick = process.argv.includes('--quick')
const oneProcess = process.argv.includes('--one-process')
const throughputOnly = process.argv.includes('--throughput-only')
/** `--site-b-dir DIR`: site b's ledger under DIR (another disk, or /dev/shm to take b's fsyncs off the disk a uses). */
const siteBDirArg = ((i) => i >= 0 ? process.argv[i + 1] : undefined)(process.argv.indexOf('--site-b-dir'))
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : dflt
}
const NS = 'bench/repl'
const PAYLOAD = Buffer.alloc(128, 0x61)
const THROUGHPUT_MESSAGES = quick ? 20_000 : 100_000
const LAG_RATE_PER_SEC = arg('--rate', 10_000)
const COALESCE_MS = arg('--coalesce-ms', ReplLimits.REPL_BATCH_COALESCE_MS)
const COALESCE_ENTRIES_MIN = arg('--coalesce-entries', ReplLimits.REPL_BATCH_COALESCE_ENTRIES_MIN)
const COALESCE_INFLIGHT_MIN = arg('--coalesce-inflight', ReplLimits.REPL_BATCH_COALESCE_INFLIGHT_MIN)
/** Site a's REPL_SHIP_PLAIN_RECORDS (1: plain records travel as the log holds them; 0: decoded, as before session 15). */
const SHIP_PLAIN = arg('--plain', ReplLimits.REPL_SHIP_PLAIN_RECORDS)
/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on Linux). */
const PROC_TICKS_PER_SEC = 100
const LAG_SECONDS = quick ? 3 : 10
const BACKLOG_MESSAGES = quick ? 20_000 : 100_000
/** Published before anything is measured (the same site, not measured; it ships with the rest). */
const WARMUP_MESSAGES = quick ? 5_000 : 20_000
/** Publishes in flight at once at the origin: enough to fill group commits. */
const PUBLISH_CONCURRENCY = 256
/** Pacing tick of the fixed-rate phase. */
const TICK_MS = 5
/** How long the closed site-b child may take to exit (writing a CPU profile takes a moment) before it is killed. */
const CHILD_EXIT_WAIT_MS = 10_000

/** With FERRY_BENCH_MARKS=1: phase boundaries on stderr in the monotonic microseconds of a --cpu-prof (to slice profiles by phase). */
function mark (phase: string): void {
  if (process.env.FERRY_BENCH_MARKS === '1') process.stderr.write(`MARK ${phase} ${process.hrtime.bigint() / 1000n}\n`)
}

function log (msg: string): void {
  if (!json) process.stderr.write(msg + '\n')
}

interface Site { gw: Gateway, transport: LinkTransport, replicator: Replicator | undefined }

/**
 * `--publish promise`: publish through `ledger.append` (one promise per message, as before session 14) instead of
 * `ledger.appendTo` with a sink (the way the gateway's publish path calls the store: gateway/dispatch/publish-path.ts).
 */
const publishApi = ((i) => i >= 0 ? process.argv[i + 1] : 'sink')(process.argv.indexOf('--publish'))
if (publishApi !== 'sink' && publishApi !== 'promise') throw new Error(`--publish sink|promise, not ${String(publishApi)}`)

type AppendSinkOf = Parameters<Gateway['ledger']['appendTo']>[1]

/** One burst's outcomes: counts them down, resolves once all are in (rejects with the first failure). */
class BurstSink implements AppendSinkOf {
  left = 0
  failure: unknown = undefined
  done: () => void = () => {}
  appended (): void { if (--this.left === 0) this.done() }
  appendFailed (err: unknown): void { this.failure ??= err; if (--this.left === 0) this.done() }
}

/** Publish `n` messages at site a, PUBLISH_CONCURRENCY in flight: each burst waits for all of its appends to be durable. */
async function publishBurst (gw: Gateway, topic: string, n: number): Promise<void> {
  if (publishApi === 'promise') {
    for (let i = 0; i < n; i += PUBLISH_CONCURRENCY) {
      const burst: Array<Promise<unknown>> = []
      for (let j = i; j < Math.min(n, i + PUBLISH_CONCURRENCY); j++) burst.push(gw.ledger.append({ topic, payload: PAYLOAD }))
      await Promise.all(burst)
    }
    return
  }
  // The store keeps nothing of an input but its payload: one input serves every append of the topic.
  const input = { topic, payload: PAYLOAD }
  const sink = new BurstSink()
  for (let i = 0; i < n; i += PUBLISH_CONCURRENCY) {
    const size = Math.min(n - i, PUBLISH_CONCURRENCY)
    sink.left = size
    const all = new Promise<void>((resolve) => { sink.done = resolve })
    for (let j = 0; j < size; j++) gw.ledger.appendTo(input, sink)
    await all
    if (sink.failure !== undefined) throw sink.failure
  }
}

/** Site b as the bench drives it: in this process or in a child. */
interface SiteB {
  count: (topic: string) => Promise<number>
  startRepl: () => Promise<void>
  /** Record arrival - origin publish time of every entry of the topic from now on. */
  lagStart: (topic: string) => Promise<void>
  lagStop: () => Promise<{ p50: number, p99: number, max: number }>
  /** CPU time the site's process has used, microseconds (user + system). */
  cpuUs: () => Promise<number>
  close: () => Promise<void>
}

interface SiteBConfig { dataDir: string, nats: string }

const newHistogram = (): hdr.Histogram => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000, numberOfSignificantValueDigits: 3 })

/** Site b's side, wherever it runs. */
async function openSiteB (cfg: SiteBConfig, plan: ReturnType<typeof staticPlan>): Promise<SiteB> {
  const gw = await startGateway({ siteId: 'b', dataDir: cfg.dataDir, dev: true, host: '127.0.0.1', namespaces: { [NS]: {} }, logger: silentLogger })
  const transport = await connectNats({ servers: cfg.nats, network: 'bench', name: 'bench-b' })
  let replicator: Replicator | undefined
  let h = newHistogram()
  let off: (() => void) | undefined
  return {
    count: async (topic) => gw.ledger.topicInfo(topic)?.nextEntryId ?? 0,
    startRepl: async () => { replicator = await startReplicator({ siteId: 'b', ledger: gw.ledger, transport, plan, logger: silentLogger }) },
    lagStart: async (lagTopic) => {
      h = newHistogram()
      let seen = 0
      off = gw.ledger.onAppend((topic, last) => {
        if (topic !== lagTopic) return
        const from = seen
        seen = last + 1
        // Arrival is now (durable and readable here); the read only fetches the publish times (before session 15 the
        // clock was read once the read resolved, adding the read's own wait to the lag).
        const arrived = Date.now()
        void gw.ledger.read(lagTopic, from, { maxEntries: last + 1 - from }).then((es) => { for (const e of es) h.recordValue(Math.max(1, arrived - e.publishTime)) })
      })
    },
    lagStop: async () => {
      await new Promise((resolve) => setTimeout(resolve, 200))
      off?.()
      return { p50: h.getValueAtPercentile(50), p99: h.getValueAtPercentile(99), max: h.maxValue }
    },
    cpuUs: async () => cpuUsNow(),
    close: async () => { await replicator?.close(); await transport.close(); await gw.close() }
  }
}

function cpuUsNow (): number {
  const u = process.cpuUsage()
  return u.user + u.system
}

/**
 * CPU of one thread or process from /proc, microseconds (utime + stime; 10 ms
 * ticks, fine over a phase of seconds). `task`: a thread of this process (its
 * main thread's id is the pid). NaN where /proc is not there.
 */
function procCpuUs (pid: number, task?: number): number {
  try {
    const stat = readFileSync(task === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${task}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces, in parentheses): utime and stime are the 12th and 13th.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / PROC_TICKS_PER_SEC * 1e6
  } catch {
    return NaN
  }
}

const mainThreadCpuUs = (): number => procCpuUs(process.pid, process.pid)
const natsCpuUs = (nats: Service[]): number => nats.reduce((n, s) => n + (s.pid === undefined ? NaN : procCpuUs(s.pid)), 0)
const perMsg = (us: number, n: number): number => Math.round(us / n * 100) / 100

/** Entries and entry-carrying batches a's link has sent so far. */
function linkBatches (r: Replicator | undefined): { entries: number, batches: number } {
  const l = r?.stats().links[0]
  return { entries: l?.entriesShipped ?? 0, batches: l?.entryBatchesSent ?? 0 }
}

const entriesPerBatch = (b0: { entries: number, batches: number }, b1: { entries: number, batches: number }): number =>
  b1.batches > b0.batches ? Math.round((b1.entries - b0.entries) / (b1.batches - b0.batches) * 10) / 10 : 0

interface Call { id: number, op: keyof SiteB, arg?: string }

/** Site b in a child process (this file with --site-b), driven over IPC. */
function childSiteB (cfg: SiteBConfig): SiteB {
  const child: ChildProcess = fork(process.argv[1] as string, ['--site-b', JSON.stringify(cfg)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  let next = 0
  const waiting = new Map<number, (v: unknown) => void>()
  // Calls wait for the child's first message: it has opened site b and listens.
  const ready = new Promise<unknown>((resolve) => { waiting.set(-1, resolve) })
  child.on('exit', (code) => { for (const w of waiting.values()) w(new Error(`site b exited (${String(code)})`)) })
  child.on('message', (m: { id: number, value?: unknown, error?: string }) => {
    const w = waiting.get(m.id)
    waiting.delete(m.id)
    w?.(m.error !== undefined ? new Error(m.error) : m.value)
  })
  const call = async <T>(op: keyof SiteB, arg?: string): Promise<T> => {
    const up = await ready
    if (up instanceof Error) throw up
    const id = next++
    const v = await new Promise<unknown>((resolve) => { waiting.set(id, resolve); child.send({ id, op, arg } satisfies Call) })
    if (v instanceof Error) throw v
    return v as T
  }
  return {
    count: async (topic) => await call<number>('count', topic),
    startRepl: async () => { await call('startRepl') },
    lagStart: async (topic) => { await call('lagStart', topic) },
    lagStop: async () => await call('lagStop'),
    cpuUs: async () => await call<number>('cpuUs'),
    close: async () => {
      // The child exits by itself once closed (so a --cpu-prof of it gets written); killed only if it does not.
      const exited = new Promise<void>((resolve) => { if (child.exitCode !== null) resolve(); else child.once('exit', () => { resolve() }) })
      await call('close').catch(() => {})
      const timer = setTimeout(() => { child.kill() }, CHILD_EXIT_WAIT_MS)
      await exited
      clearTimeout(timer)
    }
  }
}

async function runSiteBChild (): Promise<void> {
  const cfg = JSON.parse(process.argv[process.argv.indexOf('--site-b') + 1] as string) as SiteBConfig
  const b = await openSiteB(cfg, staticPlan({ [NS]: ['a', 'b'] }))
  process.on('message', (m: Call) => {
    const op = b[m.op] as (arg?: string) => Promise<unknown>
    op(m.arg).then((value) => { process.send?.({ id: m.id, value: value ?? null }) }, (err: unknown) => { process.send?.({ id: m.id, error: String(err) }) })
      .then(() => { if (m.op === 'close') process.exit(0) }, () => {})
  })
  process.send?.({ id: -1 })
}

async function waitCountB (b: SiteB, topic: string, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (let have = await b.count(topic); have < n; have = await b.count(topic)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} entries of ${topic} at b (have ${have})`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-repl-'))
  const regions: NatsRegion[] = [{ name: 'a', port: await freePort(), gatewayPort: await freePort() }, { name: 'b', port: await freePort(), gatewayPort: await freePort() }]
  const nats: Service[] = []
  for (const r of regions) nats.push(await natsService(join(dir, 'nats'), r, regions))
  await Promise.all(nats.map(async (s) => { await s.start() }))
  const plan = staticPlan({ [NS]: ['a', 'b'] })
  const gwA = await startGateway({ siteId: 'a', dataDir: join(dir, 'a'), dev: true, host: '127.0.0.1', namespaces: { [NS]: {} }, logger: silentLogger })
  const a: Site = { gw: gwA, transport: await connectNats({ servers: (nats[0] as Service).url, network: 'bench', name: 'bench-a' }), replicator: undefined }
  const bDirParent = siteBDirArg === undefined ? dir : await mkdtemp(join(siteBDirArg, 'ferry-bench-repl-b-'))
  const bCfg: SiteBConfig = { dataDir: join(bDirParent, 'b'), nats: (nats[1] as Service).url }
  const b = oneProcess ? await openSiteB(bCfg, plan) : childSiteB(bCfg)
  // The 1-minute load average at the start and the end: a figure measured on a busy machine is marked by it.
  const loadAverage1m = loadavg()[0] as number
  const result: Record<string, number> = {}
  const linkLimits = { REPL_BATCH_COALESCE_MS: COALESCE_MS, REPL_BATCH_COALESCE_ENTRIES_MIN: COALESCE_ENTRIES_MIN, REPL_BATCH_COALESCE_INFLIGHT_MIN: COALESCE_INFLIGHT_MIN, REPL_SHIP_PLAIN_RECORDS: SHIP_PLAIN }
  try {
    // 0. Unmeasured warm-up: a fresh Node process spends its first second in the interpreter (docs/BENCHMARKS.md).
    // Both processes: the warm-up ships to b over a link that is closed again before phase 1, so b's child has run
    // its receive path before the drain is timed (else the drain's receiver figure was mostly b's JIT warm-up).
    await b.startRepl()
    a.replicator = await startReplicator({ siteId: 'a', ledger: a.gw.ledger, transport: a.transport, plan, logger: silentLogger, limits: linkLimits })
    await publishBurst(a.gw, `${NS}/warmup`, WARMUP_MESSAGES)
    await waitCountB(b, `${NS}/warmup`, WARMUP_MESSAGES, 300_000)
    await a.replicator.close()
    a.replicator = undefined
    // 1. Local durable publish throughput, no link.
    const cpuLocal0 = cpuUsNow()
    const mainLocal0 = mainThreadCpuUs()
    let t0 = performance.now()
    await publishBurst(a.gw, `${NS}/local`, THROUGHPUT_MESSAGES)
    result.localPublishMsgsPerSec = Math.round(THROUGHPUT_MESSAGES / ((performance.now() - t0) / 1000))
    result.cpuUsPerMsgLocal = Math.round((cpuUsNow() - cpuLocal0) / THROUGHPUT_MESSAGES * 100) / 100
    // Its main-thread part, to set against cpuUsPerMsgSiteAMainThread (what the link adds on the event loop).
    result.cpuUsPerMsgLocalMainThread = perMsg(mainThreadCpuUs() - mainLocal0, THROUGHPUT_MESSAGES)
    log(`local durable publish: ${result.localPublishMsgsPerSec} msgs/s`)

    // 2. Replicated throughput (the local topic above ships too: start the links, let it drain first).
    // The backlog of phase 1 drains first, with no publisher running: the link's own pace, timed as drainMsgsPerSec.
    // b serves already (since phase 0), so a's link finds it at once.
    mark('drain-start')
    const drainCpuA0 = cpuUsNow()
    const drainMainA0 = mainThreadCpuUs()
    const drainCpuB0 = await b.cpuUs()
    t0 = performance.now()
    a.replicator = await startReplicator({ siteId: 'a', ledger: a.gw.ledger, transport: a.transport, plan, logger: silentLogger, limits: linkLimits })
    await waitCountB(b, `${NS}/local`, THROUGHPUT_MESSAGES, 300_000)
    const drained = THROUGHPUT_MESSAGES
    result.drainMsgsPerSec = Math.round(drained / ((performance.now() - t0) / 1000))
    mark('drain-end')
    log(`drain of a ${drained}-message backlog (link alone): ${result.drainMsgsPerSec} msgs/s`)
    // The link's own CPU per message: the sender (a publishes nothing now) and the receiver.
    const drainCpuA = cpuUsNow() - drainCpuA0
    const drainCpuB = await b.cpuUs() - drainCpuB0
    if (!oneProcess) {
      result.drainCpuUsPerMsgSender = Math.round(drainCpuA / drained * 100) / 100
      result.drainCpuUsPerMsgSenderMainThread = perMsg(mainThreadCpuUs() - drainMainA0, drained)
      result.drainCpuUsPerMsgReceiver = Math.round(drainCpuB / drained * 100) / 100
    }
    mark('tput-start')
    const cpuA0 = cpuUsNow()
    const cpuB0 = await b.cpuUs()
    const mainA0 = mainThreadCpuUs()
    const nats0 = natsCpuUs(nats)
    const batches0 = linkBatches(a.replicator)
    t0 = performance.now()
    await publishBurst(a.gw, `${NS}/tput`, THROUGHPUT_MESSAGES)
    // The publish rate at a with the link running (the rest of the time is b catching up).
    result.replicatedPhasePublishMsgsPerSec = Math.round(THROUGHPUT_MESSAGES / ((performance.now() - t0) / 1000))
    await waitCountB(b, `${NS}/tput`, THROUGHPUT_MESSAGES, 300_000)
    mark('tput-end')
    // CPU per replicated message in each process (publishing included at a): does not depend on the machine's load the way msgs/s does.
    const cpuA = cpuUsNow() - cpuA0
    const cpuB = await b.cpuUs() - cpuB0
    result.cpuUsPerMsgSiteAMainThread = perMsg(mainThreadCpuUs() - mainA0, THROUGHPUT_MESSAGES)
    result.cpuUsPerMsgNatsServers = perMsg(natsCpuUs(nats) - nats0, THROUGHPUT_MESSAGES)
    // The answers of the last batches may still be on their way: entries counted when acknowledged.
    result.replicatedEntriesPerBatch = entriesPerBatch(batches0, linkBatches(a.replicator))
    if (oneProcess) {
      result.cpuUsPerMsgBothSites = Math.round(cpuA / THROUGHPUT_MESSAGES * 100) / 100
    } else {
      result.cpuUsPerMsgSiteA = Math.round(cpuA / THROUGHPUT_MESSAGES * 100) / 100
      result.cpuUsPerMsgSiteB = Math.round(cpuB / THROUGHPUT_MESSAGES * 100) / 100
    }
    result.replicatedMsgsPerSec = Math.round(THROUGHPUT_MESSAGES / ((performance.now() - t0) / 1000))
    result.replicatedToLocalRatio = Math.round(result.replicatedMsgsPerSec / result.localPublishMsgsPerSec * 100) / 100
    log(`replicated: ${result.replicatedMsgsPerSec} msgs/s (${result.replicatedToLocalRatio} of local)`)
    log(`  cpu us/msg: site a ${result.cpuUsPerMsgSiteA ?? result.cpuUsPerMsgBothSites} (main thread ${result.cpuUsPerMsgSiteAMainThread}), nats-servers ${result.cpuUsPerMsgNatsServers}; ${result.replicatedEntriesPerBatch} entries/batch`)

    // --throughput-only: stop here (profiles of the throughput phase alone).
    if (!throughputOnly) await lagAndCatchUp(a, b, nats, result)
  } finally {
    await a.replicator?.close(); await a.transport.close(); await a.gw.close()
    await b.close()
    for (const s of nats) await s.stop()
    await rm(dir, { recursive: true, force: true })
    if (bDirParent !== dir) await rm(bDirParent, { recursive: true, force: true })
  }
  const link = {
    batchEntriesMax: ReplLimits.REPL_BATCH_ENTRIES_MAX,
    inflightBatchesMax: ReplLimits.REPL_INFLIGHT_BATCHES_MAX,
    inflightBytesMax: ReplLimits.REPL_INFLIGHT_BYTES_MAX,
    batchCoalesceMs: COALESCE_MS,
    batchCoalesceEntriesMin: COALESCE_ENTRIES_MIN,
    batchCoalesceInflightMin: COALESCE_INFLIGHT_MIN,
    shipPlainRecords: SHIP_PLAIN
  }
  if (json) process.stdout.write(JSON.stringify({ bench: 'replication', quick, processes: oneProcess ? 1 : 2, loadAverage1m, loadAverage1mAtEnd: loadavg()[0], ...result, link }) + '\n')
}

/** Phases 3 and 4: lag at a fixed rate, catch-up of a backlog. */
async function lagAndCatchUp (a: Site, b: SiteB, nats: Service[], result: Record<string, number>): Promise<void> {
  // 3. Lag at a fixed rate: arrival at b (durable there) minus publish time at a.
  const lagTopic = `${NS}/lag`
  await b.lagStart(lagTopic)
  const total = LAG_RATE_PER_SEC * LAG_SECONDS
  const perTick = LAG_RATE_PER_SEC * TICK_MS / 1000
  let sent = 0
  const batches0 = linkBatches(a.replicator)
  const started = Date.now()
  const inflight: Array<Promise<unknown>> = []
  // The origin's own share of the lag: each publish's wait until durable at a (a disk stall there shows here too).
  const publishUs = newHistogram()
  const timed = (t0: number) => () => { publishUs.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000))) }
  while (sent < total) {
    const due = Math.min(total, Math.floor((Date.now() - started) / 1000 * LAG_RATE_PER_SEC) + perTick)
    for (; sent < due; sent++) inflight.push(a.gw.ledger.append({ topic: lagTopic, payload: PAYLOAD }).then(timed(performance.now())))
    await new Promise((resolve) => setTimeout(resolve, TICK_MS))
  }
  await Promise.all(inflight)
  result.lagPublishP99Ms = Math.round(publishUs.getValueAtPercentile(99) / 10) / 100
  result.lagPublishMaxMs = Math.round(publishUs.maxValue / 10) / 100
  await waitCountB(b, lagTopic, total, 300_000)
  const lag = await b.lagStop()
  result.lagRatePerSec = LAG_RATE_PER_SEC
  result.lagP50Ms = lag.p50
  result.lagP99Ms = lag.p99
  result.lagMaxMs = lag.max
  result.lagEntriesPerBatch = entriesPerBatch(batches0, linkBatches(a.replicator))
  log(`lag at ${LAG_RATE_PER_SEC} msgs/s: p50 ${result.lagP50Ms} ms, p99 ${result.lagP99Ms} ms, max ${result.lagMaxMs} ms`)

  // 4. Catch-up of a backlog built while b's region was down.
  await (nats[1] as Service).kill()
  await publishBurst(a.gw, `${NS}/backlog`, BACKLOG_MESSAGES)
  await (nats[1] as Service).start()
  const t0 = performance.now()
  await waitCountB(b, `${NS}/backlog`, BACKLOG_MESSAGES, 600_000)
  const secs = (performance.now() - t0) / 1000
  result.catchUpSecondsPer100k = Math.round(secs * (100_000 / BACKLOG_MESSAGES) * 100) / 100
  log(`catch-up: ${result.catchUpSecondsPer100k} s per 100,000 backlog`)
}

if (process.argv.includes('--site-b')) {
  runSiteBChild().catch((err: unknown) => { process.stderr.write(`bench-replication site b failed: ${String(err)}\n`); process.exit(1) })
} else {
  main().then(() => { process.exit(0) }, (err: unknown) => { process.stderr.write(`bench-replication failed: ${String(err)}\n`); process.exit(1) })
}
