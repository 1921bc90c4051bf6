/**
 * A child process for crash tests: opens the file ledger in argv[2] with a
 * dispatcher, subscribes (argv[3] = mode) and prints one JSON line per
 * delivery. It never acks; the parent SIGKILLs it.
 */
import { consume, startHarness } from './dispatch-harness.js'
import type { SubscriptionMode } from '../../gateway/dispatch/index.js'

const dir = process.argv[2] as string
const mode = (process.argv[3] ?? 'exclusive') as SubscriptionMode
const h = await startHarness({ dir })
const { sink } = await consume(h.dispatcher, { subscription: 'crash', mode })
sink.onDeliver = (d) => {
  process.stdout.write(JSON.stringify({ entryId: d.entryId, redeliveryCount: d.redeliveryCount }) + '\n')
}
// Stay alive until killed.
setInterval(() => {}, 1000)
