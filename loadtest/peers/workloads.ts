/**
 * The workloads of `npm run bench:peers`, each a function of one running
 * peer that returns named figures. Same generator, same parameters, for every
 * system; which systems take part in which workload is listed here too.
 */
import { createRequire } from 'node:module'
import type { LeanHooks, LeanResult } from '../lean/run.js'
import { LeanConn } from '../lean/conn.js'
import { DISCONNECT_FRAME } from '../lean/frames.js'
import { cpuTimeUsOf, type PeerName, type RunningPeer } from './launch.js'
import type { BrokerWatchFigures } from './broker-watch.js'
import type { RunLean } from './generator.js'
import { PlacementKind } from './placement.js'

const autocannon = createRequire(import.meta.url)('autocannon') as (opts: Record<string, unknown>) => Promise<{ requests: { average: number, total: number }, latency: { p50: number, p99: number }, non2xx: number, errors: number }>

export interface Figures { [name: string]: number }
export interface WorkloadOutcome { figures: Figures, ok: boolean, problems: string[] }

export interface Workload {
  id: string
  title: string
  /** The figure the table and chart rank by, and whether more is better. */
  headline: string
  higherIsBetter: boolean
  /** Figures the report shows as more columns (beside p50/p99/p999). */
  columns?: string[]
  peers: PeerName[]
  /**
   * Where the generator and the system run unless `--placement` says otherwise (placement.ts): split for the
   * open-loop latency, whose due-time figure would otherwise charge a late generator to the broker; shared for
   * the throughput workloads, as measured up to session 7.
   */
  placement: PlacementKind
  run: (peer: RunningPeer, opts: WorkloadOptions) => Promise<WorkloadOutcome>
}

export interface WorkloadOptions {
  seconds: number
  idleConnections: number
  warmupSeconds: number
  /** Runs a lean scenario where the placement puts the generator (generator.ts). */
  lean: RunLean
}

const MQTT_PEERS: PeerName[] = ['ferry', 'ferry-memory', 'mosquitto', 'nats', 'aedes', 'null']
const WS_PEERS: PeerName[] = ['ferry', 'ferry-memory', 'mosquitto', 'aedes']

function fromLean (r: LeanResult): WorkloadOutcome {
  return {
    figures: {
      publishedMeasured: r.publishedMeasured,
      publishedPerSec: r.publishedPerSec,
      deliveredPerSec: r.deliveredPerSec,
      // Delivery latency from the due time (open loop; the send in closed loop), as before.
      p50Ms: r.latencyMs.p50,
      p99Ms: r.latencyMs.p99,
      p999Ms: r.latencyMs.p999,
      maxMs: r.latencyMs.max,
      // What tells the broker's tail from the generator's (loadtest/lean/timing.ts): PUBACK from the due time
      // (coordinated-omission free), delivery from the actual send, how late sends left, the generator's loop delay.
      ackP99Ms: r.timing.ack.p99,
      ackP99FromSendMs: r.timing.ackFromSend.p99,
      p99FromSendMs: r.timing.deliveryFromSend.p99,
      sendLateP99Ms: r.timing.sendLate.p99,
      generatorLoopDelayP99Ms: r.timing.generatorLoopDelay.p99,
      lost: r.lost,
      duplicates: r.duplicates,
      qos0Dropped: r.qos0Dropped
    },
    ok: r.ok,
    problems: r.problems
  }
}

/**
 * RUN (given the generator's hooks) with the system's process watched over the generator's measured window: its
 * CPU time per message published (every system, /proc), and for Node-hosted systems broker-watch.ts's figures,
 * added as `broker*`.
 */
