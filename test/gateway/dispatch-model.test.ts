/**
 * Randomised model test: consumers join and leave, ack, nack and take
 * permits at random while messages (some delayed, all with keys and
 * priorities) arrive on one topic or on three topics under a wildcard filter.
 * Invariants are checked on every delivery; at the end a consumer with
 * permits for everything must receive every unacknowledged message without
 * any further event, so nothing is lost or stuck.
 */
import t from 'tap'
import { waitFor } from '../helpers/wait.js'
import { NS, RecordingSink, startHarness } from '../helpers/dispatch-harness.js'
import { tmpDir } from '../helpers/tmp.js'
import type { Consumer, Delivery, SubscriptionMode } from '../../gateway/dispatch/index.js'

/** Seeds per case; raise DISPATCH_MODEL_SEEDS to hunt for rare interleavings. */
const SEEDS = Number(process.env.DISPATCH_MODEL_SEEDS ?? 4)
const STEPS = 400

function prng (seed: number): () => number {
  let s = seed >>> 0
  return () => { s = (s + 0x6d2b79f5) >>> 0; let x = Math.imul(s ^ (s >>> 15), 1 | s); x ^= x + Math.imul(x ^ (x >>> 7), 61 | x); return ((x ^ (x >>> 14)) >>> 0) / 4294967296 }
}

interface Live { name: string, consumer: Consumer, sink: RecordingSink, held: Map<string, Delivery> }

const idOf = (d: { topic: string, entryId: number }): string => `${d.topic}#${d.entryId}`

const CASES: Array<{ topics: string[], filter: string, file: boolean, seeds: number }> = [
  { topics: [`${NS}/model`], filter: 'model', file: false, seeds: SEEDS },
  { topics: [`${NS}/m/a`, `${NS}/m/b`, `${NS}/m/c`], filter: 'm/+', file: false, seeds: SEEDS },
  // The same against the file ledger (sync durability): for the real cursor and delayed-index code.
  { topics: [`${NS}/m/a`, `${NS}/m/b`], filter: 'm/+', file: true, seeds: SEEDS }
]

for (const { topics, filter, file, seeds } of CASES) {
  for (const mode of ['shared', 'key_shared', 'exclusive', 'failover'] as SubscriptionMode[]) {
    for (let seed = 1; seed <= seeds; seed++) {
      t.test(`dispatch model - ${mode} on '${filter}' ${file ? 'file' : 'memory'} ledger seed ${seed}: no loss, no double holding, key exclusivity`, async (t) => {
        const rand = prng(seed * 7919 + mode.length * 31 + topics.length)
        const dir = file ? await tmpDir() : undefined
        if (dir !== undefined) t.teardown(dir.cleanup)
        const h = await startHarness({ policy: { redeliveryBackoffMs: [0, 5] }, ...(dir !== undefined ? { dir: dir.dir } : {}) })
        t.teardown(h.close)
        const live: Live[] = []
        const holder = new Map<string, string>() // message -> consumer holding it (delivered, not acked or nacked)
        const acked = new Set<string>()
        let published = 0
        const problems: string[] = []
        let nextName = 0
        const subscribe = async (name: string, permits: number, sink: RecordingSink): Promise<Consumer> =>
          await h.dispatcher.subscribe({ namespace: NS, filter, subscription: 'm', mode, durable: true, initialPosition: 'earliest', consumerName: name, permits, sink })
        const join = async (): Promise<void> => {
          if (mode === 'exclusive' && live.length > 0) return
          const name = `c${nextName++}`
          const sink = new RecordingSink()
          const l: Live = { name, consumer: undefined as unknown as Consumer, sink, held: new Map() }
          sink.onDeliver = (d) => {
            const id = idOf(d)
            const other = holder.get(id)
            // failover: a consumer that stopped being active loses what it held to the new active one.
            const revoked = mode === 'failover' && live.find((x) => x.name === other)?.sink.active === false
            if (other !== undefined && other !== name && !revoked) problems.push(`${id} held by ${other} and ${name}`)
            if (acked.has(id)) problems.push(`${id} delivered after its ack`)
            if (mode === 'key_shared') {
              for (const [hid, n] of holder) {
                const hd = live.find((x) => x.name === n)?.held.get(hid)
                if (n !== name && hd?.topic === d.topic && hd.props.key === d.props.key) problems.push(`key ${d.props.key ?? ''} of ${d.topic} held by ${n} and ${name}`)
              }
            }
            holder.set(id, name)
            l.held.set(id, d)
          }
          l.consumer = await subscribe(name, 1 + Math.floor(rand() * 5), sink)
          live.push(l)
        }
        const leave = async (l: Live): Promise<void> => {
          live.splice(live.indexOf(l), 1)
          for (const id of l.held.keys()) if (holder.get(id) === l.name) holder.delete(id)
          await l.consumer.close()
        }
        await join()
        for (let step = 0; step < STEPS; step++) {
          const r = rand()
          if (r < 0.35) {
            const delayed = rand() < 0.1 ? { deliverAt: Date.now() + Math.floor(rand() * 30) } : {}
            const topic = topics[Math.floor(rand() * topics.length)]!
            await h.dispatcher.publish({ topic, payload: Buffer.from(String(published)), props: { key: `k${Math.floor(rand() * 6)}`, priority: Math.floor(rand() * 10), ...delayed } })
            published++
          } else if (r < 0.6 && live.length > 0) {
            const l = live[Math.floor(rand() * live.length)]!
            const held = [...l.held.values()]
            if (held.length > 0) {
              const d = held[Math.floor(rand() * held.length)]!
              l.held.delete(idOf(d))
              holder.delete(idOf(d))
              if (rand() < 0.8) { acked.add(idOf(d)); await l.consumer.ack(d.topic, d.entryId) } else l.consumer.nack(d.topic, d.entryId, 'model')
              l.consumer.addPermits(1)
            }
          } else if (r < 0.68) {
            await join()
          } else if (r < 0.74 && live.length > 1) {
            await leave(live[Math.floor(rand() * live.length)]!)
          } else if (live.length > 0) {
            live[Math.floor(rand() * live.length)]!.consumer.addPermits(1)
          }
          if (step % 20 === 0) await new Promise((resolve) => setImmediate(resolve))
        }
        while (live.length > 0) await leave(live[0]!)
        const sink = new RecordingSink()
        const drain = await subscribe('drain', published + 1, sink)
        const unacked = published - acked.size
        await waitFor(() => new Set(sink.deliveries.map(idOf)).size === unacked, { what: `all ${unacked} unacked messages delivered (${sink.deliveries.length})` })
        for (const d of sink.deliveries) {
          if (acked.has(idOf(d))) problems.push(`${idOf(d)} drained after its ack`)
          acked.add(idOf(d))
          await drain.ack(d.topic, d.entryId)
        }
        t.same(problems, [], 'never held by two consumers, never redelivered after ack, keys exclusive')
        t.equal(acked.size, published, 'every message acknowledged: none lost')
        t.equal(h.dispatcher.stats().subscriptions[0]!.backlog, 0)
      })
    }
  }
}
