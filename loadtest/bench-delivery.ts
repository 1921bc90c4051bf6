/**
 * Delivery benchmark: `npm run bench:delivery [-- --json] [-- --quick]`.
 *
 * Measures, in this run on this machine:
 * - dispatch throughput per subscription mode, 8 consumers (exclusive: 1,
 *   since it admits one), each consumer acking every message and returning
 *   the permit, hardened redelivery counts on (the default). Ledger: memory
 *   durability (the dispatcher's cost, not the disk's) and the file ledger
 *   with async durability;
 * - memory held per 1,000,000 pending delayed messages (heap delta after gc,
 *   file ledger, in a child started with --expose-gc): the ledger's indexes
 *   plus whatever the dispatcher keeps (it keeps no per-message state);
 * - delay lateness: delivery time minus deliverAt, p50 / p99 / max.
 * Prints a table to stderr, or one JSON line on stdout with --json.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { silentLogger } from '../common/log.js'
import { createDispatcher, PolicyRegistry, type Consumer, type Delivery, type Dispatcher, type NamespacePolicyPatch, type SubscriptionMode } from '../gateway/index.js'
import { createFileLedger, createMemoryLedger, type AppendInput, type Ledger } from '../store/index.js'

const json = process.argv.includes('--json')
const quick = process.argv.includes('--quick')
const NS = 'bench/ns'
const CONSUMERS = 8
const PAYLOAD = Buffer.alloc(128, 0x61)
const THROUGHPUT_MESSAGES = quick ? 50_000 : 200_000
const DELAYED_PENDING = quick ? 200_000 : 1_000_000
const LATENESS_MESSAGES = quick ? 500 : 2000
const LATENESS_SPREAD_MS = quick ? 1000 : 3000
/** Permits each consumer holds: an MQTT receive maximum of a busy client. */
const PERMITS_PER_CONSUMER = 500
const APPEND_BATCH = 1000

function log (msg: string): void {
  if (!json) process.stderr.write(msg + '\n')
}

interface Site { ledger: Ledger, policies: PolicyRegistry, dispatcher: Dispatcher, close: () => Promise<void> }

async function site (kind: 'memory' | 'file-async', policy: NamespacePolicyPatch = {}, tailCacheBytes?: number): Promise<Site> {
  const durability = kind === 'memory' ? 'memory' : 'async'
  const policies = new PolicyRegistry({ [NS]: { durability, ...policy } })
  const policyOf = (topic: string): ReturnType<PolicyRegistry['storePolicy']> => policies.storePolicy(topic)
  let dir: string | undefined
  let ledger: Ledger
  if (kind === 'memory') {
    ledger = createMemoryLedger({ siteId: 'bench', policyOf, retentionIntervalMs: 0, checkpointIntervalMs: 0 })
  } else {
    dir = await mkdtemp(join(process.env.FERRY_BENCH_DIR ?? tmpdir(), 'ferry-bench-delivery-'))
    ledger = createFileLedger({ siteId: 'bench', dir, policyOf, retentionIntervalMs: 0, checkpointIntervalMs: 0, ...(tailCacheBytes !== undefined ? { tailCacheBytes } : {}) })
  }
  await ledger.open()
  policies.attach(ledger)
  const dispatcher = createDispatcher({ ledger, policies, siteId: 'bench', logger: silentLogger })
  return {
    ledger,
    policies,
    dispatcher,
    close: async () => {
      await dispatcher.close()
      await ledger.close()
      if (dir !== undefined) await rm(dir, { recursive: true, force: true })
    }
  }
}

async function fill (ledger: Ledger, topic: string, n: number, props: (i: number) => AppendInput['props'] = () => undefined): Promise<void> {
  for (let i = 0; i < n; i += APPEND_BATCH) {
    const batch: AppendInput[] = []
    for (let j = i; j < Math.min(n, i + APPEND_BATCH); j++) batch.push({ topic, payload: PAYLOAD, props: props(j) })
    await ledger.appendMany(batch)
  }
}

