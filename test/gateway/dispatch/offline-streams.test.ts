/**
 * An offline subscription keeps its cursors, not a stream per topic
 * (gateway/dispatch/subscription-streams.ts): streams are made when a consumer has
 * something to take and dropped when idle. These tests pin that a stream
 * dropped and rebuilt from its cursor keeps every delivery promise (each
 * message exactly once until acknowledged, redelivery counts that only grow,
 * dead-lettering after maxRedeliveries, delayed messages not before their
 * time) and that memory stays bounded with many idle topics.
 */
import t from 'tap'
import { waitFor } from '../../helpers/wait.js'
import { tmpDir } from '../../helpers/tmp.js'
import { consume, NS, startHarness, type Harness } from '../../helpers/dispatch-harness.js'
import { deadLetterTopicOf, type SubscriptionMode } from '../../../gateway/dispatch/index.js'
import { OFFLINE_STREAMS_MAX, ONLINE_STREAMS_SWEEP_MIN } from '../../../gateway/dispatch/constants.js'

const MODES: SubscriptionMode[] = ['exclusive', 'failover', 'shared', 'key_shared']

function statsOf (h: Harness, name: string): { topics: number, streams: number, backlog: number, consumers: number } {
  const s = h.dispatcher.stats().subscriptions.find((x) => x.subscription === name)
  if (s === undefined) throw new Error(`no subscription ${name}`)
  return s
}

async function publishTo (h: Harness, topics: string[], tag: string): Promise<void> {
  for (const topic of topics) await h.dispatcher.publish({ topic, payload: Buffer.from(`${tag}:${topic}`), props: { key: topic } })
}

t.test('dispatch offline streams - an offline wildcard subscription keeps cursors, not streams, and subscription-level acks keep at most OFFLINE_STREAMS_MAX', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const first = await consume(h.dispatcher, { subscription: 'idle', filter: 'many/#', mode: 'shared' })
  await first.consumer.close()
  const topics = Array.from({ length: OFFLINE_STREAMS_MAX * 4 }, (_, i) => `${NS}/many/${i}`)
  await publishTo(h, topics, 'a')
  await waitFor(() => statsOf(h, 'idle').topics === topics.length, { what: 'a cursor on every topic' })
  t.equal(statsOf(h, 'idle').backlog, topics.length, 'every message is backlog')
  t.equal(statsOf(h, 'idle').streams, 0, 'no stream while nobody is attached')

  // Subscription-level acks (HTTP) while offline: each needs a stream, the idle ones beyond the bound go.
  for (const topic of topics.slice(0, OFFLINE_STREAMS_MAX * 2)) await h.dispatcher.ack(topic, 'idle', [0])
  t.ok(statsOf(h, 'idle').streams <= OFFLINE_STREAMS_MAX, `at most ${OFFLINE_STREAMS_MAX} streams kept (${statsOf(h, 'idle').streams})`)
  t.equal(statsOf(h, 'idle').backlog, topics.length - OFFLINE_STREAMS_MAX * 2, 'the acks counted')

  // A consumer arriving gets exactly the unacknowledged messages, once each.
  const c = await consume(h.dispatcher, { subscription: 'idle', filter: 'many/#', mode: 'shared' })
  t.teardown(async () => { await c.consumer.close() })
  const rest = topics.slice(OFFLINE_STREAMS_MAX * 2)
  await waitFor(() => c.sink.deliveries.length >= rest.length, { what: 'the backlog delivered' })
  t.same(c.sink.deliveries.map((d) => d.topic).sort(), rest.slice().sort(), 'each unacknowledged message once, no acknowledged one')
  for (const d of c.sink.deliveries) await c.consumer.ack(d.topic, d.entryId)
  await waitFor(() => statsOf(h, 'idle').backlog === 0, { what: 'all acknowledged' })
  await c.consumer.close()
  t.equal(statsOf(h, 'idle').streams, 0, 'the last consumer leaving drops the idle streams')
})

