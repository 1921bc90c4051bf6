/**
 * Replication benchmark: `npm run bench:replication [-- --json] [-- --quick]`
 * (runs the compiled build: `tsc`, then dist/loadtest/bench-replication.js).
 *
 * Two sites in this process (file ledgers, sync durability, 128-byte
 * payloads), each with its own nats-server joined by a NATS gateway, the real
 * replicator between them. Measures, in this run on this machine:
 * - local durable publish throughput at site a (no link running), msgs/s;
 * - replicated throughput: messages published at a as fast as possible and
 *   the time until b holds them all, msgs/s, and its ratio to local;
 * - lag at a fixed rate (10,000 msgs/s by default): arrival at b minus the
 *   publish time at a, p50 / p99 / max ms (origin publish time travels);
 * - catch-up: seconds to ship a 100,000-message backlog built while b's
 *   region server was down.
 * Prints a table to stderr, or one JSON line on stdout with --json (with the
 * link's pipelining bounds, so figures from different settings are not mixed up).
 * Both sites share this process (one core for publisher, sender and receiver).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as hdr from 'hdr-histogram-js'
import { silentLogger } from '../common/log.js'
import { startGateway, type Gateway } from '../gateway/index.js'
import { ReplLimits, connectNats, startReplicator, staticPlan, type LinkTransport, type Replicator } from '../replicator/index.js'
import { freePort, natsService, type NatsRegion, type Service } from '../topology/index.js'

const json = process.argv.includes('--json')
const quick = process.argv.includes('--quick')
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : dflt
}
const NS = 'bench/repl'
const PAYLOAD = Buffer.alloc(128, 0x61)
const THROUGHPUT_MESSAGES = quick ? 20_000 : 100_000
const LAG_RATE_PER_SEC = arg('--rate', 10_000)
const LAG_SECONDS = quick ? 3 : 10
const BACKLOG_MESSAGES = quick ? 20_000 : 100_000
/** Publishes in flight at once at the origin: enough to fill group commits. */
const PUBLISH_CONCURRENCY = 256
/** Pacing tick of the fixed-rate phase. */
const TICK_MS = 5

function log (msg: string): void {
  if (!json) process.stderr.write(msg + '\n')
}

interface Site { gw: Gateway, transport: LinkTransport, replicator: Replicator | undefined }

async function publishBurst (gw: Gateway, topic: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += PUBLISH_CONCURRENCY) {
    const burst: Array<Promise<unknown>> = []
    for (let j = i; j < Math.min(n, i + PUBLISH_CONCURRENCY); j++) burst.push(gw.ledger.append({ topic, payload: PAYLOAD }))
    await Promise.all(burst)
  }
}

