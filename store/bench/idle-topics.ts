/**
 * Child of bench-store.ts (run with --expose-gc): memory per idle topic.
 * Appends one entry to each of N topics of a file ledger and prints the
 * heap + array-buffer growth per topic as JSON.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createFileLedger } from '../index.js'

const topics = Number(process.argv[2] ?? 1_000_000)
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with --expose-gc')
let checkpointBytes = 0
const dir = await mkdtemp(join(process.env.FERRY_BENCH_DIR ?? tmpdir(), 'ferry-idle-'))
const l = createFileLedger({
  siteId: 'bench', dir, policyOf: () => ({ durability: 'async', retentionMs: -1, retentionBytes: -1, ttlMs: 0 }),
  checkpointIntervalMs: 0, retentionIntervalMs: 0, maxTopics: topics + 10,
  // The tail cache is a fixed budget, not per topic: keep it out of the measurement.
  tailCacheBytes: 0,
  onEvent: (e, d) => { if (e === 'checkpoint') checkpointBytes = d.bytes as number }
})
await l.open()
await l.append({ topic: 'warm/up', payload: Buffer.from('x') })
gc(); gc()
const before = process.memoryUsage()
const payload = Buffer.alloc(16, 1)
const batch = 2000
for (let i = 0; i < topics; i += batch) {
  await l.appendMany(Array.from({ length: Math.min(batch, topics - i) }, (_, k) => ({ topic: `tenant/ns/idle-topic-${i + k}`, payload })))
}
gc(); gc()
const after = process.memoryUsage()
const heap = after.heapUsed - before.heapUsed
const buffers = after.arrayBuffers - before.arrayBuffers
const t0 = performance.now()
await l.checkpoint()
const checkpointMs = performance.now() - t0
process.stdout.write(JSON.stringify({ topics, heapBytesPerTopic: heap / topics, bytesPerTopic: (heap + buffers) / topics, checkpointMs, checkpointBytes }) + '\n')
await l.close()
await rm(dir, { recursive: true, force: true })
