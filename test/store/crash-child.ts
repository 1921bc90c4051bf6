/**
 * Child process of crash.test.ts: appends and acknowledges in a loop on a
 * real directory and prints what was acknowledged, until it is killed.
 *   A <topic> <entryId> <payload>   an append resolved (durable)
 *   K <topic> <entryId>             an ack resolved (durable)
 */
import { createFileLedger } from '../../store/index.js'

const dir = process.argv[2] as string
const checkpointIntervalMs = Number(process.argv[3] ?? 50)
const l = createFileLedger({
  siteId: 'crash',
  dir,
  policyOf: () => ({ durability: 'sync', retentionMs: -1, retentionBytes: -1, ttlMs: 0 }),
  segmentSizeBytes: 32 * 1024,
  checkpointIntervalMs
})
await l.open()
const topics = ['c/0', 'c/1', 'c/2']
const cursors = await Promise.all(topics.map(async (t) => await l.cursor(t, 'sub', { durable: true, start: { kind: 'earliest' } })))
process.stdout.write('READY\n')
let n = 0
async function worker (w: number): Promise<void> {
  for (;;) {
    const i = n++
    const ti = i % topics.length
    const topic = topics[ti] as string
    const payload = `p${i}-${'z'.repeat(i % 97)}`
    const r = await l.append({ topic, payload: Buffer.from(payload) })
    process.stdout.write(`A ${topic} ${r.entryId} ${payload}\n`)
    if ((i + w) % 3 === 0) {
      await (cursors[ti] as Awaited<ReturnType<typeof l.cursor>>).ack([r.entryId])
      process.stdout.write(`K ${topic} ${r.entryId}\n`)
    }
  }
}
await Promise.all(Array.from({ length: 8 }, async (_, w) => { await worker(w) }))