async function waitCount (gw: Gateway, topic: string, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while ((gw.ledger.topicInfo(topic)?.nextEntryId ?? 0) < n) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} entries of ${topic} (have ${gw.ledger.topicInfo(topic)?.nextEntryId ?? 0})`)
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
  const sites: Record<string, Site> = {}
  for (const [i, id] of ['a', 'b'].entries()) {
    const gw = await startGateway({ siteId: id, dataDir: join(dir, id), dev: true, host: '127.0.0.1', namespaces: { [NS]: {} }, logger: silentLogger })
    const transport = await connectNats({ servers: (nats[i] as Service).url, network: 'bench', name: `bench-${id}` })
    sites[id] = { gw, transport, replicator: undefined }
  }
  const a = sites.a as Site
  const b = sites.b as Site
  const startRepl = async (s: Site, id: string): Promise<void> => { s.replicator = await startReplicator({ siteId: id, ledger: s.gw.ledger, transport: s.transport, plan, logger: silentLogger }) }
  const result: Record<string, number> = {}
  try {
    // 1. Local durable publish throughput, no link.
    let t0 = performance.now()
    await publishBurst(a.gw, `${NS}/local`, THROUGHPUT_MESSAGES)
    result.localPublishMsgsPerSec = Math.round(THROUGHPUT_MESSAGES / ((performance.now() - t0) / 1000))
    log(`local durable publish: ${result.localPublishMsgsPerSec} msgs/s`)

    // 2. Replicated throughput (the local topic above ships too: start the links, let it drain first).
    await startRepl(a, 'a'); await startRepl(b, 'b')
    await waitCount(b.gw, `${NS}/local`, THROUGHPUT_MESSAGES, 300_000)
    t0 = performance.now()
    await publishBurst(a.gw, `${NS}/tput`, THROUGHPUT_MESSAGES)
    await waitCount(b.gw, `${NS}/tput`, THROUGHPUT_MESSAGES, 300_000)
    result.replicatedMsgsPerSec = Math.round(THROUGHPUT_MESSAGES / ((performance.now() - t0) / 1000))
    result.replicatedToLocalRatio = Math.round(result.replicatedMsgsPerSec / result.localPublishMsgsPerSec * 100) / 100
    log(`replicated: ${result.replicatedMsgsPerSec} msgs/s (${result.replicatedToLocalRatio} of local)`)

    // 3. Lag at a fixed rate: arrival at b (durable there) minus publish time at a.
    const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000, numberOfSignificantValueDigits: 3 })
    const lagTopic = `${NS}/lag`
    let seen = 0
    const off = b.gw.ledger.onAppend((topic, last) => {
      if (topic !== lagTopic) return
      const from = seen
      seen = last + 1
      void b.gw.ledger.read(lagTopic, from, { maxEntries: last + 1 - from }).then((es) => { const now = Date.now(); for (const e of es) h.recordValue(Math.max(1, now - e.publishTime)) })
    })
    const total = LAG_RATE_PER_SEC * LAG_SECONDS
    const perTick = LAG_RATE_PER_SEC * TICK_MS / 1000
    let sent = 0
    const started = Date.now()
    const inflight: Array<Promise<unknown>> = []
    while (sent < total) {
      const due = Math.min(total, Math.floor((Date.now() - started) / 1000 * LAG_RATE_PER_SEC) + perTick)
      for (; sent < due; sent++) inflight.push(a.gw.ledger.append({ topic: lagTopic, payload: PAYLOAD }))
      await new Promise((resolve) => setTimeout(resolve, TICK_MS))
    }
    await Promise.all(inflight)
    await waitCount(b.gw, lagTopic, total, 300_000)
    await new Promise((resolve) => setTimeout(resolve, 200))
    off()
    result.lagRatePerSec = LAG_RATE_PER_SEC
    result.lagP50Ms = h.getValueAtPercentile(50)
    result.lagP99Ms = h.getValueAtPercentile(99)
    result.lagMaxMs = h.maxValue
    log(`lag at ${LAG_RATE_PER_SEC} msgs/s: p50 ${result.lagP50Ms} ms, p99 ${result.lagP99Ms} ms, max ${result.lagMaxMs} ms`)

    // 4. Catch-up of a backlog built while b's region was down.
    await (nats[1] as Service).kill()
    await publishBurst(a.gw, `${NS}/backlog`, BACKLOG_MESSAGES)
    await (nats[1] as Service).start()
    t0 = performance.now()
    await waitCount(b.gw, `${NS}/backlog`, BACKLOG_MESSAGES, 600_000)
    const secs = (performance.now() - t0) / 1000
    result.catchUpSecondsPer100k = Math.round(secs * (100_000 / BACKLOG_MESSAGES) * 100) / 100
    log(`catch-up: ${result.catchUpSecondsPer100k} s per 100,000 backlog`)
  } finally {
    for (const s of Object.values(sites)) { await s.replicator?.close(); await s.transport.close(); await s.gw.close() }
    for (const s of nats) await s.stop()
    await rm(dir, { recursive: true, force: true })
  }
  const link = { batchEntriesMax: ReplLimits.REPL_BATCH_ENTRIES_MAX, inflightBatchesMax: ReplLimits.REPL_INFLIGHT_BATCHES_MAX, inflightBytesMax: ReplLimits.REPL_INFLIGHT_BYTES_MAX }
  if (json) process.stdout.write(JSON.stringify({ bench: 'replication', quick, ...result, link }) + '\n')
}

main().then(() => { process.exit(0) }, (err: unknown) => { process.stderr.write(`bench-replication failed: ${String(err)}\n`); process.exit(1) })
