/**
 * Child process of receiver-crash.test.ts: the receiving site of a link on a
 * real directory, fed by an in-process sender of messages 1..total (sender
 * lsn = message number, payload `m<lsn>`, topic repl/crash), pipelined like a
 * link (up to 8 batches in flight, batches of up to 97 entries with a meta
 * record every 250 lsns). Starts after the position the site holds, prints
 * every answer, exits once all are held, or is killed.
 *   A <through>   the batch through that lsn was answered ok (durable)
 *   DONE          every message is held
 */
import { silentLogger } from '../../common/log.js'
import { createFileLedger } from '../../store/index.js'
import { Receiver } from '../../replicator/receiver.js'
import { decodeAnswer, encodeBatch, type WireItem } from '../../replicator/codec.js'

const [dir, totalArg] = process.argv.slice(2) as [string, string]
const total = Number(totalArg)
const INFLIGHT_BATCHES = 8
const BATCH_ENTRIES = 97
const l = createFileLedger({
  siteId: 'b',
  dir,
  policyOf: () => ({ durability: 'sync', retentionMs: -1, retentionBytes: -1, ttlMs: 0 }),
  segmentSizeBytes: 256 * 1024,
  checkpointIntervalMs: 30 // fuzzy checkpoints land among the batches
})
await l.open()
const r = new Receiver(l, 'b', silentLogger)
let next = r.positionFor('a') + 1
const inflight = new Set<Promise<void>>()
while (next <= total) {
  const after = next - 1
  const items: WireItem[] = []
  for (; next <= total && items.length < BATCH_ENTRIES; next++) {
    items.push(next % 250 === 0
      ? { kind: 'meta', lsn: next, space: 'crash-meta', key: `k${next}`, value: { n: next } }
      : { kind: 'message', lsn: next, topic: 'repl/crash', entryId: next, publishTime: 1_700_000_000_000 + next, payload: Buffer.from(`m${next}`), props: { priority: 4, producerId: 'p', producerSeq: next } })
  }
  const through = next - 1
  const p = r.handle(encodeBatch({ from: 'a', to: 'b', lane: 2, after, through, items })).then((data) => {
    const a = decodeAnswer(data)
    if (!a.ok) throw new Error(`batch through ${through} refused: ${a.code} ${a.message}`)
    process.stdout.write(`A ${through}\n`)
  })
  const tracked: Promise<void> = p.finally(() => { inflight.delete(tracked) })
  inflight.add(tracked)
  if (inflight.size >= INFLIGHT_BATCHES) await Promise.race(inflight)
}
await Promise.all(inflight)
await l.close()
process.stdout.write('DONE\n')
