/**
 * `ferry bench mqtt|http`: the project's load generators for users' own
 * deployments (the way `nats bench` and `emqtt-bench` work). MQTT uses the
 * lean generator (precomputed frames, pipelined window; closed loop, or open
 * loop with `--rate`); HTTP uses autocannon. Every MQTT run checks that each
 * acknowledged message arrived once and exits 1 when one did not.
 */
import { createRequire } from 'node:module'
import type { Command } from 'commander'
import { intArg, qosArg } from './args.js'

interface MqttBenchOptions { url: string, pubs: number, subs: number, qos: 0 | 1, size: number, window: number, topics: number, seconds: number, rate?: number, json?: boolean }
interface HttpBenchOptions { url: string, connections: number, size: number, seconds: number, json?: boolean }

type Autocannon = (opts: Record<string, unknown>) => Promise<{ requests: { average: number }, latency: { p50: number, p99: number, p99_9?: number, max: number }, non2xx: number, errors: number }>
// The generators load when a bench runs, not when the CLI starts (every `ferry` command would pay for them).
const autocannon = (opts: Record<string, unknown>): ReturnType<Autocannon> => (createRequire(import.meta.url)('autocannon') as Autocannon)(opts)

export function registerBench (program: Command): void {
  const bench = program.command('bench').description('measure a running gateway (or any MQTT broker)')
  bench.command('mqtt')
    .description('MQTT publish/subscribe load: msgs/s and latency p50/p99/p99.9, with a loss and duplicate check')
    .option('--url <url>', 'mqtt://host:port or ws://host:port/mqtt', 'mqtt://127.0.0.1:1883')
    .option('--pubs <n>', 'publisher connections', intArg, 4)
    .option('--subs <n>', 'subscriber connections (each subscribes to every topic)', intArg, 1)
    .option('--qos <qos>', 'QoS 0 or 1', qosArg, 1)
    .option('--size <bytes>', 'payload bytes (at least 16)', intArg, 256)
    .option('--window <n>', 'unacknowledged publishes per publisher', intArg, 64)
    .option('--topics <n>', 'distinct topics per publisher', intArg, 1)
    .option('--seconds <s>', 'duration', intArg, 10)
    .option('--rate <msgs/s>', 'open loop at this total rate (latency without coordinated omission)', intArg)
    .option('--json', 'one JSON line')
    .action(async (o: MqttBenchOptions) => {
      if (o.qos !== 0 && o.qos !== 1) throw new Error('--qos must be 0 or 1 for the benchmark')
      const { runLean } = await import('../loadtest/lean/run.js')
      const r = await runLean({ url: o.url, publishers: o.pubs, subscribers: o.subs, qos: o.qos, payloadBytes: o.size, windowPerPublisher: o.window, topicsPerPublisher: o.topics, seconds: o.seconds, ...(o.rate !== undefined ? { openLoopRatePerSec: o.rate } : {}), label: 'ferry bench' })
      if (o.json === true) process.stdout.write(JSON.stringify(r) + '\n')
      else {
        process.stdout.write(`published ${r.published} (${r.publishedPerSec.toLocaleString('en-US')}/s), delivered ${r.delivered} (${r.deliveredPerSec.toLocaleString('en-US')}/s)\n`)
        process.stdout.write(`latency ms: p50 ${r.latencyMs.p50}  p99 ${r.latencyMs.p99}  p99.9 ${r.latencyMs.p999}  max ${r.latencyMs.max}\n`)
        process.stdout.write(r.ok ? 'check: every acknowledged message arrived once\n' : `check FAILED: ${r.problems.join('; ')}\n`)
      }
      process.exit(r.ok ? 0 : 1)
    })
  bench.command('http')
    .description('HTTP publish load with autocannon: req/s and latency')
    .option('--url <url>', 'publish URL', 'http://127.0.0.1:8080/v1/topics/public/default/bench/messages')
    .option('--connections <n>', 'concurrent connections', intArg, 32)
    .option('--size <bytes>', 'body bytes', intArg, 256)
    .option('--seconds <s>', 'duration', intArg, 10)
    .option('--json', 'one JSON line')
    .action(async (o: HttpBenchOptions) => {
      const r = await autocannon({ url: o.url, method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(o.size, 0x61), connections: o.connections, duration: o.seconds })
      const out = { reqPerSec: Math.round(r.requests.average), p50Ms: r.latency.p50, p99Ms: r.latency.p99, maxMs: r.latency.max, non2xx: r.non2xx, errors: r.errors }
      if (o.json === true) process.stdout.write(JSON.stringify(out) + '\n')
      else process.stdout.write(`${out.reqPerSec.toLocaleString('en-US')} req/s, p50 ${out.p50Ms} ms, p99 ${out.p99Ms} ms, non-2xx ${out.non2xx}, errors ${out.errors}\n`)
      process.exit(out.non2xx === 0 && out.errors === 0 ? 0 : 1)
    })
}
