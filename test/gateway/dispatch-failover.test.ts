import t from 'tap'
import { waitFor } from '../helpers/wait.js'
import { consume, NS, publishMany, range, startHarness } from '../helpers/dispatch-harness.js'

const TOPIC = `${NS}/orders`

t.test('dispatch failover - one active consumer chosen by priority then name; takeover from the unacked position', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const y = await consume(h.dispatcher, { subscription: 'fo', mode: 'failover', consumerName: 'y' })
  const x = await consume(h.dispatcher, { subscription: 'fo', mode: 'failover', consumerName: 'x' })
  const z = await consume(h.dispatcher, { subscription: 'fo', mode: 'failover', consumerName: 'z', consumerPriority: 1 })
  // x sorts before y at the same priority: x takes over from y as soon as it joins.
  await waitFor(() => x.sink.active === true && y.sink.active === false && z.sink.active === false, { what: 'x active' })
  t.same(y.sink.activeChanges, [true, false])

  await publishMany(h.dispatcher, TOPIC, range(6))
  await waitFor(() => x.sink.deliveries.length === 6)
  t.equal(y.sink.deliveries.length, 0)
  t.equal(z.sink.deliveries.length, 0)
  t.same(x.sink.payloads(), range(6))
  await x.consumer.ackCumulative(TOPIC, 2)

  await x.consumer.close()
  // y (priority 0) beats z (priority 1); it starts from the first unacknowledged entry.
  await waitFor(() => y.sink.deliveries.length === 3, { what: 'y receives the unacked tail' })
  t.equal(y.sink.active, true)
  t.same(y.sink.payloads(), ['m3', 'm4', 'm5'])
  t.same(y.sink.deliveries.map((d) => d.redeliveryCount), [1, 1, 1], 'they were delivered once before')
  t.equal(z.sink.deliveries.length, 0)

  await publishMany(h.dispatcher, TOPIC, ['m6'])
  await waitFor(() => y.sink.deliveries.length === 4)
  t.equal(y.sink.deliveries[3]?.redeliveryCount, 0)
  await y.consumer.close()
  await waitFor(() => z.sink.deliveries.length === 4 && z.sink.active === true, { what: 'z takes over last' })
  t.same(z.sink.payloads(), ['m3', 'm4', 'm5', 'm6'])
})

t.test('dispatch failover - a preferred consumer joining takes over in order', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const b = await consume(h.dispatcher, { subscription: 'fo2', mode: 'failover', consumerName: 'b', permits: 2 })
  await publishMany(h.dispatcher, TOPIC, range(4))
  await waitFor(() => b.sink.deliveries.length === 2)
  const a = await consume(h.dispatcher, { subscription: 'fo2', mode: 'failover', consumerName: 'a', permits: 10 })
  await waitFor(() => a.sink.deliveries.length === 4)
  t.same(a.sink.payloads(), range(4), 'the new active consumer gets everything unacknowledged, in order')
  t.same(a.sink.deliveries.map((d) => d.redeliveryCount), [1, 1, 0, 0])
  t.equal(b.sink.active, false)
  t.equal(b.sink.deliveries.length, 2)
})