async function watchedRun (peer: RunningPeer, run: (hooks: LeanHooks) => Promise<WorkloadOutcome>): Promise<WorkloadOutcome> {
  const { watchStart, watchStop } = peer
  let cpuAtStart: Promise<number> | undefined
  let cpuAtEnd: Promise<number> | undefined
  let watched: Promise<BrokerWatchFigures> | undefined
  const out = await run({
    measuring: () => { cpuAtStart = cpuTimeUsOf(peer.pid); watchStart?.() },
    measured: () => { cpuAtEnd = cpuTimeUsOf(peer.pid); watched = watchStop?.() }
  })
  const f = out.figures
  if (cpuAtStart !== undefined && cpuAtEnd !== undefined && (f.publishedMeasured ?? 0) > 0) {
    // The same window as publishedMeasured: µs of the system's CPU (every thread) per message published.
    f.brokerCpuUsPerMsg = Math.round((await cpuAtEnd - await cpuAtStart) / (f.publishedMeasured as number))
  }
  if (watched === undefined) return out
  const w = await watched
  f.brokerLoopDelayP99Ms = w.loopDelay.p99Ms
  f.brokerLoopDelayMaxMs = w.loopDelay.maxMs
  f.brokerGcs = w.gc.count
  f.brokerGcPauseMaxMs = w.gc.maxMs
  f.brokerGcPauseTotalMs = w.gc.totalMs
  f.brokerMajorGcs = w.gc.byKind.major?.count ?? 0
  if (w.publish !== undefined) { f.brokerPublishP50Ms = w.publish.p50Ms; f.brokerPublishP99Ms = w.publish.p99Ms }
  if (w.fsync !== undefined) {
    f.brokerFsyncs = w.fsync.count
    f.brokerFsyncP50Ms = w.fsync.p50Ms
    f.brokerFsyncP99Ms = w.fsync.p99Ms
    f.brokerFsyncMaxMs = w.fsync.maxMs
    // The share of the window a sync was in flight: with one commit at a time (store COMMITS_IN_FLIGHT_MAX) a
    // publish arriving then waits for the rest of it, so slow syncs weigh by their length, not their count.
    if (w.windowMs > 0) f.brokerFsyncBusyShare = Math.round((w.fsync.totalMs / w.windowMs) * 1000) / 1000
  }
  return out
}

function need (url: string | undefined, what: string): string {
  if (url === undefined) throw new Error(`peer has no ${what} listener`)
  return url
}

