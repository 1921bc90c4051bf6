import t from 'tap'
import { waitFor } from '../helpers/wait.js'
import { consume, NS, startHarness } from '../helpers/dispatch-harness.js'
import { deadLetterTopicOf, sanitiseSubscriptionName, type SubscriptionMode } from '../../gateway/dispatch/index.js'

const TOPIC = `${NS}/orders`
const MODES: SubscriptionMode[] = ['exclusive', 'failover', 'shared', 'key_shared']

t.test('dispatch dead letter - dead-letter topic name sanitises the subscription name', async (t) => {
  t.equal(sanitiseSubscriptionName('$share/g/a+b#c d'), '_share_g_a_b_c_d')
  t.equal(deadLetterTopicOf(`${NS}/orders`, 'my sub'), `${NS}/orders-my_sub-DLQ`)
})

for (const mode of MODES) {
  t.test(`dispatch dead letter - ${mode}: after maxRedeliveries the message moves to the DLQ with its props and reason`, async (t) => {
    const h = await startHarness({ policy: { maxRedeliveries: 2, redeliveryBackoffMs: [0] } })
    t.teardown(h.close)
    const sub = `dl-${mode}`
    const a = await consume(h.dispatcher, { subscription: sub, mode })
    const props = { key: 'k1', orderingKey: 'ok1', userProperties: [['z', '1'], ['a', '2'], ['z', '3']] as Array<[string, string]>, resultTopic: 'outcomes' }
    await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('poison'), props })
    await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('fine') })
    a.sink.onDeliver = (d) => {
      if (d.payload.toString() === 'poison') a.consumer.nack(d.topic, d.entryId, `bad payload #${d.redeliveryCount}`)
      else void a.consumer.ack(d.topic, d.entryId)
    }
    const dlq = deadLetterTopicOf(TOPIC, sub)
    await waitFor(() => h.ledger.topicInfo(dlq) !== undefined, { what: 'DLQ topic created' })
    await waitFor(() => h.dispatcher.stats().subscriptions.find((s) => s.subscription === sub)?.deadLettered === 1)
    const poison = a.sink.deliveries.filter((d) => d.payload.toString() === 'poison')
    t.same(poison.map((d) => d.redeliveryCount), [0, 1, 2], 'delivered once and redelivered maxRedeliveries times')
    const [copy] = await h.ledger.read(dlq, 0, { maxEntries: 10 })
    t.equal(copy?.payload.toString(), 'poison')
    t.equal(copy?.props.key, 'k1')
    t.equal(copy?.props.orderingKey, 'ok1')
    t.same(copy?.props.userProperties, props.userProperties, 'user properties kept in order')
    t.equal(copy?.props.deadLetterReason, 'bad payload #2')
    const st = h.dispatcher.stats().subscriptions.find((s) => s.subscription === sub)!
    await waitFor(() => h.dispatcher.stats().subscriptions.find((s) => s.subscription === sub)!.backlog === 0, { what: 'poison acked on the original' })
    t.equal(st.deadLettered, 1)
    // The DLQ is a normal topic: readable and replayable by a subscription.
    const replay = await consume(h.dispatcher, { subscription: `${sub}-replay`, filter: dlq.slice(NS.length + 1), initialPosition: 'earliest' })
    await waitFor(() => replay.sink.deliveries.length === 1)
    t.equal(replay.sink.deliveries[0]!.props.deadLetterReason, 'bad payload #2')
    // A result event says dead-lettered.
    await waitFor(() => h.ledger.topicInfo(`${NS}/outcomes`) !== undefined)
    const [ev] = await h.ledger.read(`${NS}/outcomes`, 0, { maxEntries: 1 })
    const body = JSON.parse(ev!.payload.toString()) as Record<string, unknown>
    t.match(body, { messageId: 0, topic: TOPIC, subscription: sub, outcome: 'dead-lettered' })
  })
}

t.test('dispatch dead letter - a wildcard subscription does not span its own DLQ', async (t) => {
  const h = await startHarness({ policy: { maxRedeliveries: 0, redeliveryBackoffMs: [0] } })
  t.teardown(h.close)
  const a = await consume(h.dispatcher, { subscription: 'wild', filter: '#', mode: 'shared' })
  a.sink.onDeliver = (d) => { a.consumer.nack(d.topic, d.entryId, 'no') }
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('x') })
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.deadLettered === 1)
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('y') })
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.deadLettered === 2)
  t.same(a.sink.payloads(), ['x', 'y'], 'the dead letters were not delivered back to the same subscription')
  t.equal(h.ledger.topicInfo(deadLetterTopicOf(TOPIC, 'wild'))?.nextEntryId, 2)
})

