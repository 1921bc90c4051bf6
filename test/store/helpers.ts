/** Shared helpers of the store tests. */
import type { TopicStorePolicy, Durability, TopicName } from '../../store/index.js'

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
