import t from 'tap'
import type { SubscriptionMode } from '../../gateway/dispatch/index.js'
import { faultyLedger, newFaults } from '../helpers/dispatch-faults.js'
import { waitFor } from '../helpers/wait.js'
import { consume, NS, publishMany, range, startHarness } from '../helpers/dispatch-harness.js'

const TOPIC = `${NS}/orders`

t.test('dispatch acks - an ack of an unknown id is reported, not counted, and never acknowledges a future message', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  await publishMany(h.dispatcher, TOPIC, range(3))
  const a = await consume(h.dispatcher, { subscription: 'u', mode: 'shared' })
  await waitFor(() => a.sink.deliveries.length === 3)
  const r = await h.dispatcher.ack(TOPIC, 'u', [0, 1, 2, 7])
  t.same(r, { acked: 3, unknown: [7] }, 'three real acks, id 7 does not exist')
  t.same(await h.dispatcher.ack(TOPIC, 'u', [1]), { acked: 0, unknown: [1] }, 'a repeated ack is not counted again')
  let st = h.dispatcher.stats().subscriptions[0]!
  t.equal(st.acked, 3)
  t.equal(st.delivered, 3, 'acked never exceeds delivered')
  // Id 7 is published later: the early ack must not have swallowed it.
  await publishMany(h.dispatcher, TOPIC, range(6, 'later'))
  await waitFor(() => a.sink.deliveries.length === 9)
  t.ok(a.sink.deliveries.some((d) => d.entryId === 7), 'the message with id 7 is delivered')
  st = h.dispatcher.stats().subscriptions[0]!
  t.equal(st.backlog, 6)
})

for (const mode of ['shared', 'exclusive'] as SubscriptionMode[]) {
  t.test(`dispatch acks - ${mode}: delayedPending stops counting a cancelled message`, async (t) => {
    const h = await startHarness()
    t.teardown(h.close)
    const a = await consume(h.dispatcher, { subscription: `c-${mode}`, mode })
    const { entryId } = await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('later'), props: { deliverAt: Date.now() + 3_600_000 } })
    await waitFor(() => h.dispatcher.stats().subscriptions[0]!.delayedPending === 1, { what: 'counted as pending' })
    t.equal(await h.dispatcher.cancelScheduled(TOPIC, entryId), true)
    t.equal(h.dispatcher.stats().subscriptions[0]!.delayedPending, 0, 'no longer pending')
    t.equal(a.sink.deliveries.length, 0)
  })
}

t.test('dispatch acks - a message that expires while its delivery count is written is never handed out', async (t) => {
  const faults = newFaults()
  const h = await startHarness({ wrapLedger: (l) => faultyLedger(l, faults) })
  t.teardown(h.close)
  const a = await consume(h.dispatcher, { subscription: 'ttl', mode: 'shared' })
  faults.recordDelayMs = 400
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('short'), props: { expiresAt: Date.now() + 100 } })
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('long') })
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.expired === 1, { what: 'counted expired' })
  await waitFor(() => a.sink.deliveries.length === 1)
  t.same(a.sink.payloads(), ['long'], 'the expired one never reached the sink')
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.backlog === 1, { what: 'the expired one is acknowledged' })
  t.equal(h.dispatcher.stats().subscriptions[0]!.delivered, 1)
})

t.test('dispatch acks - a front end that finds a buffered delivery expired acknowledges it as expired', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const a = await consume(h.dispatcher, { subscription: 'buf', mode: 'shared' })
  const expiresAt = Date.now() + 60_000
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('x'), props: { expiresAt } })
  await waitFor(() => a.sink.deliveries.length === 1)
  const d = a.sink.deliveries[0]!
  t.equal(d.expiresAt, expiresAt, 'the delivery says when it expires')
  t.equal(a.consumer.expire(d.topic, d.entryId), true)
  t.equal(a.consumer.expire(d.topic, d.entryId), false, 'only once')
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.backlog === 0)
  const st = h.dispatcher.stats().subscriptions[0]!
  t.equal(st.expired, 1)
  t.equal(st.pendingAck, 0)
})

t.test('dispatch acks - an admin skip (ackUpTo) acknowledges up to the id and the rest still arrives', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  await publishMany(h.dispatcher, TOPIC, range(10))
  const a = await consume(h.dispatcher, { subscription: 'skip', mode: 'shared', permits: 0 })
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.readAhead === 10, { what: 'all read ahead' })
  await h.dispatcher.ackUpTo(TOPIC, 'skip', 4)
  t.equal(h.dispatcher.stats().subscriptions[0]!.backlog, 5)
  a.consumer.addPermits(10)
  await waitFor(() => a.sink.deliveries.length === 5, { what: 'the entries above the skip are read again and delivered' })
  t.same(a.sink.deliveries.map((d) => d.entryId), [5, 6, 7, 8, 9])
})

