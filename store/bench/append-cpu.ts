/**
 * CPU per sync append, for A/B rounds of the log writer (store/log-writer.ts):
 * `npx tsx store/bench/append-cpu.ts [--dsync-bytes N] [--seconds S] [--producers P]`.
 * Measures the disk's raw 4 KiB write+fdatasync rate, then P producers x 1
 * outstanding sync appends of 256 bytes for S seconds, and prints one JSON
 * line: appends/s, its ratio to the raw rate, syncs/s, process CPU (user +
 * system) per append in microseconds, and the load average. The machine may
 * be shared: alternate the variants within the same minute.
 */
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir, loadavg } from 'node:os'
import { join } from 'node:path'
import { createFileLedger } from '../index.js'

function numArg (name: string, dflt: number | undefined): number | undefined {
  const i = process.argv.indexOf(name)
  return i < 0 ? dflt : Number(process.argv[i + 1])
}
const dsyncWriteBytesMax = numArg('--dsync-bytes', undefined)
const seconds = numArg('--seconds', 3) as number
const producers = numArg('--producers', 64) as number
const PAYLOAD = Buffer.alloc(256, 0x61)
const RAW_SECONDS = 1.5
const WARMUP_SECONDS = 0.5

const base = process.env.FERRY_BENCH_DIR ?? tmpdir()

async function rawFsyncPerSec (): Promise<number> {
  const dir = await mkdtemp(join(base, 'ferry-cpu-raw-'))
  const fh = await open(join(dir, 'raw'), 'w+')
  const b = Buffer.alloc(4096, 1)
  let n = 0
  const t0 = performance.now()
  while (performance.now() - t0 < RAW_SECONDS * 1000) {
    await fh.write(b, 0, b.length, n * 4096)
    await fh.datasync()
    n++
  }
  const rate = n / ((performance.now() - t0) / 1000)
  await fh.close()
  await rm(dir, { recursive: true, force: true })
  return rate
}

const raw = await rawFsyncPerSec()
const dir = await mkdtemp(join(base, 'ferry-cpu-'))
const l = createFileLedger({
  siteId: 'bench', dir, policyOf: () => ({ durability: 'sync', retentionMs: -1, retentionBytes: -1, ttlMs: 0 }),
  checkpointIntervalMs: 0, retentionIntervalMs: 0,
  ...(dsyncWriteBytesMax !== undefined ? { dsyncWriteBytesMax } : {})
})
await l.open()
let counting = false
let count = 0
const warmEnd = performance.now() + WARMUP_SECONDS * 1000
const end = warmEnd + seconds * 1000
let cpu0 = process.cpuUsage()
let t0 = 0
let fsyncs0 = 0
setTimeout(() => { counting = true; cpu0 = process.cpuUsage(); t0 = performance.now(); fsyncs0 = l.stats().fsyncs }, WARMUP_SECONDS * 1000)
await Promise.all(Array.from({ length: producers }, async (_, p) => {
  const topic = `bench/t${p}`
  while (performance.now() < end) {
    await l.append({ topic, payload: PAYLOAD })
    if (counting) count++
  }
}))
const secs = (performance.now() - t0) / 1000
const cpu = process.cpuUsage(cpu0)
const fsyncs = l.stats().fsyncs - fsyncs0
await l.close()
await rm(dir, { recursive: true, force: true })
process.stdout.write(JSON.stringify({
  dsyncWriteBytesMax: dsyncWriteBytesMax ?? 'default',
  producers,
  appendsPerSec: Math.round(count / secs),
  rawFsyncPerSec: Math.round(raw),
  vsRawFsync: Number((count / secs / raw).toFixed(1)),
  syncsPerSec: Math.round(fsyncs / secs),
  appendsPerSync: Number((count / Math.max(1, fsyncs)).toFixed(1)),
  cpuUsPerAppend: Number(((cpu.user + cpu.system) / Math.max(1, count)).toFixed(2)),
  loadAverage: loadavg().map((x) => Number(x.toFixed(2)))
}) + '\n')
