/** Shared helpers of the store tests. */
import { createFileLedger, type Durability, type Ledger, type MessageProps, type TopicName, type TopicStorePolicy } from '../../store/index.js'

export function policy (durability: Durability, over: Partial<TopicStorePolicy> = {}): TopicStorePolicy {
  return { durability, retentionMs: -1, retentionBytes: -1, ttlMs: 0, ...over }
}

/** Policy by topic prefix: `mem/...` memory, `async/...` async, everything else sync. */
export function policyByPrefix (over: Partial<TopicStorePolicy> = {}): (topic: TopicName) => TopicStorePolicy {
  return (topic) => policy(topic.startsWith('mem/') ? 'memory' : topic.startsWith('async/') ? 'async' : 'sync', over)
}

/** Poll until cond() is true; no sleeps as synchronisation, bounded attempts. */
export async function waitFor (cond: () => boolean | Promise<boolean>, what: string, attemptsMax = 2000): Promise<void> {
  for (let i = 0; i < attemptsMax; i++) {
    if (await cond()) return
    await new Promise((resolve) => setImmediate(resolve))
    if (i > 100) await new Promise((resolve) => setTimeout(resolve, 5))
  }
  throw new Error(`timed out waiting for ${what}`)
}

export function payload (s: string): Buffer {
  return Buffer.from(s)
}

/** A controllable clock. */
export function fakeClock (startMs = 1_700_000_000_000): { now: () => number, advance: (ms: number) => void } {
  let t = startMs
  return { now: () => t, advance: (ms) => { t += ms } }
}

/** An entry as a reader sees it, without the site's own ids (replicated-append and -plain tests). */
export interface ReadBack { topic: string, payload: string, publishTime: number, props: MessageProps }

/** Every entry of `topics`, in topic then entry order. */
export async function readBack (l: Ledger, topics: readonly string[]): Promise<ReadBack[]> {
  const out: ReadBack[] = []
  for (const topic of topics) {
    for (const e of await l.read(topic, 0, { maxEntries: 10_000 })) out.push({ topic, payload: e.payload.toString(), publishTime: e.publishTime, props: e.props })
  }
  return out
}

/** A receiving site's file ledger in `dir` (small segments, no background checkpoints or retention), opened. */
export async function openReceiver (dir: string): Promise<Ledger> {
  const l = createFileLedger({ siteId: 'b', dir, policyOf: policyByPrefix(), segmentSizeBytes: 64 * 1024, checkpointIntervalMs: 0, retentionIntervalMs: 0 })
  await l.open()
  return l
}