for (const mode of MODES) {
  t.test(`dispatch offline streams - ${mode}: streams dropped and rebuilt deliver every message exactly once, counts growing`, async (t) => {
    const { dir, cleanup } = await tmpDir()
    t.teardown(cleanup)
    const h = await startHarness({ dir })
    t.teardown(h.close)
    const topics = [`${NS}/r/a`, `${NS}/r/b`, `${NS}/r/c`]
    const opts = { subscription: 'rb', filter: 'r/+', mode }
    await (await consume(h.dispatcher, opts)).consumer.close()
    await publishTo(h, topics, 'one')
    await waitFor(() => statsOf(h, 'rb').topics === topics.length, { what: 'cursors' })
    t.equal(statsOf(h, 'rb').streams, 0, 'offline: no streams')

    const acked = new Set<string>()
    // Round r: attach, take everything, acknowledge the first topic's messages, leave (streams dropped).
    for (let round = 0; round < 3; round++) {
      const c = await consume(h.dispatcher, opts)
      const expected = topics.length * 1 + (round >= 1 ? topics.length : 0) - acked.size
      await waitFor(() => c.sink.deliveries.length === expected, { what: `round ${round}: ${expected} deliveries` })
      const seen = c.sink.deliveries.map((d) => `${d.topic}#${d.entryId}`)
      t.equal(new Set(seen).size, seen.length, `round ${round}: no duplicates`)
      for (const d of c.sink.deliveries) {
        t.notOk(acked.has(`${d.topic}#${d.entryId}`), `round ${round}: ${d.topic}#${d.entryId} not acknowledged before`)
        // Messages of round 0 have been handed out `round` times before; the second batch (published after round 0) one fewer.
        const expectCount = d.entryId === 0 ? round : round - 1
        t.equal(d.redeliveryCount, expectCount, `round ${round}: ${d.topic}#${d.entryId} count ${expectCount}`)
      }
      const mine = c.sink.deliveries.filter((d) => d.topic === topics[round])
      for (const d of mine) {
        await (mode === 'exclusive' || mode === 'failover' ? c.consumer.ackCumulative(d.topic, d.entryId) : c.consumer.ack(d.topic, d.entryId))
        acked.add(`${d.topic}#${d.entryId}`)
      }
      await c.consumer.close()
      await waitFor(() => statsOf(h, 'rb').streams === 0, { what: `round ${round}: streams dropped` })
      // More messages arrive while nobody is attached (after round 0 only, so counts stay easy to state).
      if (round === 0) await publishTo(h, topics, 'two')
    }
    t.equal(statsOf(h, 'rb').backlog, topics.length * 2 - acked.size, 'backlog is what was not acknowledged')
  })
}

t.test('dispatch offline streams - dead-lettering after maxRedeliveries counts deliveries across dropped streams', async (t) => {
  const h = await startHarness({ policy: { maxRedeliveries: 1 } })
  t.teardown(h.close)
  const topic = `${NS}/dl/x`
  const opts = { subscription: 'dl', filter: 'dl/+', mode: 'shared' as SubscriptionMode }
  await (await consume(h.dispatcher, opts)).consumer.close()
  await h.dispatcher.publish({ topic, payload: Buffer.from('poison') })
  for (let round = 0; round <= 1; round++) {
    const c = await consume(h.dispatcher, opts)
    await waitFor(() => c.sink.deliveries.length === 1, { what: `round ${round}` })
    t.equal(c.sink.deliveries[0]?.redeliveryCount, round, `round ${round}: count ${round}`)
    await c.consumer.close()
    await waitFor(() => statsOf(h, 'dl').streams === 0, { what: 'stream dropped' })
  }
  const c = await consume(h.dispatcher, opts)
  t.teardown(async () => { await c.consumer.close() })
  const dlq = deadLetterTopicOf(topic, 'dl')
  await waitFor(() => h.ledger.topicInfo(dlq) !== undefined, { what: 'dead-lettered on the third hand-out' })
  t.equal(c.sink.deliveries.length, 0, 'not delivered a third time')
})

