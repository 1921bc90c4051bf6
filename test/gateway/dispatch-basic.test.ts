import t from 'tap'
import { waitFor } from '../helpers/wait.js'
import { consume, NS, publishMany, range, startHarness } from '../helpers/dispatch-harness.js'

const TOPIC = `${NS}/orders`

t.test('dispatch - publish then exclusive consume in order, ack moves the cursor', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const ids = await publishMany(h.dispatcher, TOPIC, range(5))
  t.same(ids, [0, 1, 2, 3, 4])
  const { consumer, sink } = await consume(h.dispatcher, { subscription: 's1' })
  await waitFor(() => sink.deliveries.length === 5, { what: '5 deliveries' })
  t.same(sink.payloads(), range(5))
  t.ok(sink.deliveries.every((d) => d.redeliveryCount === 0 && d.subscription === 's1' && d.topic === TOPIC))
  await consumer.ackCumulative(TOPIC, 4)
  const st = h.dispatcher.stats().subscriptions[0]
  t.equal(st?.backlog, 0)
  t.equal(st?.acked, 5)
  t.equal(st?.delivered, 5)
})

t.test('dispatch - exclusive refuses a second consumer with E_SUBSCRIPTION_BUSY', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  await consume(h.dispatcher, { subscription: 'ex' })
  await t.rejects(consume(h.dispatcher, { subscription: 'ex' }), { code: 'E_SUBSCRIPTION_BUSY' })
})

t.test('dispatch - deliveries only while permits remain', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  await publishMany(h.dispatcher, TOPIC, range(10))
  const { consumer, sink } = await consume(h.dispatcher, { subscription: 'p', permits: 3 })
  await waitFor(() => sink.deliveries.length === 3)
  // Let the loop spin: no more without permits.
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(sink.deliveries.length, 3)
  consumer.addPermits(4)
  await waitFor(() => sink.deliveries.length === 7)
  t.same(sink.payloads(), range(7))
})

t.test('dispatch - latest subscription sees only later messages; live publishes flow', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  await publishMany(h.dispatcher, TOPIC, ['old'])
  const { sink } = await consume(h.dispatcher, { subscription: 'late', initialPosition: 'latest' })
  await publishMany(h.dispatcher, TOPIC, ['new1', 'new2'])
  await waitFor(() => sink.deliveries.length === 2)
  t.same(sink.payloads(), ['new1', 'new2'])
})

t.test('dispatch - shared round robin over consumers with permits, individual acks', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const a = await consume(h.dispatcher, { subscription: 'sh', mode: 'shared', consumerName: 'a' })
  const b = await consume(h.dispatcher, { subscription: 'sh', mode: 'shared', consumerName: 'b' })
  await publishMany(h.dispatcher, TOPIC, range(20))
  await waitFor(() => a.sink.deliveries.length + b.sink.deliveries.length === 20)
  t.ok(a.sink.deliveries.length >= 5 && b.sink.deliveries.length >= 5, `both got messages (${a.sink.deliveries.length}/${b.sink.deliveries.length})`)
  const all = [...a.sink.payloads(), ...b.sink.payloads()].sort()
  t.same(all, range(20).sort())
  await t.rejects(a.consumer.ackCumulative(TOPIC, 3), { code: 'E_BAD_REQUEST' })
  for (const d of a.sink.deliveries) await a.consumer.ack(d.topic, d.entryId)
  for (const d of b.sink.deliveries) await b.consumer.ack(d.topic, d.entryId)
  t.equal(h.dispatcher.stats().subscriptions[0]?.backlog, 0)
})

t.test('dispatch - wildcard filters span matching topics, new topics attach as they appear', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  await h.dispatcher.publish({ topic: `${NS}/dev/1/temp`, payload: Buffer.from('a') })
  await h.dispatcher.publish({ topic: `${NS}/dev/2/hum`, payload: Buffer.from('x') })
  await h.dispatcher.publish({ topic: `${NS}/$sys/1/temp`, payload: Buffer.from('sys') })
  const plus = await consume(h.dispatcher, { subscription: 'plus', filter: '+/+/temp' })
  const hash = await consume(h.dispatcher, { subscription: 'hash', filter: 'dev/#' })
  await h.dispatcher.publish({ topic: `${NS}/dev/3/temp`, payload: Buffer.from('b') })
  await waitFor(() => plus.sink.deliveries.length === 2 && hash.sink.deliveries.length === 3)
  t.same(plus.sink.payloads().sort(), ['a', 'b'], '$ topics not matched by a leading wildcard')
  t.same(hash.sink.payloads().sort(), ['a', 'b', 'x'])
})

