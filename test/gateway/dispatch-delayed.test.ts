import t from 'tap'
import { waitFor } from '../helpers/wait.js'
import { consume, NS, startHarness } from '../helpers/dispatch-harness.js'
import type { SubscriptionMode } from '../../gateway/dispatch/index.js'

const TOPIC = `${NS}/timers`

for (const mode of ['shared', 'key_shared'] as SubscriptionMode[]) {
  t.test(`dispatch delayed - ${mode} delivers due messages first and delayed ones no earlier than deliverAt`, async (t) => {
    const h = await startHarness()
    t.teardown(h.close)
    const a = await consume(h.dispatcher, { subscription: 'd', filter: 'timers', mode })
    const now = Date.now()
    const plan = [
      { name: 'late', deliverAt: now + 1200 },
      { name: 'now', deliverAt: undefined },
      { name: 'soon', deliverAt: now + 800 },
      { name: 'past', deliverAt: now - 10_000 }
    ]
    for (const p of plan) await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from(p.name), props: p.deliverAt !== undefined ? { deliverAt: p.deliverAt, key: 'same-key' } : { key: 'same-key' } })
    await waitFor(() => a.sink.deliveries.length === 2)
    t.same(a.sink.payloads(), ['now', 'past'], 'a time in the past means now')
    t.equal(h.dispatcher.stats().subscriptions[0]!.delayedPending, 2)
    await waitFor(() => a.sink.deliveries.length === 4, { what: 'delayed ones' })
    t.same(a.sink.payloads(), ['now', 'past', 'soon', 'late'])
    for (const d of a.sink.deliveries) {
      if (d.props.deliverAt !== undefined) t.ok(d.atMs >= d.props.deliverAt, `${d.payload.toString()} not before its deliverAt`)
    }
    t.equal(h.dispatcher.stats().subscriptions[0]!.delayedPending, 0)
  })
}

for (const mode of ['exclusive', 'failover'] as SubscriptionMode[]) {
  t.test(`dispatch delayed - ${mode} holds the stream at a delayed head to keep order`, async (t) => {
    const h = await startHarness()
    t.teardown(h.close)
    const a = await consume(h.dispatcher, { subscription: 'd', filter: 'timers', mode })
    const at = Date.now() + 800
    await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('first') })
    await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('delayed'), props: { deliverAt: at } })
    await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('after') })
    await waitFor(() => a.sink.deliveries.length === 1)
    await waitFor(() => h.dispatcher.stats().subscriptions[0]!.delayedPending === 1, { what: 'one delayed pending' })
    await waitFor(() => a.sink.deliveries.length === 3)
    t.same(a.sink.payloads(), ['first', 'delayed', 'after'])
    t.ok(a.sink.deliveries[1]!.atMs >= at, 'delayed one not before deliverAt')
    t.ok(a.sink.deliveries[2]!.atMs >= at, 'the one behind it waited too')
  })
}

t.test('dispatch delayed - cancelScheduled: a cancelled message is never delivered and holds no backlog', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const a = await consume(h.dispatcher, { subscription: 'c', filter: 'timers', mode: 'shared' })
  const at = Date.now() + 800
  const r = await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('cancel-me'), props: { deliverAt: at } })
  const keep = await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('keep'), props: { deliverAt: at } })
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('plain') })
  t.equal(await h.dispatcher.cancelScheduled(TOPIC, r.entryId), true)
  t.equal(await h.dispatcher.cancelScheduled(TOPIC, r.entryId), false, 'already cancelled')
  t.equal(await h.dispatcher.cancelScheduled(TOPIC, 2), false, 'not a delayed message')
  await waitFor(() => a.sink.deliveries.length === 2)
  t.same(a.sink.payloads(), ['plain', 'keep'])
  await waitFor(() => Date.now() > at + 100)
  t.same(a.sink.payloads(), ['plain', 'keep'], 'still nothing of the cancelled one')
  await a.consumer.ack(TOPIC, keep.entryId)
  await a.consumer.ack(TOPIC, 2)
  t.equal(h.dispatcher.stats().subscriptions[0]!.backlog, 0)
  t.equal(await h.dispatcher.cancelScheduled(TOPIC, keep.entryId), false, 'already due')
})

t.test('dispatch delayed - cancel before any subscription exists also acks subscriptions created earlier', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const a = await consume(h.dispatcher, { subscription: 'e', filter: 'timers', mode: 'exclusive' })
  await a.consumer.close()
  const r = await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('x'), props: { deliverAt: Date.now() + 60_000 } })
  t.equal(await h.dispatcher.cancelScheduled(TOPIC, r.entryId), true)
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('y') })
  const b = await consume(h.dispatcher, { subscription: 'e', filter: 'timers', mode: 'exclusive' })
  await waitFor(() => b.sink.deliveries.length === 1)
  t.same(b.sink.payloads(), ['y'], 'exclusive is not held by a cancelled delayed head')
})

t.test('dispatch delayed - delayedDeliveryEnabled false delivers at once; turning it on live holds again', async (t) => {
  const h = await startHarness({ policy: { delayedDeliveryEnabled: false } })
  t.teardown(h.close)
  const a = await consume(h.dispatcher, { subscription: 'off', filter: 'timers', mode: 'shared' })
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('x'), props: { deliverAt: Date.now() + 60_000 } })
  await waitFor(() => a.sink.deliveries.length === 1)
  await h.policies.put(NS, { delayedDeliveryEnabled: true })
  const at = Date.now() + 80
  await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from('y'), props: { deliverAt: at } })
  await waitFor(() => a.sink.deliveries.length === 2)
  t.equal(a.sink.deliveries[1]!.payload.toString(), 'y')
  t.ok(a.sink.deliveries[1]!.atMs >= at)
})

t.test('dispatch delayed - more due messages than the redelivery load bound all arrive once permits come', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const a = await consume(h.dispatcher, { subscription: 'bulk', filter: 'timers', mode: 'shared', permits: 0 })
  const at = Date.now() + 1500
  const inputs = Array.from({ length: 1500 }, (_, i) => ({ topic: TOPIC, payload: Buffer.from(String(i)), props: { deliverAt: at } }))
  await h.ledger.appendMany(inputs)
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.delayedPending === 1500, { what: 'all passed over' })
  await waitFor(() => Date.now() > at + 50)
  a.consumer.addPermits(2000)
  await waitFor(() => a.sink.deliveries.length === 1500, { what: `all 1500 delivered (${a.sink.deliveries.length})` })
  t.equal(new Set(a.sink.payloads()).size, 1500, 'each once')
  t.ok(a.sink.deliveries.every((d) => d.atMs >= at))
})
