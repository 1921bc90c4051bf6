import t from 'tap'
import { waitFor } from '../helpers/wait.js'
import { consume, NS, startHarness } from '../helpers/dispatch-harness.js'

const TOPIC = `${NS}/work`

t.test('dispatch priority - higher levels first, lower levels get their weighted share, FIFO within a level', async (t) => {
  // Level 9 weighs 3, level 0 weighs 1: three turns of 9 for each turn of 0.
  const h = await startHarness({ policy: { priorityWeights: [1, 1, 1, 1, 1, 1, 1, 1, 1, 3] } })
  t.teardown(h.close)
  for (let i = 0; i < 100; i++) await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from(`low${i}`), props: { priority: 0 } })
  for (let i = 0; i < 100; i++) await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from(`high${i}`), props: { priority: 9 } })
  const a = await consume(h.dispatcher, { subscription: 'p', filter: 'work', mode: 'shared', permits: 0 })
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.readAhead === 200, { what: 'window filled' })
  a.consumer.addPermits(40)
  await waitFor(() => a.sink.deliveries.length === 40)
  const levels = a.sink.deliveries.map((d) => d.props.priority)
  t.equal(levels[0], 9, 'the highest level goes first')
  t.equal(levels.filter((l) => l === 9).length, 30, 'level 9 got 3 of every 4 turns')
  t.equal(levels.filter((l) => l === 0).length, 10, 'level 0 was not starved')
  const lows = a.sink.payloads().filter((p) => p.startsWith('low'))
  t.same(lows, Array.from({ length: 10 }, (_, i) => `low${i}`), 'FIFO within a level')
  a.consumer.addPermits(1000)
  await waitFor(() => a.sink.deliveries.length === 200)
  const highs = a.sink.payloads().filter((p) => p.startsWith('high'))
  t.same(highs, Array.from({ length: 100 }, (_, i) => `high${i}`))
})

t.test('dispatch priority - default weights: every level gets turns under load (counted)', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  for (let i = 0; i < 500; i++) await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from(String(i)), props: { priority: i % 10 } })
  const a = await consume(h.dispatcher, { subscription: 'p2', filter: 'work', mode: 'shared', permits: 0 })
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.readAhead === 500)
  a.consumer.addPermits(124) // one full cycle of the default weights: 1+1+2+2+4+4+8+8+16+16 = 62, twice
  await waitFor(() => a.sink.deliveries.length === 124)
  const turns = new Array<number>(10).fill(0)
  for (const d of a.sink.deliveries) turns[d.props.priority ?? 4]!++
  t.same(turns, [2, 2, 4, 4, 8, 8, 16, 16, 32, 32], 'turns match the weights exactly')
})