t.test('dispatch - bad input is refused with clear codes', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  await t.rejects(h.dispatcher.publish({ topic: 'nope', payload: Buffer.from('') }), { code: 'E_TOPIC_INVALID' })
  await t.rejects(h.dispatcher.publish({ topic: `${NS}/a/+`, payload: Buffer.from('') }), { code: 'E_TOPIC_INVALID' })
  await t.rejects(h.dispatcher.publish({ topic: 'x/y/z', payload: Buffer.from('') }), { code: 'E_NOT_FOUND' })
  await t.rejects(h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from(''), props: { priority: 12 } }), { code: 'E_BAD_REQUEST' })
  await t.rejects(consume(h.dispatcher, { subscription: 'f', filter: 'a/#/b' }), { code: 'E_FILTER_INVALID' })
  await t.rejects(consume(h.dispatcher, { subscription: 'f', filter: 'a+' }), { code: 'E_FILTER_INVALID' })
  await consume(h.dispatcher, { subscription: 'same', filter: 'a' })
  await t.rejects(consume(h.dispatcher, { subscription: 'same', filter: 'a', durable: false }), { code: 'E_SUBSCRIPTION_CONFLICT' })
  await t.rejects(consume(h.dispatcher, { subscription: 'same', filter: 'a', mode: 'shared' }), { code: 'E_SUBSCRIPTION_BUSY' })
})

t.test('dispatch - consumer close and unsubscribe; non-durable subscriptions vanish', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const nd = await consume(h.dispatcher, { subscription: 'nd', durable: false, mode: 'shared' })
  t.equal(h.ledger.cursors(TOPIC).length, 0, 'no topic yet')
  await publishMany(h.dispatcher, TOPIC, ['1'])
  await waitFor(() => nd.sink.deliveries.length === 1)
  t.equal(h.ledger.cursors(TOPIC).length, 1)
  await nd.consumer.close()
  t.equal(h.ledger.cursors(TOPIC).length, 0, 'non-durable cursor deleted with its last consumer')
  t.equal(h.dispatcher.stats().subscriptions.length, 0)

  const d = await consume(h.dispatcher, { subscription: 'dur' })
  await d.consumer.close()
  t.equal(h.dispatcher.stats().subscriptions.length, 1, 'durable subscription stays')
  const again = await consume(h.dispatcher, { subscription: 'dur' })
  await h.dispatcher.unsubscribe(NS, 'orders', 'dur')
  await waitFor(() => again.sink.closedWith !== undefined)
  t.equal(again.sink.closedWith?.code, 'E_SUBSCRIPTION_DELETED')
  t.equal(h.ledger.cursors(TOPIC).length, 0)
})

t.test('dispatch - one name, several filters: separate subscriptions with separate cursors', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const onA = await consume(h.dispatcher, { subscription: 's1', filter: 'a', mode: 'shared' })
  const onB = await consume(h.dispatcher, { subscription: 's1', filter: 'b', mode: 'shared' })
  const wild = await consume(h.dispatcher, { subscription: 's1', filter: '+', mode: 'shared' })
  await h.dispatcher.publish({ topic: `${NS}/a`, payload: Buffer.from('A') })
  await h.dispatcher.publish({ topic: `${NS}/b`, payload: Buffer.from('B') })
  await waitFor(() => onA.sink.deliveries.length === 1 && onB.sink.deliveries.length === 1 && wild.sink.deliveries.length === 2)
  t.same(onA.sink.payloads(), ['A'])
  t.same(onB.sink.payloads(), ['B'])
  t.equal(h.ledger.cursors(`${NS}/a`).length, 2, 'the concrete and the wildcard subscription have their own cursors')
  // A subscription-level ack by name means the subscription naming that topic exactly.
  await h.dispatcher.ack(`${NS}/a`, 's1', [0])
  const st = h.dispatcher.stats().subscriptions
  t.equal(st.find((s) => s.filter === 'a')!.backlog, 0)
  t.equal(st.find((s) => s.filter === '+')!.backlog, 2)
  await h.dispatcher.unsubscribe(NS, '+', 's1')
  t.equal(h.ledger.cursors(`${NS}/a`).length, 1)
  await t.rejects(h.dispatcher.unsubscribe(NS, '+', 's1'), { code: 'E_NOT_FOUND' })
})