/** Messages per second a subscription of `mode` hands to 8 consumers that ack each one. */
async function throughput (kind: 'memory' | 'file-async', mode: SubscriptionMode, messages = THROUGHPUT_MESSAGES): Promise<number> {
  const s = await site(kind)
  const topic = `${NS}/t`
  // The subscription exists before the messages, so the whole backlog is its to deliver.
  const probe = await s.dispatcher.subscribe({ namespace: NS, filter: 't', subscription: 'b', mode, durable: true, initialPosition: 'earliest', consumerName: 'probe', permits: 0, sink: { deliver: () => {} } })
  await probe.close()
  await fill(s.ledger, topic, messages, (i) => ({ key: `k${i % 1024}` }))
  let received = 0
  let done: () => void = () => {}
  const finished = new Promise<void>((resolve) => { done = resolve })
  const t0 = performance.now()
  const n = mode === 'exclusive' ? 1 : CONSUMERS
  const consumers: Consumer[] = []
  for (let c = 0; c < n; c++) {
    let self: Consumer | undefined
    const deliver = (d: Delivery): void => {
      received++
      const me = self as Consumer
      // Ack and return the permit, as an MQTT session does on PUBACK.
      void me.ack(d.topic, d.entryId)
      me.addPermits(1)
      if (received === messages) done()
    }
    self = await s.dispatcher.subscribe({ namespace: NS, filter: 't', subscription: 'b', mode, durable: true, initialPosition: 'earliest', consumerName: `c${c}`, permits: PERMITS_PER_CONSUMER, sink: { deliver } })
    consumers.push(self)
  }
  await finished
  const rate = messages / ((performance.now() - t0) / 1000)
  const backlog = s.dispatcher.stats().subscriptions[0]?.backlog ?? -1
  if (backlog !== 0) throw new Error(`benchmark lost acks: backlog ${backlog}`)
  await s.close()
  return rate
}

/** Delivery time minus deliverAt over LATENESS_MESSAGES delayed messages (shared, 8 consumers). */
async function lateness (): Promise<{ p50: number, p99: number, max: number, early: number }> {
  const s = await site('memory')
  const topic = `${NS}/delayed`
  const late: number[] = []
  let early = 0
  let done: () => void = () => {}
  const finished = new Promise<void>((resolve) => { done = resolve })
  for (let c = 0; c < CONSUMERS; c++) {
    let self: Consumer | undefined
    self = await s.dispatcher.subscribe({
      namespace: NS, filter: 'delayed', subscription: 'late', mode: 'shared', durable: true, initialPosition: 'earliest', consumerName: `c${c}`, permits: PERMITS_PER_CONSUMER,
      sink: {
        deliver: (d) => {
          const lag = Date.now() - (d.props.deliverAt ?? 0)
          if (lag < 0) early++
          late.push(lag)
          void self?.ack(d.topic, d.entryId)
          self?.addPermits(1)
          if (late.length === LATENESS_MESSAGES) done()
        }
      }
    })
  }
  // Far enough ahead that every message is stored before the first is due: lateness is the dispatcher's alone.
  const start = Date.now() + 1000
  for (let i = 0; i < LATENESS_MESSAGES; i++) {
    await s.dispatcher.publish({ topic, payload: PAYLOAD, props: { deliverAt: start + Math.floor(Math.random() * LATENESS_SPREAD_MS) } })
  }
  if (Date.now() >= start) throw new Error('publishing took longer than the lead time; lateness would include it')
  await finished
  await s.close()
  late.sort((a, b) => a - b)
  const q = (p: number): number => late[Math.min(late.length - 1, Math.floor(p * late.length))] as number
  return { p50: q(0.5), p99: q(0.99), max: late[late.length - 1] as number, early }
}

/** In a child with --expose-gc: heap held for DELAYED_PENDING delayed messages, ledger indexes vs dispatcher. */
async function delayedMemoryChild (): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with --expose-gc')
  // JS heap plus ArrayBuffers (the ledger's indexes are typed arrays); the tail cache is shrunk to 1 MiB so it does not count.
  const heap = (): number => { gc(); gc(); const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers }
  const s = await site('file-async', {}, 1024 * 1024)
  const topic = `${NS}/delayed`
  const consumer = await s.dispatcher.subscribe({ namespace: NS, filter: 'delayed', subscription: 'd', mode: 'shared', durable: true, initialPosition: 'earliest', consumerName: 'c', permits: 100, sink: { deliver: () => {} } })
  const base = heap()
  const far = Date.now() + 3_600_000
  await fill(s.ledger, topic, DELAYED_PENDING, (i) => ({ deliverAt: far + i }))
  // Wait until the dispatcher has read past every one of them.
  while ((s.dispatcher.stats().subscriptions[0]?.delayedPending ?? 0) < DELAYED_PENDING) await new Promise((resolve) => setTimeout(resolve, 50))
  const total = heap() - base
  await consumer.close()
  // With nobody attached the dispatcher drops what it held; what remains is the ledger's.
  const ledgerOnly = heap() - base
  process.stdout.write(JSON.stringify({ pending: DELAYED_PENDING, totalBytes: total, ledgerBytes: ledgerOnly, dispatcherBytes: total - ledgerOnly }) + '\n')
  await s.close()
}

