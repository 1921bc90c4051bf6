import t from 'tap'
import { waitFor } from '../helpers/wait.js'
import { consume, NS, publishMany, range, startHarness } from '../helpers/dispatch-harness.js'

const TOPIC = `${NS}/jobs`

t.test('dispatch shared - unacked messages of a closing consumer go to the others with count + 1', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const a = await consume(h.dispatcher, { subscription: 'w', filter: 'jobs', mode: 'shared', consumerName: 'a', permits: 5 })
  const b = await consume(h.dispatcher, { subscription: 'w', filter: 'jobs', mode: 'shared', consumerName: 'b', permits: 5 })
  await publishMany(h.dispatcher, TOPIC, range(10))
  await waitFor(() => a.sink.deliveries.length === 5 && b.sink.deliveries.length === 5)
  // a acks two of its five, then leaves.
  const [first, second, ...rest] = a.sink.deliveries
  await a.consumer.ack(TOPIC, first!.entryId)
  await a.consumer.ack(TOPIC, second!.entryId)
  for (const d of b.sink.deliveries) await b.consumer.ack(TOPIC, d.entryId)
  b.consumer.addPermits(10)
  await a.consumer.close()
  await waitFor(() => b.sink.deliveries.length === 8, { what: 'the three unacked ones reach b' })
  const moved = b.sink.deliveries.slice(5)
  t.same(moved.map((d) => d.entryId).sort((x, y) => x - y), rest.map((d) => d.entryId).sort((x, y) => x - y))
  t.ok(moved.every((d) => d.redeliveryCount === 1), 'redelivered with count 1')
  const st = h.dispatcher.stats().subscriptions[0]!
  t.equal(st.redelivered, 3)
  t.equal(st.consumers, 1)
})

t.test('dispatch shared - subscription-level ack and nack (HTTP style)', async (t) => {
  const h = await startHarness({ policy: { redeliveryBackoffMs: [0] } })
  t.teardown(h.close)
  const a = await consume(h.dispatcher, { subscription: 'pull', filter: 'jobs', mode: 'shared' })
  await publishMany(h.dispatcher, TOPIC, range(3))
  await waitFor(() => a.sink.deliveries.length === 3)
  await h.dispatcher.ack(TOPIC, 'pull', [0, 2])
  await h.dispatcher.nack(TOPIC, 'pull', [1], 'try again')
  await waitFor(() => a.sink.deliveries.length === 4)
  t.equal(a.sink.deliveries[3]?.entryId, 1)
  t.equal(a.sink.deliveries[3]?.redeliveryCount, 1)
  await h.dispatcher.ack(TOPIC, 'pull', [1])
  t.equal(h.dispatcher.stats().subscriptions[0]?.backlog, 0)
  await t.rejects(h.dispatcher.ack(TOPIC, 'nobody', [1]), { code: 'E_NOT_FOUND' })
  await t.rejects(h.dispatcher.ack(TOPIC, 'pull', [-1]), { code: 'E_BAD_REQUEST' })
})
