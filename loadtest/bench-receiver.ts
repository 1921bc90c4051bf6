/**
 * A replication receiver alone: `node dist/loadtest/bench-receiver.js [--entries N] [--messages N]`
 * (compiled build), one JSON line on stdout.
 *
 * A site-b gateway (file ledger, sync durability, as bench-replication's site
 * b) and its Receiver, fed batches encoded beforehand (128-byte payloads, the
 * props a sender ships for a local publish), REPL_INFLIGHT_BATCHES_MAX in
 * flight as a link keeps them, with no NATS and no sender in the process: the
 * CPU a receiving site spends per applied message on decode, apply, group
 * commit and answer. Reports CPU microseconds per message of the process (the
 * thread pool's writes and fsyncs included), of its main thread, and the GC
 * pauses per message, after an unmeasured warm-up (a fresh process runs its
 * first batches in the interpreter: bench-replication's drain phase is the
 * first work its site b does, which is why its drain figure is about twice
 * its live one). Run with GATEWAY_NODE_FLAGS (gateway/node-flags.ts), as gateways are.
 */
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PerformanceObserver } from 'node:perf_hooks'
import { silentLogger } from '../common/log.js'
import { startGateway } from '../gateway/index.js'
import { ReplLimits } from '../replicator/index.js'
import { decodeAnswer, encodeBatch, type WireItem } from '../replicator/codec.js'
import { Receiver } from '../replicator/receiver.js'
import { Lane } from '../store/index.js'

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : dflt
}
const NS = 'bench/repl'
const PAYLOAD = Buffer.alloc(128, 0x61)
/** Entries per batch: a draining link's full batches (the live phase of bench-replication sends 400-750). */
const BATCH_ENTRIES = arg('--entries', ReplLimits.REPL_BATCH_ENTRIES_MAX)
const MEASURED_MESSAGES = arg('--messages', 200_000)
/** Applied before anything is measured: enough for the JIT to settle. */
const WARMUP_MESSAGES = 100_000
/** Sender lsns between two entries (a record of ~180 bytes in the sender's log). */
const LSN_STEP = 180
/** Clock ticks per second of /proc/<pid>/task/<tid>/stat's utime and stime (USER_HZ). */
const PROC_TICKS_PER_SEC = 100

interface Figures { usPerMsg: number, mainThreadUsPerMsg: number, gcPauseUsPerMsg: number, msgsPerSec: number, refused: number }

let gcMs = 0
new PerformanceObserver((l) => { for (const e of l.getEntries()) gcMs += e.duration }).observe({ entryTypes: ['gc'] })

function mainThreadCpuUs (): number {
  const stat = readFileSync(`/proc/${process.pid}/task/${process.pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / PROC_TICKS_PER_SEC * 1e6
}

const round2 = (n: number): number => Math.round(n * 100) / 100

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-receiver-'))
  const gw = await startGateway({ siteId: 'b', dataDir: dir, dev: true, host: '127.0.0.1', namespaces: { [NS]: {} }, logger: silentLogger })
  const receiver = new Receiver(gw.ledger, 'b', silentLogger)
  let lsn = -1
  let entryId = 0
  /** The next batch of the link a -> b, as a Uint8Array (what NATS hands a receiver). */
  const nextBatch = (topic: string): Uint8Array => {
    const after = lsn
    const items: WireItem[] = []
    for (let i = 0; i < BATCH_ENTRIES; i++) {
      lsn += LSN_STEP
      items.push({ kind: 'message', lsn, topic, entryId: entryId++, publishTime: Date.now(), payload: PAYLOAD, props: {} })
    }
    return new Uint8Array(encodeBatch({ from: 'a', to: 'b', lane: Lane.normal, after, through: lsn, items }))
  }
  const run = async (messages: number, topic: string): Promise<Figures> => {
    const batches: Uint8Array[] = []
    for (let n = 0; n < messages; n += BATCH_ENTRIES) batches.push(nextBatch(topic))
    const inflight = new Set<Promise<void>>()
    let refused = 0
    const cpu0 = process.cpuUsage()
    const main0 = mainThreadCpuUs()
    const gc0 = gcMs
    const t0 = performance.now()
    for (const data of batches) {
      while (inflight.size >= ReplLimits.REPL_INFLIGHT_BATCHES_MAX) await Promise.race(inflight)
      const p: Promise<void> = receiver.handle(data).then((a) => { if (!decodeAnswer(a).ok) refused++; inflight.delete(p) })
      inflight.add(p)
    }
    await Promise.all(inflight)
    const cpu = process.cpuUsage(cpu0)
    const n = batches.length * BATCH_ENTRIES
    return {
      usPerMsg: round2((cpu.user + cpu.system) / n),
      mainThreadUsPerMsg: round2((mainThreadCpuUs() - main0) / n),
      gcPauseUsPerMsg: round2((gcMs - gc0) * 1000 / n),
      msgsPerSec: Math.round(n / ((performance.now() - t0) / 1000)),
      refused
    }
  }
  try {
    const warmup = await run(WARMUP_MESSAGES, `${NS}/warmup`)
    const measured = await run(MEASURED_MESSAGES, `${NS}/measured`)
    const load1 = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0])
    process.stdout.write(JSON.stringify({ bench: 'receiver', batchEntries: BATCH_ENTRIES, ...measured, warmupUsPerMsg: warmup.usPerMsg, load1 }) + '\n')
  } finally {
    await gw.close()
    await rm(dir, { recursive: true, force: true })
  }
}

main().then(() => { process.exit(0) }, (err: unknown) => { process.stderr.write(`bench-receiver failed: ${String(err)}\n`); process.exit(1) })
