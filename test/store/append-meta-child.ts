/**
 * Child process of append-meta.test.ts: appends messages that carry metadata
 * on a real directory, printing what resolved, until it is killed.
 * Message i (payload `p<i>`, entry id i of topic am/0) puts key `k<i>` = i in
 * space `am`; every fifth one also deletes `k<i-1>`.
 *   A <i>   the append of message i resolved (durable)
 */
import { createFileLedger, type MetaPut } from '../../store/index.js'

const dir = process.argv[2] as string
const l = createFileLedger({
  siteId: 'crash',
  dir,
  policyOf: () => ({ durability: 'sync', retentionMs: -1, retentionBytes: -1, ttlMs: 0 }),
  segmentSizeBytes: 32 * 1024,
  checkpointIntervalMs: 40 // fuzzy checkpoints land among the appends
})
await l.open()
const start = l.topicInfo('am/0')?.nextEntryId ?? 0
process.stdout.write('READY\n')
let n = start
async function worker (): Promise<void> {
  for (;;) {
    const i = n++
    const meta: MetaPut[] = [{ space: 'am', key: `k${i}`, value: i }]
    if (i % 5 === 0 && i > 0) meta.push({ space: 'am', key: `k${i - 1}`, value: undefined })
    await l.append({ topic: 'am/0', payload: Buffer.from(`p${i}-${'z'.repeat(i % 61)}`), meta })
    process.stdout.write(`A ${i}\n`)
  }
}
await Promise.all(Array.from({ length: 8 }, async () => { await worker() }))
