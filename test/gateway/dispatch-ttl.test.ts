import t from 'tap'
import { waitFor } from '../helpers/wait.js'
import { consume, NS, startHarness } from '../helpers/dispatch-harness.js'
import type { Ledger } from '../../store/index.js'

const TOPIC = `${NS}/ttl`

async function events (ledger: Ledger, topic: string): Promise<Array<Record<string, unknown>>> {
  const info = ledger.topicInfo(topic)
  if (info === undefined) return []
  const entries = await ledger.read(topic, 0, { maxEntries: 100 })
  return entries.map((e) => JSON.parse(e.payload.toString()) as Record<string, unknown>)
}

t.test('dispatch ttl - namespace TTL: expired messages are never delivered, are acked and counted', async (t) => {
  const h = await startHarness({ policy: { messageTtlMs: 1000 } })
  t.teardown(h.close)
  const first = await consume(h.dispatcher, { subscription: 'ttl', filter: 'ttl', permits: 0 })
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('old1'), props: { resultTopic: 'results' } })
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('old2') })
  // Measured from the stored publish time: a slow publish on a loaded machine must not make old2 young.
  const old2 = await h.ledger.readOne(TOPIC, 1)
  await waitFor(() => Date.now() > (old2?.publishTime ?? 0) + 1050, { what: 'both expired' })
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('fresh') })
  first.consumer.addPermits(10)
  await waitFor(() => first.sink.deliveries.length === 1)
  t.same(first.sink.payloads(), ['fresh'])
  await first.consumer.ack(TOPIC, 2)
  const st = h.dispatcher.stats().subscriptions[0]!
  t.equal(st.expired, 2)
  t.equal(st.backlog, 0, 'expired messages do not hold backlog')
  await waitFor(async () => (await events(h.ledger, `${NS}/results`)).length === 1)
  t.match((await events(h.ledger, `${NS}/results`))[0], { messageId: 0, topic: TOPIC, subscription: 'ttl', outcome: 'expired' })
})

t.test('dispatch ttl - per-message expiresAt, also for redeliveries', async (t) => {
  const h = await startHarness({ policy: { redeliveryBackoffMs: [600] } })
  t.teardown(h.close)
  const a = await consume(h.dispatcher, { subscription: 'exp', filter: 'ttl', mode: 'shared' })
  const expiresAt = Date.now() + 300
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('short'), props: { expiresAt } })
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('long') })
  await waitFor(() => a.sink.deliveries.length === 2)
  a.consumer.nack(TOPIC, 0) // comes back after 600 ms, by then expired
  await a.consumer.ack(TOPIC, 1)
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.expired === 1, { what: 'expired on redelivery' })
  t.equal(a.sink.deliveries.length, 2, 'not redelivered after expiry')
  t.equal(h.dispatcher.stats().subscriptions[0]!.backlog, 0)
})

t.test('dispatch result events - delivered on ack, relative and absolute result topics stay in the namespace', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const a = await consume(h.dispatcher, { subscription: 'res', filter: 'ttl', mode: 'shared' })
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('x'), props: { resultTopic: 'out/rel' } })
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('y'), props: { resultTopic: `${NS}/out/abs` } })
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('z'), props: { resultTopic: 'other/ns/out' } })
  await waitFor(() => a.sink.deliveries.length === 3)
  const before = Date.now()
  for (const d of a.sink.deliveries) await a.consumer.ack(TOPIC, d.entryId)
  await waitFor(async () => (await events(h.ledger, `${NS}/out/rel`)).length === 1 && (await events(h.ledger, `${NS}/out/abs`)).length === 1 && (await events(h.ledger, `${NS}/other/ns/out`)).length === 1)
  const [rel] = await events(h.ledger, `${NS}/out/rel`)
  t.match(rel, { messageId: 0, topic: TOPIC, subscription: 'res', outcome: 'delivered' })
  t.ok((rel!.at as number) >= before)
  t.match((await events(h.ledger, `${NS}/out/abs`))[0], { messageId: 1, outcome: 'delivered' })
  t.match((await events(h.ledger, `${NS}/other/ns/out`))[0], { messageId: 2 }, 'a name outside the namespace is taken as local to it')
})
