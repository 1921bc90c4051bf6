/**
 * The sending side of a replication link alone, without NATS or a receiver:
 * `node dist/loadtest/bench-link-send.js [--json] [--messages N] [--rounds N]`.
 *
 * A file ledger (sync durability, 128-byte payloads like bench-replication)
 * and one real Link whose transport answers every batch at once with the
 * position it covers (checking that batches follow each other). Measures the
 * CPU microseconds per message of the link's own work, the part of a
 * sender's cost that bench-replication cannot separate from the NATS client
 * and the publishing:
 * - drain: a backlog of N messages already durable, shipped by a fresh link
 *   (the reads of sealed segments from files: nothing is in the tail cache);
 * - live: N messages published (256 at a time) while the link runs, minus the
 *   CPU of publishing N alone (`livePublishCpuUsPerMsg`), so what is left is
 *   the link's share of reading the freshly written tail and encoding.
 * Each round runs both phases on a fresh ledger; figures are the median over rounds. With
 * `--verify` the fake transport also decodes every batch (codec.ts) and
 * checks that each entry arrives once, in order (not part of the figures).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../common/log.js'
import { createFileLedger, type Ledger } from '../store/index.js'
import { ReplLimits, staticPlan, startReplicator, type LinkTransport, type Replicator } from '../replicator/index.js'
import { decodeBatch, encodeAnswer, type WireItem } from '../replicator/codec.js'

const argv = process.argv
const json = argv.includes('--json')
const verify = argv.includes('--verify')
const arg = (name: string, dflt: number): number => { const i = argv.indexOf(name); return i >= 0 ? Number(argv[i + 1]) : dflt }
const MESSAGES = arg('--messages', 100_000)
const ROUNDS = arg('--rounds', 3)
const PAYLOAD = Buffer.alloc(128, 0x61)
/** Publishes in flight at once (as bench-replication). */
const PUBLISH_CONCURRENCY = 256
/** How long a phase may take before the bench gives up. */
const PHASE_TIMEOUT_MS = 120_000
const NS = 'bench/send'

/** With FERRY_BENCH_MARKS=1: phase boundaries on stderr in the monotonic microseconds of a --cpu-prof (to slice profiles by phase). */
function mark (phase: string): void {
  if (process.env.FERRY_BENCH_MARKS === '1') process.stderr.write(`MARK ${phase} ${process.hrtime.bigint() / 1000n}\n`)
}

const cpuUs = (): number => { const u = process.cpuUsage(); return u.user + u.system }
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] as number }
const round2 = (x: number): number => Math.round(x * 100) / 100

async function publish (l: Ledger, topic: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += PUBLISH_CONCURRENCY) {
    const burst: Array<Promise<unknown>> = []
    for (let j = i; j < Math.min(n, i + PUBLISH_CONCURRENCY); j++) burst.push(l.append({ topic, payload: PAYLOAD }))
    await Promise.all(burst)
  }
}

/** A remote that holds whatever it is sent, at once: the answer is the batch's `through`. */
function instantRemote (): LinkTransport {
  const held = new Map<number, number>()
  const seen = new Map<string, number>()
  const transport: LinkTransport = {
    async request (_site, data) {
      // Without --verify only the header is read (the receiver's decode is not the sender's cost).
      const b = verify ? decodeBatch(data) : headOf(data)
      const at = held.get(b.lane) ?? -1
      if (b.after > at) return encodeAnswer({ ok: false, code: 'E_REPL_POSITION', message: 'gap', position: at })
      for (const it of b.items) {
        if (it.kind !== 'message' || it.lsn <= at) continue
        const last = seen.get(it.topic) ?? -1
        if (it.entryId !== last + 1) throw new Error(`entry ${it.entryId} of ${it.topic} after ${last}`)
        seen.set(it.topic, it.entryId)
      }
      held.set(b.lane, Math.max(at, b.through))
      return encodeAnswer({ ok: true, position: Math.max(at, b.through) })
    },
    serve: () => () => {},
    connected: () => true,
    close: async () => {}
  }
  return transport
}