t.test('dispatch dead letter - ack timeouts count towards maxRedeliveries too', async (t) => {
  const h = await startHarness({ policy: { maxRedeliveries: 1, ackTimeoutMs: 40, redeliveryBackoffMs: [0] } })
  t.teardown(h.close)
  const a = await consume(h.dispatcher, { subscription: 'silent', mode: 'shared' })
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('ignored'), props: { key: 'k' } })
  const dlq = deadLetterTopicOf(TOPIC, 'silent')
  await waitFor(() => h.ledger.topicInfo(dlq) !== undefined, { what: 'dead-lettered after two unacknowledged deliveries' })
  t.same(a.sink.deliveries.map((d) => d.redeliveryCount), [0, 1])
  const [copy] = await h.ledger.read(dlq, 0, { maxEntries: 1 })
  t.equal(copy?.props.deadLetterReason, 'ack timeout')
  t.equal(copy?.props.key, 'k')
})

t.test('dispatch dead letter - a failed ack after the DLQ append is retried; the entry is not left dead-lettering', async (t) => {
  const { faultyLedger, newFaults } = await import('../helpers/dispatch-faults.js')
  const faults = newFaults()
  const h = await startHarness({ policy: { maxRedeliveries: 0, redeliveryBackoffMs: [0] }, wrapLedger: (l) => faultyLedger(l, faults) })
  t.teardown(h.close)
  const a = await consume(h.dispatcher, { subscription: 'ackfail', mode: 'shared' })
  a.sink.onDeliver = (d) => { faults.failAcks = 1; a.consumer.nack(d.topic, d.entryId, 'bad') }
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('poison') })
  await waitFor(() => faults.ackFailures === 1, { what: 'the ack after the append failed once' })
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.backlog === 0, { what: 'acknowledged on the retry' })
  const st = h.dispatcher.stats().subscriptions[0]!
  t.equal(st.deadLettered, 1)
  const dlq = h.ledger.topicInfo(deadLetterTopicOf(TOPIC, 'ackfail'))!
  t.equal(dlq.nextEntryId - dlq.firstEntryId, 1, 'one copy in the DLQ')
  t.equal(a.sink.deliveries.length, 1)
})

t.test('dispatch dead letter - a copy stored before a crash that beat the ack is not stored again after restart', async (t) => {
  const { faultyLedger, newFaults } = await import('../helpers/dispatch-faults.js')
  const { tmpDir } = await import('../helpers/tmp.js')
  const tmp = await tmpDir('ferry-dlq-')
  t.teardown(tmp.cleanup)
  const policy = { maxRedeliveries: 0, redeliveryBackoffMs: [0] }
  const faults = newFaults()
  faults.failAllAcks = true
  const h1 = await startHarness({ dir: tmp.dir, policy, wrapLedger: (l) => faultyLedger(l, faults) })
  const a = await consume(h1.dispatcher, { subscription: 'crash', mode: 'shared' })
  a.sink.onDeliver = (d) => { a.consumer.nack(d.topic, d.entryId, 'bad') }
  await h1.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('poison') })
  const dlqTopic = deadLetterTopicOf(TOPIC, 'crash')
  await waitFor(() => h1.ledger.topicInfo(dlqTopic) !== undefined && faults.ackFailures > 0, { what: 'copy stored, ack failed' })
  await h1.close()
  const h2 = await startHarness({ dir: tmp.dir, policy })
  t.teardown(h2.close)
  const b = await consume(h2.dispatcher, { subscription: 'crash', mode: 'shared' })
  await waitFor(() => h2.dispatcher.stats().subscriptions[0]!.backlog === 0, { what: 'dead-lettered and acknowledged after restart' })
  const info = h2.ledger.topicInfo(dlqTopic)!
  t.equal(info.nextEntryId - info.firstEntryId, 1, 'still exactly one copy in the DLQ')
  t.equal(b.sink.deliveries.length, 0, 'never delivered again')
})
