import { createFileLedger } from '../index.js'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
const mode = process.argv[2]
const dir = mode === 'fill' ? await mkdtemp(join(tmpdir(), 'fb-rec-')) : process.argv[3] as string
const mk = () => createFileLedger({ siteId: 's', dir, policyOf: () => ({ durability: 'async', retentionMs: -1, retentionBytes: -1, ttlMs: 0 }), checkpointIntervalMs: 0, retentionIntervalMs: 0, segmentSizeBytes: 64 << 20 })
if (mode === 'fill') {
  const l = mk(); await l.open()
  const p = Buffer.alloc(100, 1)
  for (let i = 0; i < 1_000_000; i += 1000) await l.appendMany(Array.from({ length: 1000 }, (_, k) => ({ topic: `bench/t${(i + k) % 1000}`, payload: p })))
  await l.appendMany([{ topic: 'x', payload: p }])
  console.log(dir)
  process.exit(0)
} else {
  const l = mk(); const r = await l.open(); console.log(r)
}