/** The header of a batch as codec.ts writes it (v, from, to, lane, after, through first, in that order). */
function headOf (data: Uint8Array): { lane: number, after: number, through: number, items: WireItem[] } {
  let at = 1 // the map's head (7 or 8 pairs)
  const uint = (): number => {
    const b = data[at++] as number
    if (b === 0xfb) { at += 8; return Buffer.from(data.buffer, data.byteOffset + at - 8, 8).readDoubleBE(0) }
    const major = b >> 5
    const ai = b & 31
    let v = ai
    if (ai === 24) v = data[at++] as number
    else if (ai === 25) { v = (data[at] as number) * 256 + (data[at + 1] as number); at += 2 } else if (ai === 26) { v = Buffer.from(data.buffer, data.byteOffset + at, 4).readUInt32BE(0); at += 4 } else if (ai === 27) { const d = Buffer.from(data.buffer, data.byteOffset + at, 8); v = d.readUInt32BE(0) * 2 ** 32 + d.readUInt32BE(4); at += 8 }
    if (major === 3) { at += v; return NaN } // a text string: skipped
    return major === 1 ? -1 - v : v
  }
  const f: number[] = []
  for (let i = 0; i < 6; i++) { uint(); f.push(uint()) }
  return { lane: f[3] as number, after: f[4] as number, through: f[5] as number, items: [] }
}

/** Entries the link has had acknowledged. */
const shipped = (r: Replicator | undefined): number => r?.stats().links[0]?.entriesShipped ?? 0

async function waitEntries (have: () => number, n: number): Promise<void> {
  const deadline = Date.now() + PHASE_TIMEOUT_MS
  while (have() < n) {
    if (Date.now() > deadline) throw new Error(`timed out at ${have()} of ${n} entries`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

async function round (dir: string, r: number): Promise<Record<string, number>> {
  const policyOf = (): { durability: 'sync', retentionMs: number, retentionBytes: number, ttlMs: number } => ({ durability: 'sync', retentionMs: -1, retentionBytes: -1, ttlMs: 0 })
  const ledger = createFileLedger({ dir: join(dir, `r${r}`), siteId: 'a', policyOf, checkpointIntervalMs: 0, retentionIntervalMs: 0 })
  await ledger.open()
  const transport = instantRemote()
  let repl: Replicator | undefined
  const out: Record<string, number> = {}
  try {
    // Warm-up (not measured), then the local publish alone, then the backlog is drained.
    await publish(ledger, `${NS}/warmup`, MESSAGES / 5)
    let c0 = cpuUs()
    await publish(ledger, `${NS}/local`, MESSAGES)
    out.livePublishCpuUsPerMsg = (cpuUs() - c0) / MESSAGES
    const backlog = MESSAGES + MESSAGES / 5
    mark('drain-start')
    c0 = cpuUs()
    let t0 = performance.now()
    repl = await startReplicator({ siteId: 'a', ledger, transport, plan: staticPlan({ [NS]: ['a', 'b'] }), logger: silentLogger })
    await waitEntries(() => shipped(repl), backlog)
    out.drainCpuUsPerMsg = (cpuUs() - c0) / backlog
    out.drainMsgsPerSec = backlog / ((performance.now() - t0) / 1000)
    mark('drain-end')
    c0 = cpuUs()
    t0 = performance.now()
    await publish(ledger, `${NS}/live`, MESSAGES)
    await waitEntries(() => shipped(repl), backlog + MESSAGES)
    out.liveCpuUsPerMsg = (cpuUs() - c0) / MESSAGES
    mark('live-end')
    out.liveLinkCpuUsPerMsg = out.liveCpuUsPerMsg - out.livePublishCpuUsPerMsg
    out.liveMsgsPerSec = MESSAGES / ((performance.now() - t0) / 1000)
  } finally {
    await repl?.close()
    await ledger.close()
  }
  return out
}

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-send-'))
  const rounds: Array<Record<string, number>> = []
  try {
    for (let r = 0; r < ROUNDS; r++) {
      rounds.push(await round(dir, r))
      if (!json) process.stderr.write(`round ${r}: ${JSON.stringify(Object.fromEntries(Object.entries(rounds[r] as Record<string, number>).map(([k, v]) => [k, round2(v)])))}\n`)
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  const keys = Object.keys(rounds[0] ?? {})
  const result = Object.fromEntries(keys.map((k) => [k, round2(median(rounds.map((x) => x[k] as number)))]))
  const line = { bench: 'link-send', messages: MESSAGES, rounds: ROUNDS, batchEntriesMax: ReplLimits.REPL_BATCH_ENTRIES_MAX, ...result }
  if (json) process.stdout.write(JSON.stringify(line) + '\n')
  else process.stderr.write(JSON.stringify(line) + '\n')
}

main().then(() => { process.exit(0) }, (err: unknown) => { process.stderr.write(`bench-link-send failed: ${String(err)}\n`); process.exit(1) })
