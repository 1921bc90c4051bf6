/**
 * Child process entry for the Node-hosted systems of the peer benchmark, so
 * each broker has its own process and event loop, like the native peers:
 *
 *   tsx loadtest/peers/broker-child.ts KIND DATA_DIR
 *
 * KIND: `null` (do-nothing broker), `aedes` (Aedes 1.x, in-memory persistence),
 * `ferry` / `ferry-memory` (a Ferry dev site, sync or memory durability for
 * public/default), `uws-bare` (a bare uWebSockets.js HTTP handler: the HTTP
 * ceiling), `uws-bare-later` (the same, answering from a later loop turn). Prints one line `{"ports":{"mqtt":P,"ws":P,"http":P}}` when ready;
 * exits when stdin closes (the parent went away) or on SIGTERM.
 * FERRY_BENCH_MQTT_LIMITS (JSON) overrides Ferry's MQTT limits, for A/B runs of one limit.
 * Lines `gc-start` / `gc-stop` on stdin bracket a measured run: the answer
 * `{"gc":{allocatedBytes,gcs,gcCostUs}}` is what the process allocated on the
 * heap in between (summed from V8's GC statistics) and what its GCs cost.
 * FERRY_BENCH_HEAP_SAMPLE=FILE also samples where that heap was allocated
 * (garbage included) and writes the sampling heap profile to FILE at gc-stop.
 * Lines `mem-start` / `mem-stop` bracket a run for where its memory went
 * (bench:topics): the answer `{"mem":{promotedBytes,majorGcs,oldSpaceCommittedMaxBytes}}`
 * (see MemWatch). A line `snapshot FILE` writes a heap snapshot to FILE and
 * answers `{"snapshot":FILE}`. Lines `watch-start` / `watch-stop` bracket a run
 * for where its latency went: `{"watch":BrokerWatchFigures}` (broker-watch.ts:
 * loop delay, GC pauses, and Ferry's publish and fsync times).
 */
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { createServer as createHttpServer } from 'node:http'
import { WebSocketServer, createWebSocketStream } from 'ws'
import { GCProfiler, writeHeapSnapshot } from 'node:v8'
import { Session } from 'node:inspector'
import { writeFileSync } from 'node:fs'
import { startNullBroker } from './null-broker.js'
import { freePort } from './launch.js'
import { BrokerWatch, type Observed } from './broker-watch.js'

type Ports = Record<string, number>

/** Ferry's publish and fsync timers (gateway/ops metrics), for BrokerWatch to tap. */
let ferryTimers: { publish: Observed, fsync: Observed } | undefined

async function startAedes (): Promise<Ports> {
  const { Aedes } = await import('aedes')
  const broker = await Aedes.createBroker()
  const mqttPort = await freePort()
  const tcp = createServer(broker.handle)
  await new Promise<void>((resolve) => { tcp.listen(mqttPort, '127.0.0.1', resolve) })
  const wsPort = await freePort()
  const http = createHttpServer()
  const wss = new WebSocketServer({ server: http, path: '/mqtt' })
  wss.on('connection', (ws, req) => { broker.handle(createWebSocketStream(ws) as never, req) })
  await new Promise<void>((resolve) => { http.listen(wsPort, '127.0.0.1', resolve) })
  return { mqtt: mqttPort, ws: wsPort }
}

async function startFerry (dataDir: string, memory: boolean): Promise<Ports> {
  const { startGateway } = await import('../../gateway/index.js')
  const gw = await startGateway({
    siteId: 'bench',
    dataDir,
    dev: true,
    host: '127.0.0.1',
    mqttPort: 0,
    httpPort: 0,
    ...(memory ? { namespaces: { 'public/default': { durability: 'memory' } } } : {}),
    ...(process.env.FERRY_BENCH_MQTT_LIMITS !== undefined ? { mqttLimits: JSON.parse(process.env.FERRY_BENCH_MQTT_LIMITS) as Record<string, number> } : {})
  })
  ferryTimers = { publish: gw.ops.metrics.publishSeconds, fsync: gw.ops.metrics.fsyncSeconds }
  const ports: Ports = {}
  if (gw.ports.mqtt !== undefined) ports.mqtt = gw.ports.mqtt
  if (gw.ports.http !== undefined) { ports.http = gw.ports.http; ports.ws = gw.ports.http }
  return ports
}