/** In a child with --expose-gc: heap per idle (topic, durable subscription) of a wildcard subscription nobody consumes. */
async function idleMemoryChild (): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with --expose-gc')
  const topics = quick ? 20_000 : 100_000
  const s = await site('memory')
  for (let i = 0; i < topics; i += APPEND_BATCH) {
    const batch: AppendInput[] = []
    for (let j = i; j < Math.min(topics, i + APPEND_BATCH); j++) batch.push({ topic: `${NS}/idle/${j}`, payload: Buffer.alloc(1) })
    await s.ledger.appendMany(batch)
  }
  gc(); gc()
  const before = process.memoryUsage().heapUsed
  const c = await s.dispatcher.subscribe({ namespace: NS, filter: 'idle/+', subscription: 'idle', mode: 'shared', durable: true, initialPosition: 'latest', consumerName: 'c', permits: 0, sink: { deliver: () => {} } })
  await c.close()
  gc(); gc()
  const bytes = (process.memoryUsage().heapUsed - before) / topics
  process.stdout.write(JSON.stringify({ topics, bytesPerTopicSubscription: Math.round(bytes) }) + '\n')
  await s.close()
}

async function runChild<T> (flag: string): Promise<T> {
  const self = fileURLToPath(import.meta.url)
  const child = spawn(process.execPath, ['--expose-gc', '--max-old-space-size=4096', '--import', 'tsx', self, flag, ...(quick ? ['--quick'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (b: Buffer) => { out += b.toString() })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  if (code !== 0) throw new Error(`${flag} child exited with ${String(code)}`)
  return JSON.parse(out.trim().split('\n').pop() as string) as T
}

async function delayedMemory (): Promise<{ pending: number, totalBytes: number, ledgerBytes: number, dispatcherBytes: number }> {
  return await runChild('--delayed-memory-child')
}

async function main (): Promise<void> {
  if (process.argv.includes('--delayed-memory-child')) { await delayedMemoryChild(); return }
  if (process.argv.includes('--idle-memory-child')) { await idleMemoryChild(); return }
  const modes: SubscriptionMode[] = ['exclusive', 'failover', 'shared', 'key_shared']
  // Warm the JIT so the first mode measured is not penalised.
  for (const mode of modes) await throughput('memory', mode, 20_000)
  const result: Record<string, unknown> = { cpus: cpus().length, node: process.version, consumers: CONSUMERS, messages: THROUGHPUT_MESSAGES, payloadBytes: PAYLOAD.length, hardenRedeliveryCount: true }
  for (const kind of ['memory', 'file-async'] as const) {
    const rates: Record<string, number> = {}
    for (const mode of modes) {
      rates[mode] = Math.round(await throughput(kind, mode))
      log(`dispatch ${kind.padEnd(10)} ${mode.padEnd(10)} ${rates[mode]} msgs/s (${mode === 'exclusive' ? 1 : CONSUMERS} consumers, ack per message)`)
    }
    result[`dispatchMsgsPerSec_${kind.replace('-', '_')}`] = rates
  }
  const mem = await delayedMemory()
  const per1M = (b: number): number => Math.round(b * 1_000_000 / mem.pending)
  result.delayedMemoryBytesPer1M = { total: per1M(mem.totalBytes), ledgerIndexes: per1M(mem.ledgerBytes), dispatcher: per1M(mem.dispatcherBytes), measuredPending: mem.pending }
  log(`delayed: ${per1M(mem.totalBytes)} bytes per 1M pending (ledger ${per1M(mem.ledgerBytes)}, dispatcher ${per1M(mem.dispatcherBytes)}; measured with ${mem.pending})`)
  const idle = await runChild<{ topics: number, bytesPerTopicSubscription: number }>('--idle-memory-child')
  result.idleSubscriptionBytesPerTopic = idle.bytesPerTopicSubscription
  log(`idle durable subscription: ${idle.bytesPerTopicSubscription} bytes per topic spanned (ledger cursor included; ${idle.topics} topics)`)
  const late = await lateness()
  result.delayLatenessMs = late
  log(`delay lateness: p50 ${late.p50} ms, p99 ${late.p99} ms, max ${late.max} ms, early ${late.early}`)
  if (json) process.stdout.write(JSON.stringify(result) + '\n')
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
})
