import t from 'tap'
import { waitFor } from '../helpers/wait.js'
import { consume, NS, publishMany, range, startHarness } from '../helpers/dispatch-harness.js'
import { deadLetterTopicOf } from '../../gateway/dispatch/index.js'

const TOPIC = `${NS}/live`

t.test('dispatch policy - changes apply live to open subscriptions (maxRedeliveries, ack timeout)', async (t) => {
  const h = await startHarness({ policy: { redeliveryBackoffMs: [0] } })
  t.teardown(h.close)
  const a = await consume(h.dispatcher, { subscription: 'live', filter: 'live', mode: 'shared' })
  await publishMany(h.dispatcher, TOPIC, ['x'])
  await waitFor(() => a.sink.deliveries.length === 1)
  a.consumer.nack(TOPIC, 0, 'first')
  await waitFor(() => a.sink.deliveries.length === 2)
  t.equal(a.sink.deliveries[1]!.redeliveryCount, 1, 'no DLQ while maxRedeliveries is -1')
  await h.policies.put(NS, { maxRedeliveries: 1 })
  a.consumer.nack(TOPIC, 0, 'second')
  await waitFor(() => h.ledger.topicInfo(deadLetterTopicOf(TOPIC, 'live')) !== undefined, { what: 'dead-lettered under the new policy' })
  t.equal(a.sink.deliveries.length, 2)

  // Ack timeout switched on while a message is outstanding.
  await publishMany(h.dispatcher, TOPIC, ['y'])
  await waitFor(() => a.sink.deliveries.length === 3)
  await h.policies.put(NS, { ackTimeoutMs: 50, maxRedeliveries: -1 })
  await waitFor(() => a.sink.deliveries.length === 4, { what: 'timed out under the new policy' })
  t.equal(a.sink.deliveries[3]!.payload.toString(), 'y')
  t.equal(a.sink.deliveries[3]!.redeliveryCount, 1)
})

t.test('dispatch policy - maxMessageBytes and publish rate are enforced', async (t) => {
  const h = await startHarness({ policy: { maxMessageBytes: 10, publishRateMsgsPerSec: 5 } })
  t.teardown(h.close)
  await t.rejects(h.dispatcher.publish({ topic: TOPIC, payload: Buffer.alloc(11) }), { code: 'E_TOO_LARGE' })
  let refused: unknown
  let accepted = 0
  for (let i = 0; i < 20 && refused === undefined; i++) {
    try { await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('x') }); accepted++ } catch (e) { refused = e }
  }
  t.match(refused, { code: 'E_RATE_LIMIT' })
  t.ok(accepted >= 4 && accepted <= 6, `a burst of about the rate passes (${accepted})`)
})

t.test('dispatch policy - hardenRedeliveryCount off still counts redeliveries in memory', async (t) => {
  const h = await startHarness({ policy: { hardenRedeliveryCount: false, redeliveryBackoffMs: [0] } })
  t.teardown(h.close)
  const a = await consume(h.dispatcher, { subscription: 'soft', filter: 'live', mode: 'shared' })
  await publishMany(h.dispatcher, TOPIC, range(2))
  await waitFor(() => a.sink.deliveries.length === 2)
  a.consumer.nack(TOPIC, 1)
  await waitFor(() => a.sink.deliveries.length === 3)
  t.same(a.sink.deliveries.map((d) => d.redeliveryCount), [0, 0, 1])
  t.equal(h.ledger.cursors(TOPIC)[0]!.deliveryCount(1), 0, 'nothing persisted')
})
