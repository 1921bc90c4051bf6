import { createFileLedger } from '../index.js'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
const rate = Number(process.argv[2] ?? 20000)
const dir = await mkdtemp(join(tmpdir(), 'fb-'))
const l = createFileLedger({ siteId: 's', dir, policyOf: () => ({ durability: 'sync', retentionMs: -1, retentionBytes: -1, ttlMs: 0 }), checkpointIntervalMs: 0, retentionIntervalMs: 0 })
await l.open()
const payload = Buffer.alloc(256, 7)
const lat: number[] = []
const t0 = performance.now(); const total = rate * 3; let issued = 0
const pending: Promise<void>[] = []
let lastReport = t0; let f0 = 0
while (issued < total) {
  const due = Math.min(total, Math.floor((performance.now() - t0) * rate / 1000))
  while (issued < due) {
    const scheduled = t0 + issued * 1000 / rate
    pending.push(l.append({ topic: `bench/t${issued % 64}`, payload }).then(() => { lat.push(performance.now() - scheduled) }))
    issued++
  }
  if (performance.now() - lastReport > 500) {
    const s = l.stats(); console.log(((performance.now() - t0) / 1000).toFixed(1), 'issued', issued, 'done', lat.length, 'fsyncs', s.fsyncs - f0); f0 = s.fsyncs; lastReport = performance.now()
  }
  await new Promise((r) => setImmediate(r))
}
await Promise.all(pending)
lat.sort((a, b) => a - b)
console.log('p50', lat[Math.floor(lat.length * 0.5)], 'p99', lat[Math.floor(lat.length * 0.99)], 'max', lat[lat.length - 1])
await l.close()
