import t from 'tap'
import { waitFor } from '../helpers/wait.js'
import { consume, NS, startHarness } from '../helpers/dispatch-harness.js'

const TOPIC = `${NS}/backlog`
const payload = Buffer.alloc(100, 1)

t.test('dispatch backlog - producer_exception refuses publishes at quota until acks free room', async (t) => {
  const h = await startHarness({ policy: { backlogQuotaBytes: 1000, backlogPolicy: 'producer_exception' } })
  t.teardown(h.close)
  const a = await consume(h.dispatcher, { subscription: 'slow', filter: 'backlog', mode: 'shared', permits: 0 })
  let accepted = 0
  let err: unknown
  for (let i = 0; i < 50 && err === undefined; i++) {
    try { await h.dispatcher.publish({ topic: TOPIC, payload }); accepted++ } catch (e) { err = e }
  }
  t.match(err, { code: 'E_BACKLOG_QUOTA' })
  t.ok(accepted >= 5 && accepted < 20, `accepted ${accepted} before the quota`)
  t.equal(h.dispatcher.stats().backlogRejected, 1)
  // Nothing was lost: the consumer gets every accepted message, and acks make room again.
  a.consumer.addPermits(100)
  await waitFor(() => a.sink.deliveries.length === accepted)
  for (const d of a.sink.deliveries) await a.consumer.ack(TOPIC, d.entryId)
  await h.dispatcher.publish({ topic: TOPIC, payload })
})

t.test('dispatch backlog - producer_hold waits for acks, then fails with E_BACKLOG_HOLD after the bound', async (t) => {
  const h = await startHarness({ policy: { backlogQuotaBytes: 1000, backlogPolicy: 'producer_hold' }, backlogHoldMsMax: 300 })
  t.teardown(h.close)
  const a = await consume(h.dispatcher, { subscription: 'slow', filter: 'backlog', mode: 'shared', permits: 100 })
  let accepted = 0
  let held: Promise<unknown> | undefined
  for (let i = 0; i < 50 && held === undefined; i++) {
    const p = h.dispatcher.publish({ topic: TOPIC, payload })
    const won = await Promise.race([p.then(() => 'done'), new Promise((resolve) => setImmediate(() => resolve('pending')))])
    if (won === 'done') accepted++
    else held = p
  }
  t.ok(held !== undefined, `publish held after ${accepted}`)
  t.equal(h.dispatcher.stats().backlogHeld, 1)
  await waitFor(() => a.sink.deliveries.length === accepted)
  let resolved = false
  void held!.then(() => { resolved = true })
  for (const d of a.sink.deliveries.slice(0, 3)) await a.consumer.ack(TOPIC, d.entryId)
  await waitFor(() => resolved, { what: 'held publish released by acks' })
  // Nobody acks now: a publish over quota fails after the hold bound.
  const start = Date.now()
  let failed: unknown
  for (let i = 0; i < 50 && failed === undefined; i++) {
    try { await h.dispatcher.publish({ topic: TOPIC, payload }) } catch (e) { failed = e }
  }
  t.match(failed, { code: 'E_BACKLOG_HOLD' })
  t.ok(Date.now() - start >= 300, 'it waited the hold bound first')
})

t.test('dispatch backlog - consumer_backlog_eviction advances the slowest cursor, counted', async (t) => {
  const h = await startHarness({ policy: { backlogQuotaBytes: 1000, backlogPolicy: 'consumer_backlog_eviction' } })
  t.teardown(h.close)
  const slow = await consume(h.dispatcher, { subscription: 'slow', filter: 'backlog', mode: 'exclusive', permits: 0 })
  const fast = await consume(h.dispatcher, { subscription: 'fast', filter: 'backlog', mode: 'shared' })
  fast.sink.onDeliver = (d) => { void fast.consumer.ack(d.topic, d.entryId) }
  for (let i = 0; i < 40; i++) {
    await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from(`${i}`.padEnd(100, '.')) })
    await waitFor(() => fast.sink.deliveries.length === i + 1) // the fast one keeps up
  }
  const st = h.dispatcher.stats().subscriptions.find((s) => s.subscription === 'slow')!
  t.ok(st.evicted > 0, `evicted ${st.evicted}`)
  t.ok(st.backlog < 10, `slow backlog bounded (${st.backlog})`)
  t.equal(st.evicted + st.backlog, 40, 'every message is either evicted or still in the backlog')
  t.equal(h.dispatcher.stats().subscriptions.find((s) => s.subscription === 'fast')!.evicted, 0, 'the fast subscription lost nothing')
  slow.consumer.addPermits(100)
  await waitFor(() => slow.sink.deliveries.length === st.backlog)
  t.equal(slow.sink.deliveries[slow.sink.deliveries.length - 1]!.payload.toString().replace(/\.+$/, ''), '39', 'the newest are kept')
  t.equal(slow.sink.deliveries[0]!.entryId, st.evicted, 'the oldest were evicted')
})

