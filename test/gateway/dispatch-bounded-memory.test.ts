import t from 'tap'
import { waitFor } from '../helpers/wait.js'
import { consume, NS, startHarness } from '../helpers/dispatch-harness.js'

const TOPIC = `${NS}/flood`
const RECORDS_MAX = 100

t.test('dispatch bounded memory - a consumer that nacks everything forever holds at most the records bound', async (t) => {
  const h = await startHarness({ policy: { maxRedeliveries: -1, redeliveryBackoffMs: [1] }, pendingAckEntriesMax: RECORDS_MAX })
  t.teardown(h.close)
  const total = 3000
  await h.ledger.appendMany(Array.from({ length: total }, (_, i) => ({ topic: TOPIC, payload: Buffer.from(String(i)) })))
  const a = await consume(h.dispatcher, { subscription: 'nacker', filter: 'flood', mode: 'shared', permits: 100_000 })
  let worst = 0
  let acking = false
  a.sink.onDeliver = (d) => {
    const st = h.dispatcher.stats().subscriptions[0]!
    worst = Math.max(worst, st.pendingAck + st.redeliveryPending)
    if (acking) void a.consumer.ack(d.topic, d.entryId)
    else a.consumer.nack(d.topic, d.entryId, 'no')
  }
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.redelivered >= 5 * RECORDS_MAX, { what: 'many redeliveries', timeoutMs: 30_000 })
  t.ok(worst <= RECORDS_MAX, `delivered plus waiting for redelivery stayed within ${RECORDS_MAX} (worst ${worst})`)
  t.ok(worst > 0)
  const st = h.dispatcher.stats().subscriptions[0]!
  t.ok(st.delivered < total, `new entries wait in the ledger while the bound is reached (delivered ${st.delivered})`)
  // The consumer recovers: everything arrives, nothing was lost.
  acking = true
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.backlog === 0, { what: 'all acknowledged', timeoutMs: 30_000 })
  const seen = new Set(a.sink.deliveries.map((d) => d.entryId))
  t.equal(seen.size, total, 'every message was delivered')
})

t.test('dispatch bounded memory - one stuck message with very many deliveries behind it', async (t) => {
  const h = await startHarness({ policy: { maxRedeliveries: -1, redeliveryBackoffMs: [1] }, pendingAckEntriesMax: RECORDS_MAX })
  t.teardown(h.close)
  const total = 50_000
  const batch = 5000
  const a = await consume(h.dispatcher, { subscription: 'stuck', filter: 'flood', mode: 'shared', permits: 1000 })
  let worst = 0
  let stuckDeliveries = 0
  a.sink.onDeliver = (d) => {
    const st = h.dispatcher.stats().subscriptions[0]!
    worst = Math.max(worst, st.pendingAck + st.redeliveryPending)
    a.consumer.addPermits(1)
    if (d.entryId === 0) { stuckDeliveries++; a.consumer.nack(d.topic, d.entryId, 'poison') } else void a.consumer.ack(d.topic, d.entryId)
  }
  for (let i = 0; i < total; i += batch) {
    await h.ledger.appendMany(Array.from({ length: batch }, (_, j) => ({ topic: TOPIC, payload: Buffer.from(String(i + j)) })))
    await waitFor(() => h.dispatcher.stats().subscriptions[0]!.backlog <= 1, { what: `batch ${i / batch} acknowledged`, timeoutMs: 30_000 })
  }
  const st = h.dispatcher.stats().subscriptions[0]!
  t.equal(st.backlog, 1, 'only the stuck message is left')
  t.ok(stuckDeliveries > 1, `the stuck message kept coming back (${stuckDeliveries} times)`)
  t.ok(worst <= RECORDS_MAX, `records stayed flat (worst ${worst})`)
  t.ok(st.pendingAck + st.redeliveryPending <= 2, 'and at the end only the stuck one has a record')
  t.ok(st.readAhead <= 1, 'nothing else is held in memory')
  // The store side (delivery counts derived from a hand-out watermark) stays flat too.
  const cursor = h.ledger.cursors(TOPIC).find((c) => c.subscription === 'stuck')!
  const mem = cursor.memory()
  t.ok(mem.countedEntries <= 1, `one explicit delivery count (${mem.countedEntries})`)
  t.ok(mem.holeRanges <= 1 && mem.ackRanges <= 2, `ranges stay few (${JSON.stringify(mem)})`)
})
