import t from 'tap'
import { waitFor } from '../helpers/wait.js'
import { consume, NS, publishMany, range, startHarness } from '../helpers/dispatch-harness.js'

const TOPIC = `${NS}/orders`

t.test('dispatch nack - redelivered after the backoff, steps then the last one repeating, not to another consumer at once', async (t) => {
  const h = await startHarness({ policy: { redeliveryBackoffMs: [50, 100] } })
  t.teardown(h.close)
  const a = await consume(h.dispatcher, { subscription: 'n', mode: 'shared', consumerName: 'a' })
  const b = await consume(h.dispatcher, { subscription: 'n', mode: 'shared', consumerName: 'b', permits: 0 })
  await publishMany(h.dispatcher, TOPIC, range(3))
  await waitFor(() => a.sink.deliveries.length === 3)
  b.consumer.addPermits(10) // b could take it at once, but a nack waits for the backoff
  const target = 1
  const copies = (): typeof a.sink.deliveries => [...a.sink.deliveries, ...b.sink.deliveries].filter((d) => d.entryId === target).sort((x, y) => x.atMs - y.atMs)
  let holder = a
  for (const [round, backoff] of [50, 100, 100].entries()) {
    const nackAt = Date.now()
    holder.consumer.nack(TOPIC, target, 'not now')
    await waitFor(() => copies().length === round + 2, { what: `redelivery ${round + 1}` })
    const last = copies()[round + 1]!
    t.equal(last.redeliveryCount, round + 1, 'count goes up by one per redelivery')
    t.ok(last.atMs - nackAt >= backoff, `redelivery ${round + 1} waited at least ${backoff} ms`)
    holder = b.sink.deliveries.includes(last) ? b : a
  }
  t.equal(h.dispatcher.stats().subscriptions[0]!.redelivered, 3)
})

t.test('dispatch ack timeout - unacknowledged messages come back, counting up', async (t) => {
  const h = await startHarness({ policy: { ackTimeoutMs: 400, redeliveryBackoffMs: [0] } })
  t.teardown(h.close)
  const a = await consume(h.dispatcher, { subscription: 'at', mode: 'exclusive' })
  await publishMany(h.dispatcher, TOPIC, ['x', 'y'])
  await waitFor(() => a.sink.deliveries.length === 2)
  await a.consumer.ack(TOPIC, 1)
  await waitFor(() => a.sink.deliveries.length >= 4, { what: 'two timeouts of x' })
  t.same(a.sink.deliveries.slice(0, 4).map((d) => [d.payload.toString(), d.redeliveryCount]), [['x', 0], ['y', 0], ['x', 1], ['x', 2]])
  t.ok(a.sink.deliveries[2]!.atMs - a.sink.deliveries[0]!.atMs >= 400, 'not before the ack timeout')
  await a.consumer.ack(TOPIC, 0)
  const n = a.sink.deliveries.length
  // Nothing further arrives once acked: wait past two timeouts by polling the stats.
  const until = Date.now() + 900
  await waitFor(() => Date.now() > until)
  t.equal(a.sink.deliveries.length, n)
  t.equal(h.dispatcher.stats().subscriptions[0]!.backlog, 0)
})

t.test('dispatch ack - cumulative for exclusive acks everything up to the id; individual ack too', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const a = await consume(h.dispatcher, { subscription: 'cum' })
  await publishMany(h.dispatcher, TOPIC, range(6))
  await waitFor(() => a.sink.deliveries.length === 6)
  await a.consumer.ack(TOPIC, 5)
  t.equal(h.dispatcher.stats().subscriptions[0]!.backlog, 5)
  await a.consumer.ackCumulative(TOPIC, 3)
  t.equal(h.dispatcher.stats().subscriptions[0]!.backlog, 1)
  t.equal(h.dispatcher.stats().subscriptions[0]!.pendingAck, 1)
  await a.consumer.close()
  const b = await consume(h.dispatcher, { subscription: 'cum' })
  await waitFor(() => b.sink.deliveries.length === 1)
  t.same(b.sink.payloads(), ['m4'])
  t.equal(b.sink.deliveries[0]!.redeliveryCount, 1)
})