t.test('dispatch backlog - a held publish is released by a raised quota, and fails with E_CLOSED when the dispatcher closes', async (t) => {
  const h = await startHarness({ policy: { backlogQuotaBytes: 500, backlogPolicy: 'producer_hold' } })
  t.teardown(h.close)
  await consume(h.dispatcher, { subscription: 'idle', filter: 'backlog', mode: 'shared', permits: 0 })
  const settle = async (p: Promise<unknown>): Promise<string> => await Promise.race([p.then(() => 'done', (e: { code?: string }) => e.code ?? 'error'), new Promise<string>((resolve) => setImmediate(() => resolve('pending')))])
  let held: Promise<unknown> | undefined
  for (let i = 0; i < 50 && held === undefined; i++) {
    const p = h.dispatcher.publish({ topic: TOPIC, payload })
    if (await settle(p) === 'pending') held = p
  }
  t.ok(held !== undefined, 'a publish is held')
  await h.policies.put(NS, { backlogQuotaBytes: 1_000_000 })
  t.match(await held, { topic: TOPIC, duplicate: false }, 'released by the raised quota')
  await h.policies.put(NS, { backlogQuotaBytes: 500 })
  const again = h.dispatcher.publish({ topic: TOPIC, payload })
  t.equal(await settle(again), 'pending')
  const closing = h.dispatcher.close()
  await t.rejects(again, { code: 'E_CLOSED' })
  await closing
})

t.test('dispatch backlog - eviction is counted on wildcard subscriptions too', async (t) => {
  const h = await startHarness({ policy: { backlogQuotaBytes: 1000, backlogPolicy: 'consumer_backlog_eviction' } })
  t.teardown(h.close)
  const w = await consume(h.dispatcher, { subscription: 'wild', filter: 'back+', mode: 'shared', permits: 0 }).catch(() => undefined)
  t.equal(w, undefined, "'back+' is not a valid filter")
  await consume(h.dispatcher, { subscription: 'wild', filter: '+', mode: 'shared', permits: 0 })
  for (let i = 0; i < 30; i++) await h.dispatcher.publish({ topic: TOPIC, payload })
  const st = h.dispatcher.stats().subscriptions[0]!
  t.ok(st.evicted > 0, `evicted ${st.evicted}`)
  t.equal(st.evicted + st.backlog, 30)
})

t.test('dispatch backlog - a slow consumer: read-ahead and pending acks stay bounded, nothing is lost', async (t) => {
  const { READ_AHEAD_ENTRIES_MAX, PRIORITY_LEVEL_WINDOW_ENTRIES_MAX } = await import('../../gateway/dispatch/constants.js')
  const h = await startHarness()
  t.teardown(h.close)
  const total = READ_AHEAD_ENTRIES_MAX * 3
  const inputs = Array.from({ length: total }, (_, i) => ({ topic: TOPIC, payload: Buffer.from(String(i)) }))
  const slow = await consume(h.dispatcher, { subscription: 'slow', filter: 'backlog', mode: 'shared', permits: 5 })
  await h.ledger.appendMany(inputs)
  // One priority level fills its share of the window (the rest stays free for other levels).
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.readAhead === PRIORITY_LEVEL_WINDOW_ENTRIES_MAX, { what: 'window full' })
  t.ok(PRIORITY_LEVEL_WINDOW_ENTRIES_MAX <= READ_AHEAD_ENTRIES_MAX)
  t.equal(slow.sink.deliveries.length, 5)
  t.equal(h.dispatcher.stats().subscriptions[0]!.pendingAck, 5, 'pending acks bounded by permits')
  t.equal(h.dispatcher.stats().subscriptions[0]!.backlog, total, 'the rest stays in the ledger')
  // The consumer speeds up: everything arrives, in log order within the (single) priority level.
  slow.sink.onDeliver = (d) => { void slow.consumer.ack(d.topic, d.entryId); slow.consumer.addPermits(1) }
  for (const d of slow.sink.deliveries) { await slow.consumer.ack(d.topic, d.entryId); slow.consumer.addPermits(1) }
  await waitFor(() => slow.sink.deliveries.length === total)
  t.same(slow.sink.deliveries.map((d) => d.entryId), Array.from({ length: total }, (_, i) => i))
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.backlog === 0)
})