/**
 * `later`: answer from a later loop turn (setImmediate), outside uWS's own
 * cork, as any handler that waits for something does: the bare cost of an
 * asynchronous reply (its send is made by the JS call, not after the handler).
 */
async function startUwsBare (later: boolean): Promise<Ports> {
  const { uws } = await import('../../gateway/index.js')
  const port = await freePort()
  const app = uws.App()
  // The least an HTTP publish endpoint can do: read the body, answer 201 with a small JSON.
  app.post('/*', (res) => {
    let aborted = false
    res.onAborted(() => { aborted = true })
    const reply = (): void => {
      if (aborted) return
      res.cork(() => { res.writeStatus('201 Created').writeHeader('content-type', 'application/json').end('{"id":0}') })
    }
    res.onData((_chunk, last) => {
      if (!last || aborted) return
      if (later) setImmediate(reply)
      else reply()
    })
  })
  await new Promise<void>((resolve, reject) => { app.listen('127.0.0.1', port, (s) => { if (s === false) reject(new Error('uws listen')); else resolve() }) })
  return { http: port }
}

/** Bytes between heap samples (V8's default is 32 KiB; finer for a per-message picture). */
const HEAP_SAMPLE_INTERVAL_BYTES = 4096
let inspector: Session | undefined

function heapSampling (on: boolean): void {
  const file = process.env.FERRY_BENCH_HEAP_SAMPLE
  if (file === undefined) return
  if (on) {
    inspector = new Session()
    inspector.connect()
    inspector.post('HeapProfiler.startSampling', { samplingInterval: HEAP_SAMPLE_INTERVAL_BYTES, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
    return
  }
  inspector?.post('HeapProfiler.stopSampling', (err, res) => {
    if (err === null) writeFileSync(file, JSON.stringify(res.profile))
    inspector?.disconnect()
  })
}

interface GcStat { cost: number, beforeGC: { heapStatistics: { usedHeapSize: number } }, afterGC: { heapStatistics: { usedHeapSize: number } } }

/** Bytes allocated between GCs (each GC's heap before it, less the heap after the one before), GC count and cost. */
function gcSummary (profile: unknown): { allocatedBytes: number, gcs: number, gcCostUs: number } {
  const stats = ((profile as { statistics?: GcStat[] } | undefined)?.statistics ?? [])
  let allocatedBytes = 0
  let gcCostUs = 0
  let after: number | undefined
  for (const s of stats) {
    const before = s.beforeGC.heapStatistics.usedHeapSize
    if (after !== undefined) allocatedBytes += Math.max(0, before - after)
    after = s.afterGC.heapStatistics.usedHeapSize
    gcCostUs += s.cost
  }
  return { allocatedBytes, gcs: stats.length, gcCostUs }
}

/** How often MemWatch folds V8's per-GC statistics into its sums, ms: the profiler keeps every GC's record until stopped (a few KB each, tens of thousands in a million-topic run). */
const MEM_WATCH_FOLD_MS = 1000

interface SpaceStat { spaceName: string, spaceSize: number, spaceUsedSize: number }
interface GcRecord { gcType: string, beforeGC: { heapSpaceStatistics: SpaceStat[] }, afterGC: { heapSpaceStatistics: SpaceStat[] } }

function space (stats: SpaceStat[], name: string): SpaceStat | undefined { return stats.find((s) => s.spaceName === name) }

/**
 * What reached V8's old generation during a run: bytes promoted by minor GCs
 * (old space used after a scavenge less before it), major GCs (mark-compact)
 * and the most old space ever committed. Objects that live just long enough
 * to be promoted and then die are the cost RSS shows and a GC'd heap figure
 * hides: this attributes it.
 */
class MemWatch {
  private profiler = new GCProfiler()
  private readonly timer: NodeJS.Timeout
  promotedBytes = 0
  majorGcs = 0
  oldSpaceCommittedMaxBytes = 0

  constructor () {
    this.profiler.start()
    this.timer = setInterval(() => { this.fold(); this.profiler = new GCProfiler(); this.profiler.start() }, MEM_WATCH_FOLD_MS)
  }

  private fold (): void {
    const stats = ((this.profiler.stop() as { statistics?: GcRecord[] } | undefined)?.statistics ?? [])
    for (const g of stats) {
      const before = space(g.beforeGC.heapSpaceStatistics, 'old_space')
      const after = space(g.afterGC.heapSpaceStatistics, 'old_space')
      if (g.gcType === 'MarkSweepCompact') this.majorGcs++
      else if (before !== undefined && after !== undefined) this.promotedBytes += Math.max(0, after.spaceUsedSize - before.spaceUsedSize)
      this.oldSpaceCommittedMaxBytes = Math.max(this.oldSpaceCommittedMaxBytes, before?.spaceSize ?? 0, after?.spaceSize ?? 0)
    }
  }

  stop (): { promotedBytes: number, majorGcs: number, oldSpaceCommittedMaxBytes: number } {
    clearInterval(this.timer)
    this.fold()
    return { promotedBytes: this.promotedBytes, majorGcs: this.majorGcs, oldSpaceCommittedMaxBytes: this.oldSpaceCommittedMaxBytes }
  }
}

async function main (): Promise<void> {
  const [kind, dataDir] = process.argv.slice(2)
  let ports: Ports
  if (kind === 'null') {
    const port = await freePort()
    await startNullBroker(port)
    ports = { mqtt: port }
  } else if (kind === 'aedes') ports = await startAedes()
  else if (kind === 'ferry' || kind === 'ferry-memory') ports = await startFerry(dataDir ?? '.', kind === 'ferry-memory')
  else if (kind === 'uws-bare' || kind === 'uws-bare-later') ports = await startUwsBare(kind === 'uws-bare-later')
  else throw new Error(`unknown broker kind ${String(kind)}`)
  process.stdout.write(JSON.stringify({ ports }) + '\n')
  process.on('SIGTERM', () => { process.exit(0) })
  process.stdin.on('end', () => { process.exit(0) })
  // A line `heap` on stdin answers with this process's heap figures (after a GC when --expose-gc), for per-topic memory.
  let gcProfiler: GCProfiler | undefined
  let memWatch: MemWatch | undefined
  let watch: BrokerWatch | undefined
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() === 'watch-start') {
      watch = new BrokerWatch()
      if (ferryTimers !== undefined) { watch.tap('publish', ferryTimers.publish); watch.tap('fsync', ferryTimers.fsync) }
      return
    }
    if (line.trim() === 'watch-stop' && watch !== undefined) {
      process.stdout.write(JSON.stringify({ watch: watch.stop() }) + '\n')
      watch = undefined
      return
    }
    if (line.trim() === 'mem-start') { memWatch = new MemWatch(); return }
    if (line.trim() === 'mem-stop' && memWatch !== undefined) {
      process.stdout.write(JSON.stringify({ mem: memWatch.stop() }) + '\n')
      memWatch = undefined
      return
    }
    if (line.startsWith('snapshot ')) {
      const file = writeHeapSnapshot(line.slice('snapshot '.length).trim())
      process.stdout.write(JSON.stringify({ snapshot: file }) + '\n')
      return
    }
    if (line.trim() === 'gc-start') { gcProfiler = new GCProfiler(); gcProfiler.start(); heapSampling(true); return }
    if (line.trim() === 'gc-stop' && gcProfiler !== undefined) {
      heapSampling(false)
      process.stdout.write(JSON.stringify({ gc: gcSummary(gcProfiler.stop()) }) + '\n')
      gcProfiler = undefined
      return
    }
    if (line.trim() !== 'heap') return
    const g = (globalThis as { gc?: () => void }).gc
    if (g !== undefined) g()
    const m = process.memoryUsage()
    process.stdout.write(JSON.stringify({ heap: { heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, rss: m.rss } }) + '\n')
  })
}

main().catch((err: unknown) => { process.stderr.write(`broker-child: ${String(err)}\n`); process.exit(1) })
