import t from 'tap'
import type { SubscriptionMode } from '../../gateway/dispatch/index.js'
import { READ_AHEAD_ENTRIES_MAX, PRIORITY_LEVEL_WINDOW_ENTRIES_MAX, PRIORITY_SCAN_AHEAD_ENTRIES_MAX } from '../../gateway/dispatch/constants.js'
import { waitFor } from '../helpers/wait.js'
import { consume, NS, startHarness } from '../helpers/dispatch-harness.js'

const TOPIC = `${NS}/work`

/** Smooth weighted round robin over the non-empty levels, as the window serves them: the expected level sequence. */
function expectedLevels (counts: Map<number, number>, weights: readonly number[], n: number): number[] {
  const left = new Map(counts)
  const current = new Array<number>(10).fill(0)
  const out: number[] = []
  while (out.length < n) {
    let total = 0
    let best = -1
    for (let l = 9; l >= 0; l--) {
      if ((left.get(l) ?? 0) === 0) continue
      total += weights[l]!
      current[l]! += weights[l]!
      if (best < 0 || current[l]! > current[best]!) best = l
    }
    if (best < 0) break
    current[best]! -= total
    left.set(best, left.get(best)! - 1)
    out.push(best)
  }
  return out
}

const DEFAULT_WEIGHTS = [1, 1, 2, 2, 4, 4, 8, 8, 16, 16]

for (const mode of ['exclusive', 'failover'] as SubscriptionMode[]) {
  t.test(`dispatch priority - ${mode}: a backlog of 40 priority-0 then 40 priority-9 goes out priority 9 first, level 0 keeps its share`, async (t) => {
    const h = await startHarness()
    t.teardown(h.close)
    for (let i = 0; i < 40; i++) await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from(`low${i}`), props: { priority: 0 } })
    for (let i = 0; i < 40; i++) await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from(`high${i}`), props: { priority: 9 } })
    const a = await consume(h.dispatcher, { subscription: 'p', filter: 'work', mode, permits: 0 })
    await waitFor(() => h.dispatcher.stats().subscriptions[0]!.readAhead === 80, { what: 'backlog read' })
    a.consumer.addPermits(80)
    await waitFor(() => a.sink.deliveries.length === 80)
    const levels = a.sink.deliveries.map((d) => d.props.priority)
    t.equal(levels[0], 9, 'the first delivery is priority 9')
    t.same(levels, expectedLevels(new Map([[0, 40], [9, 40]]), DEFAULT_WEIGHTS, 80), 'levels served by their weights (16 : 1)')
    t.ok(levels.slice(0, 17).filter((l) => l === 0).length === 1, 'level 0 is not starved: one turn in 17')
    t.same(a.sink.payloads().filter((p) => p.startsWith('low')), Array.from({ length: 40 }, (_, i) => `low${i}`), 'FIFO within level 0')
    t.same(a.sink.payloads().filter((p) => p.startsWith('high')), Array.from({ length: 40 }, (_, i) => `high${i}`), 'FIFO within level 9')
  })
}

for (const mode of ['exclusive', 'shared'] as SubscriptionMode[]) {
  t.test(`dispatch priority - ${mode}: a backlog larger than the read-ahead window still goes out priority first, memory bounded`, async (t) => {
    const h = await startHarness()
    t.teardown(h.close)
    const lows = READ_AHEAD_ENTRIES_MAX * 2
    await h.ledger.appendMany(Array.from({ length: lows }, (_, i) => ({ topic: TOPIC, payload: Buffer.from(`low${i}`), props: { priority: 0 } })))
    await h.ledger.appendMany(Array.from({ length: 50 }, (_, i) => ({ topic: TOPIC, payload: Buffer.from(`high${i}`), props: { priority: 9 } })))
    const a = await consume(h.dispatcher, { subscription: 'deep', filter: 'work', mode, permits: 0 })
    // Level 0 fills its share of the window; the reader looks past the rest of it and finds level 9.
    await waitFor(() => h.dispatcher.stats().subscriptions[0]!.readAhead === PRIORITY_LEVEL_WINDOW_ENTRIES_MAX + 50, { what: 'level 9 found behind the backlog' })
    let maxReadAhead = 0
    a.sink.onDeliver = (d) => {
      maxReadAhead = Math.max(maxReadAhead, h.dispatcher.stats().subscriptions[0]!.readAhead)
      void a.consumer.ack(d.topic, d.entryId)
    }
    a.consumer.addPermits(60)
    await waitFor(() => a.sink.deliveries.length === 60)
    const first = a.sink.deliveries.map((d) => d.props.priority)
    t.equal(first[0], 9, 'the first delivery is priority 9')
    t.equal(first.filter((l) => l === 9).length, 50, 'every priority-9 message within the first 60 deliveries')
    // The rest drains in order within level 0, each message once.
    a.consumer.addPermits(lows)
    await waitFor(() => a.sink.deliveries.length === lows + 50, { timeoutMs: 30_000 })
    t.same(a.sink.payloads().filter((p) => p.startsWith('low')), Array.from({ length: lows }, (_, i) => `low${i}`), 'FIFO within level 0, nothing lost or repeated')
    t.ok(maxReadAhead <= READ_AHEAD_ENTRIES_MAX, `read-ahead stayed within its bound (max ${maxReadAhead})`)
    await waitFor(() => h.dispatcher.stats().subscriptions[0]!.backlog === 0)
  })
}

