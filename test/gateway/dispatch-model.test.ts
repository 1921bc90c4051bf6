/**
 * Randomised model test: consumers join and leave, ack, nack and take
 * permits at random while messages arrive. Invariants checked on every
 * delivery, and at the end nothing is lost.
 */
import t from 'tap'
import { waitFor } from '../helpers/wait.js'
import { NS, RecordingSink, startHarness } from '../helpers/dispatch-harness.js'
import type { Consumer, Delivery, SubscriptionMode } from '../../gateway/dispatch/index.js'

const TOPIC = `${NS}/model`
/** Seeds per mode; raise DISPATCH_MODEL_SEEDS to hunt for rare interleavings. */
const SEEDS = Number(process.env.DISPATCH_MODEL_SEEDS ?? 6)

function prng (seed: number): () => number {
  let s = seed >>> 0
  return () => { s = (s + 0x6d2b79f5) >>> 0; let x = Math.imul(s ^ (s >>> 15), 1 | s); x ^= x + Math.imul(x ^ (x >>> 7), 61 | x); return ((x ^ (x >>> 14)) >>> 0) / 4294967296 }
}

interface Live { name: string, consumer: Consumer, sink: RecordingSink, held: Map<number, Delivery> }

for (const mode of ['shared', 'key_shared', 'exclusive', 'failover'] as SubscriptionMode[]) {
  for (let seed = 1; seed <= SEEDS; seed++) {
    t.test(`dispatch model - ${mode} seed ${seed}: no loss, no double holding, key exclusivity`, async (t) => {
      const rand = prng(seed * 7919 + mode.length)
      const h = await startHarness({ policy: { redeliveryBackoffMs: [0, 5], ackTimeoutMs: 0 } })
      t.teardown(h.close)
      const live: Live[] = []
      const holder = new Map<number, string>() // entry -> consumer holding it (delivered, not acked/nacked)
      const acked = new Set<number>()
      let published = 0
      let violations = 0
      let nextName = 0
      const join = async (): Promise<void> => {
        if (mode === 'exclusive' && live.length > 0) return
        const name = `c${nextName++}`
        const sink = new RecordingSink()
        const l: Live = { name, consumer: undefined as unknown as Consumer, sink, held: new Map() }
        sink.onDeliver = (d) => {
          const other = holder.get(d.entryId)
          // failover: a consumer that stopped being active loses what it held to the new active one.
          const revoked = mode === 'failover' && live.find((x) => x.name === other)?.sink.active === false
          if (other !== undefined && other !== name && !revoked) violations++
          if (acked.has(d.entryId)) violations++
          holder.set(d.entryId, name)
          l.held.set(d.entryId, d)
          if (mode === 'key_shared') {
            for (const [id, n] of holder) {
              if (n !== name && live.find((x) => x.name === n)?.held.get(id)?.props.key === d.props.key) violations++
            }
          }
        }
        l.consumer = await h.dispatcher.subscribe({ namespace: NS, filter: 'model', subscription: 'm', mode, durable: true, initialPosition: 'earliest', consumerName: name, permits: 1 + Math.floor(rand() * 5), sink })
        live.push(l)
      }
      const leave = async (l: Live): Promise<void> => {
        live.splice(live.indexOf(l), 1)
        for (const id of l.held.keys()) if (holder.get(id) === l.name) holder.delete(id)
        await l.consumer.close()
      }
      await join()
      for (let step = 0; step < 400; step++) {
        const r = rand()
        if (r < 0.35) {
          const delayed = rand() < 0.1 ? { deliverAt: Date.now() + Math.floor(rand() * 30) } : {}
          await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from(String(published)), props: { key: `k${Math.floor(rand() * 6)}`, priority: Math.floor(rand() * 10), ...delayed } })
          published++
        } else if (r < 0.6 && live.length > 0) {
          const l = live[Math.floor(rand() * live.length)]!
          const ids = [...l.held.keys()]
          if (ids.length > 0) {
            const id = ids[Math.floor(rand() * ids.length)]!
            l.held.delete(id)
            holder.delete(id)
            if (rand() < 0.8) { acked.add(id); await l.consumer.ack(TOPIC, id) } else l.consumer.nack(TOPIC, id, 'model')
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
      // Drain: one consumer with permits for everything must get every unacknowledged message
      // without any further event (no ack, no publish): nothing may be stuck.
      while (live.length > 0) await leave(live[0]!)
      const sink = new RecordingSink()
      const drain = await h.dispatcher.subscribe({ namespace: NS, filter: 'model', subscription: 'm', mode, durable: true, initialPosition: 'earliest', consumerName: 'drain', permits: published + 1, sink })
      const unacked = published - acked.size
      await waitFor(() => new Set(sink.deliveries.map((d) => d.entryId)).size === unacked, { what: `all ${unacked} unacked messages delivered (${sink.deliveries.length})` })
      for (const d of sink.deliveries) {
        if (acked.has(d.entryId)) violations++
        acked.add(d.entryId)
        await drain.ack(d.topic, d.entryId)
      }
      t.equal(h.dispatcher.stats().subscriptions[0]!.backlog, 0)
      t.equal(violations, 0, 'never held by two consumers, never redelivered after ack, keys exclusive')
      t.equal(acked.size, published, 'every message acknowledged: none lost')
    })
  }
}