export const WORKLOADS: Workload[] = [
  {
    id: 'fanin-qos1-tcp',
    title: 'QoS 1 fan-in 4 -> 1, 256 B, 64 in flight per publisher, MQTT 3.1.1 over TCP',
    headline: 'deliveredPerSec',
    higherIsBetter: true,
    peers: MQTT_PEERS,
    placement: PlacementKind.shared,
    run: async (peer, o) => fromLean(await o.lean({ url: need(peer.mqttUrl, 'mqtt'), publishers: 4, subscribers: 1, qos: 1, payloadBytes: 256, windowPerPublisher: 64, topicsPerPublisher: 1, seconds: o.seconds, warmupSeconds: o.warmupSeconds, label: `${peer.name} fan-in tcp` }))
  },
  {
    id: 'fanin-qos1-ws',
    title: 'QoS 1 fan-in 4 -> 1, 256 B, 64 in flight per publisher, MQTT over WebSocket',
    headline: 'deliveredPerSec',
    higherIsBetter: true,
    peers: WS_PEERS,
    placement: PlacementKind.shared,
    run: async (peer, o) => fromLean(await o.lean({ url: need(peer.wsUrl, 'ws'), publishers: 4, subscribers: 1, qos: 1, payloadBytes: 256, windowPerPublisher: 64, topicsPerPublisher: 1, seconds: o.seconds, warmupSeconds: o.warmupSeconds, label: `${peer.name} fan-in ws` }))
  },
  {
    id: 'fanout-qos0',
    title: 'QoS 0 fan-out 1 -> 50 subscribers, 256 B, TCP',
    headline: 'deliveredPerSec',
    higherIsBetter: true,
    peers: MQTT_PEERS,
    placement: PlacementKind.shared,
    run: async (peer, o) => fromLean(await o.lean({ url: need(peer.mqttUrl, 'mqtt'), publishers: 1, subscribers: 50, qos: 0, payloadBytes: 256, windowPerPublisher: 500, topicsPerPublisher: 1, seconds: o.seconds, warmupSeconds: o.warmupSeconds, label: `${peer.name} fan-out` }))
  },
  {
    id: 'latency-open-10k',
    title: 'Latency, open loop 10,000 msgs/s QoS 1, 4 -> 1, 256 B, TCP (from scheduled send time)',
    headline: 'p99Ms',
    higherIsBetter: false,
    // The broker's tail against the generator's: a late generator shows in sendLateP99Ms and its loop delay.
    // And where the system's time went (watchedRun): CPU per message, and in a Node broker its loop delay, receipt to
    // durable ack, fsync.
    columns: ['ackP99Ms', 'p99FromSendMs', 'sendLateP99Ms', 'generatorLoopDelayP99Ms', 'brokerCpuUsPerMsg', 'brokerLoopDelayP99Ms', 'brokerPublishP99Ms', 'brokerFsyncP99Ms'],
    peers: MQTT_PEERS,
    placement: PlacementKind.split,
    run: async (peer, o) => await watchedRun(peer, async (hooks) => fromLean(await o.lean({ url: need(peer.mqttUrl, 'mqtt'), publishers: 4, subscribers: 1, qos: 1, payloadBytes: 256, windowPerPublisher: 64, topicsPerPublisher: 1, seconds: o.seconds, warmupSeconds: o.warmupSeconds, openLoopRatePerSec: 10_000, label: `${peer.name} latency` }, hooks)))
  },
  {
    id: 'idle-connections',
    title: 'Idle connections plus 1,000 msgs/s QoS 1: memory per connection and latency',
    headline: 'bytesPerConnection',
    higherIsBetter: false,
    peers: ['ferry', 'mosquitto', 'nats', 'aedes'],
    placement: PlacementKind.shared,
    run: async (peer, o) => {
      const url = need(peer.mqttUrl, 'mqtt')
      const before = await peer.rssBytes()
      const idle: LeanConn[] = []
      // Open in small parallel batches: a burst of 10,000 SYNs overflows the listen backlog.
      const batch = 100
      for (let i = 0; i < o.idleConnections; i += batch) {
        const n = Math.min(batch, o.idleConnections - i)
        idle.push(...await Promise.all(Array.from({ length: n }, async (_, k) => await LeanConn.open({ url }, `idle-${i + k}`))))
      }
      await new Promise((resolve) => setTimeout(resolve, 1000))
      const after = await peer.rssBytes()
      const r = await o.lean({ url, publishers: 4, subscribers: 1, qos: 1, payloadBytes: 256, windowPerPublisher: 64, topicsPerPublisher: 1, seconds: o.seconds, warmupSeconds: o.warmupSeconds, openLoopRatePerSec: 1_000, label: `${peer.name} idle+1k` })
      for (const c of idle) { c.send(DISCONNECT_FRAME); c.close() }
      const out = fromLean(r)
      out.figures.bytesPerConnection = Math.round((after - before) / o.idleConnections)
      out.figures.connections = o.idleConnections
      return out
    }
  },
  {
    id: 'http-publish',
    title: 'HTTP durable publish (autocannon, 32 connections, 256 B) against a bare uWebSockets.js handler',
    headline: 'reqPerSec',
    higherIsBetter: true,
    // autocannon runs in this process on the same 2 cores: at ~1.0 cores it, not the server, sets the rate.
    columns: ['generatorCores', 'generatorCpuUsPerReq'],
    peers: ['ferry', 'uws-bare'],
    placement: PlacementKind.shared,
    run: async (peer, o) => {
      const base = need(peer.httpUrl, 'http')
      if (o.warmupSeconds > 0) await autocannon({ url: `${base}/v1/topics/public/default/bench/messages`, method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(256, 0x61), connections: 32, duration: o.warmupSeconds })
      const cpu0 = process.cpuUsage()
      const r = await autocannon({ url: `${base}/v1/topics/public/default/bench/messages`, method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(256, 0x61), connections: 32, duration: o.seconds })
      const cpu = process.cpuUsage(cpu0)
      const generatorUs = cpu.user + cpu.system
      const problems = r.non2xx > 0 || r.errors > 0 ? [`${r.non2xx} non-2xx answers, ${r.errors} errors`] : []
      const figures = {
        reqPerSec: Math.round(r.requests.average),
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
        generatorCores: Math.round(generatorUs / 1e4 / o.seconds) / 100,
        generatorCpuUsPerReq: Math.round(generatorUs * 10 / Math.max(1, r.requests.total)) / 10
      }
      return { figures, ok: problems.length === 0, problems }
    }
  }
]