t.test('dispatch offline streams - a delayed message published while offline comes no earlier than its time, once', async (t) => {
  const h = await startHarness({ policy: { delayedDeliveryEnabled: true } })
  t.teardown(h.close)
  const topic = `${NS}/later/x`
  const opts = { subscription: 'dly', filter: 'later/+', mode: 'shared' as SubscriptionMode }
  await (await consume(h.dispatcher, opts)).consumer.close()
  const at = Date.now() + 600
  await h.dispatcher.publish({ topic, payload: Buffer.from('later'), props: { deliverAt: at } })
  await h.dispatcher.publish({ topic, payload: Buffer.from('now') })
  const c = await consume(h.dispatcher, opts)
  t.teardown(async () => { await c.consumer.close() })
  await waitFor(() => c.sink.deliveries.length === 2, { what: 'both delivered' })
  t.same(c.sink.payloads(), ['now', 'later'])
  const later = c.sink.deliveries[1]
  t.ok(later !== undefined && later.atMs >= at, 'not before deliverAt')
})

t.test('dispatch offline streams - with hardenRedeliveryCount off, a stream holding counts only in memory is kept', async (t) => {
  const h = await startHarness({ policy: { hardenRedeliveryCount: false } })
  t.teardown(h.close)
  const topic = `${NS}/soft/x`
  const opts = { subscription: 'soft', filter: 'soft/+', mode: 'shared' as SubscriptionMode }
  await (await consume(h.dispatcher, opts)).consumer.close()
  await h.dispatcher.publish({ topic, payload: Buffer.from('m') })
  for (let round = 0; round <= 2; round++) {
    const c = await consume(h.dispatcher, opts)
    await waitFor(() => c.sink.deliveries.length === 1, { what: `round ${round}` })
    t.equal(c.sink.deliveries[0]?.redeliveryCount, round, `round ${round}: the count grows (it lives in the stream)`)
    await c.consumer.close()
  }
  t.equal(statsOf(h, 'soft').streams, 1, 'kept: dropping it would lose the counts')
})

t.test('dispatch offline streams - an online wildcard subscription over many topics sweeps out drained streams', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const c = await consume(h.dispatcher, { subscription: 'wide', filter: 'wide/#', mode: 'shared', permits: 100_000 })
  t.teardown(async () => { await c.consumer.close() })
  c.sink.onDeliver = (d) => { void c.consumer.ack(d.topic, d.entryId) }
  const topics = Array.from({ length: ONLINE_STREAMS_SWEEP_MIN * 4 }, (_, i) => `${NS}/wide/${i}`)
  let most = 0
  const BATCH = 256
  for (let i = 0; i < topics.length; i += BATCH) {
    for (const topic of topics.slice(i, i + BATCH)) {
      await h.dispatcher.publish({ topic, payload: Buffer.from(topic) })
      most = Math.max(most, statsOf(h, 'wide').streams)
    }
    // Let the consumer keep up (as a network consumer would): drained streams are what a sweep can drop.
    await waitFor(() => statsOf(h, 'wide').backlog === 0, { what: `batch at ${i} acknowledged` })
  }
  await waitFor(() => statsOf(h, 'wide').backlog === 0 && c.sink.deliveries.length === topics.length, { what: 'everything delivered and acknowledged' })
  t.equal(new Set(c.sink.deliveries.map((d) => d.topic)).size, topics.length, 'each topic delivered once')
  t.ok(most <= ONLINE_STREAMS_SWEEP_MIN * 2 + 1, `streams stayed bounded (at most ${most} for ${topics.length} topics)`)
  // A swept topic gets its stream back with its next message.
  await h.dispatcher.publish({ topic: topics[0] as string, payload: Buffer.from('again') })
  await waitFor(() => c.sink.deliveries.length === topics.length + 1, { what: 'the swept topic delivers again' })
  t.equal(c.sink.deliveries[topics.length]?.payload.toString(), 'again')
})