t.test('dispatch acks - ackNoWait acknowledges like ack: counted once, unknown ids ignored, durable across a new consumer', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  await publishMany(h.dispatcher, TOPIC, range(3))
  const a = await consume(h.dispatcher, { subscription: 'nw', mode: 'shared' })
  await waitFor(() => a.sink.deliveries.length === 3)
  a.consumer.ackNoWait(TOPIC, 0)
  a.consumer.ackNoWait(TOPIC, 1)
  a.consumer.ackNoWait(TOPIC, 1) // repeated in the same turn: counted once
  a.consumer.ackNoWait(TOPIC, 7) // beyond the end: must not acknowledge a future message
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.backlog === 1, { what: 'two acknowledged' })
  t.equal(h.dispatcher.stats().subscriptions[0]!.acked, 2, 'each real ack counted once')
  a.consumer.ackNoWait(TOPIC, 1) // already acknowledged: not counted again
  await a.consumer.close()
  // A new consumer gets only what was not acknowledged, and id 7 once it exists.
  const b = await consume(h.dispatcher, { subscription: 'nw', mode: 'shared' })
  await publishMany(h.dispatcher, TOPIC, range(6, 'later'))
  await waitFor(() => b.sink.deliveries.length === 7)
  t.same(b.sink.deliveries.map((d) => d.entryId).sort((x, y) => x - y), [2, 3, 4, 5, 6, 7, 8])
  t.equal(h.dispatcher.stats().subscriptions[0]!.acked, 2)
})

t.test('dispatch acks - a refused ackNoWait is logged and the message comes again (at least once)', async (t) => {
  const faults = newFaults()
  const h = await startHarness({ wrapLedger: (l) => faultyLedger(l, faults) })
  t.teardown(h.close)
  const a = await consume(h.dispatcher, { subscription: 'nwf', mode: 'shared' })
  await publishMany(h.dispatcher, TOPIC, range(1))
  await waitFor(() => a.sink.deliveries.length === 1)
  faults.failAcks = 1
  a.consumer.ackNoWait(TOPIC, 0)
  await waitFor(() => faults.ackFailures === 1, { what: 'the cursor refused the ack' })
  await a.consumer.close()
  const b = await consume(h.dispatcher, { subscription: 'nwf', mode: 'shared' })
  await waitFor(() => b.sink.deliveries.length === 1, { what: 'redelivered after the failed ack' })
  t.equal(b.sink.deliveries[0]!.entryId, 0)
  b.consumer.ackNoWait(TOPIC, 0)
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.backlog === 0, { what: 'acknowledged the second time' })
})

t.test('dispatch - a delivery count that fails to persist hands nothing out; the entries come later, each once acked', async (t) => {
  const faults = newFaults()
  const h = await startHarness({ wrapLedger: (l) => faultyLedger(l, faults) })
  t.teardown(h.close)
  faults.failRecords = 2
  const a = await consume(h.dispatcher, { subscription: 'cnt', mode: 'exclusive' })
  await publishMany(h.dispatcher, TOPIC, range(5))
  await waitFor(() => faults.recordFailures === 2, { what: 'two rounds refused by the cursor' })
  await waitFor(() => new Set(a.sink.deliveries.map((d) => d.entryId)).size === 5, { what: 'every entry handed out once its count persisted' })
  for (const d of a.sink.deliveries) t.ok(d.entryId >= 0 && d.entryId < 5)
  for (let id = 0; id < 5; id++) a.consumer.ackNoWait(TOPIC, id)
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.backlog === 0, { what: 'all acknowledged' })
})

t.test('dispatch - a failed delivery count in a round that spans topics: every entry of every topic still arrives', async (t) => {
  const faults = newFaults()
  const h = await startHarness({ wrapLedger: (l) => faultyLedger(l, faults) })
  t.teardown(h.close)
  const topics = [`${NS}/multi/a`, `${NS}/multi/b`, `${NS}/multi/c`]
  // Published before anyone subscribes: the first round reads all three topics' backlogs at once.
  for (const topic of topics) await publishMany(h.dispatcher, topic, range(4))
  faults.failRecords = 1
  const a = await consume(h.dispatcher, { subscription: 'multi', filter: 'multi/+' })
  await waitFor(() => faults.recordFailures === 1, { what: 'one round refused by a cursor' })
  const want = topics.flatMap((topic) => [0, 1, 2, 3].map((id) => `${topic}#${id}`))
  await waitFor(() => new Set(a.sink.deliveries.map((d) => `${d.topic}#${d.entryId}`)).size === want.length, { what: 'every entry of every topic handed out' })
  t.same([...new Set(a.sink.deliveries.map((d) => `${d.topic}#${d.entryId}`))].sort(), want.sort())
  for (const d of a.sink.deliveries) a.consumer.ackNoWait(d.topic, d.entryId)
  await waitFor(() => h.dispatcher.stats().subscriptions.every((s) => s.backlog === 0), { what: 'all acknowledged' })
})