t.test('dispatch priority - exclusive: a cumulative ack acknowledges only what was handed out', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  for (let i = 0; i < 3; i++) await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from(`low${i}`), props: { priority: 0 } })
  for (let i = 0; i < 3; i++) await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from(`high${i}`), props: { priority: 9 } })
  const a = await consume(h.dispatcher, { subscription: 'cum', filter: 'work', mode: 'exclusive', permits: 0 })
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.readAhead === 6)
  a.consumer.addPermits(3)
  await waitFor(() => a.sink.deliveries.length === 3)
  t.same(a.sink.deliveries.map((d) => d.entryId), [3, 4, 5], 'the priority-9 messages went out first')
  const r = await a.consumer.ackCumulative(TOPIC, 5)
  t.same(r, { acked: 3, unknown: [] }, 'only the three delivered ones are acknowledged')
  const st = h.dispatcher.stats().subscriptions[0]!
  t.equal(st.backlog, 3, 'the undelivered priority-0 messages are still there')
  t.equal(st.acked, 3)
  a.consumer.addPermits(3)
  await waitFor(() => a.sink.deliveries.length === 6)
  t.same(a.sink.deliveries.slice(3).map((d) => d.entryId), [0, 1, 2], 'and are delivered afterwards')
  t.same(await a.consumer.ackCumulative(TOPIC, 2), { acked: 3, unknown: [] })
  t.equal(h.dispatcher.stats().subscriptions[0]!.backlog, 0)
})

t.test('dispatch priority - a cumulative ack past the end never acknowledges messages not yet published', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('a') })
  const a = await consume(h.dispatcher, { subscription: 'ahead', filter: 'work', mode: 'exclusive' })
  await waitFor(() => a.sink.deliveries.length === 1)
  t.same(await a.consumer.ackCumulative(TOPIC, 1000), { acked: 1, unknown: [] })
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('b') })
  await waitFor(() => a.sink.deliveries.length === 2, { what: 'the later message still arrives' })
  t.equal(a.sink.deliveries[1]!.payload.toString(), 'b')
})

t.test('dispatch priority - key_shared: per-key order wins over priority', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('k-low'), props: { key: 'k', priority: 0 } })
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('other-high'), props: { key: 'o', priority: 9 } })
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('k-high'), props: { key: 'k', priority: 9 } })
  const a = await consume(h.dispatcher, { subscription: 'ks', filter: 'work', mode: 'key_shared', permits: 0 })
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.readAhead === 3)
  a.consumer.addPermits(3)
  await waitFor(() => a.sink.deliveries.length === 3)
  const got = a.sink.payloads()
  t.equal(got[0], 'other-high', 'priority reorders across keys')
  t.ok(got.indexOf('k-low') < got.indexOf('k-high'), 'but never within a key')
})

t.test('dispatch priority - failover: the new active consumer gets the backlog priority first too', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const first = await consume(h.dispatcher, { subscription: 'fo', filter: 'work', mode: 'failover', consumerName: 'b', permits: 0 })
  for (let i = 0; i < 5; i++) await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from(`low${i}`), props: { priority: 1 } })
  for (let i = 0; i < 5; i++) await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from(`high${i}`), props: { priority: 8 } })
  const preferred = await consume(h.dispatcher, { subscription: 'fo', filter: 'work', mode: 'failover', consumerName: 'a', permits: 0 })
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.readAhead === 10)
  preferred.consumer.addPermits(1)
  await waitFor(() => preferred.sink.deliveries.length === 1)
  t.equal(preferred.sink.deliveries[0]!.props.priority, 8)
  t.equal(first.sink.deliveries.length, 0, 'the standby got nothing')
})

t.test('dispatch priority - a deep backlog of one level is read about once, not twice', async (t) => {
  const { faultyLedger, newFaults } = await import('../helpers/dispatch-faults.js')
  const faults = newFaults()
  const h = await startHarness({ wrapLedger: (l) => faultyLedger(l, faults) })
  t.teardown(h.close)
  const total = 40_000
  for (let i = 0; i < total; i += 10_000) {
    await h.ledger.appendMany(Array.from({ length: 10_000 }, (_, j) => ({ topic: TOPIC, payload: Buffer.from(String(i + j)) })))
  }
  const a = await consume(h.dispatcher, { subscription: 'one', filter: 'work', mode: 'shared', permits: 500 })
  a.sink.onDeliver = (d) => { void a.consumer.ack(d.topic, d.entryId); a.consumer.addPermits(1) }
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.backlog === 0, { what: 'drained', timeoutMs: 60_000 })
  t.equal(a.sink.deliveries.length, total, 'each message once')
  // One look-ahead at the start (it finds no other level), then reads in log order: not every entry twice.
  const bound = total + PRIORITY_SCAN_AHEAD_ENTRIES_MAX + total / 10
  t.ok(faults.entriesRead <= bound, `entries read ${faults.entriesRead} for ${total} messages (bound ${bound})`)
})
