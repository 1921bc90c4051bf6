/**
 * The lean generator's timings (loadtest/lean/timing.ts): due times on the 1 ms tick grid, and the figures that
 * tell a broker's tail from the generator's (PUBACK from the due time and from the send, send lateness, the
 * generator's own loop delay), against a broker that holds every PUBACK for a known time.
 */
import t from 'tap'
import { runLean } from '../../loadtest/lean/run.js'
import { portOf, startFakeBroker } from '../helpers/fake-mqtt-broker.js'
import { OPEN_LOOP_TICK_MS, openLoopDueCount, openLoopDueMs } from '../../loadtest/lean/timing.js'
import { renderMarkdown } from '../../loadtest/peers/report.js'

/** How long the slow broker holds each PUBACK, ms: every ack latency is at least this. */
const HELD_ACK_MS = 30

t.test('loadtest - open loop: due times sit on the tick grid, and a message is due exactly when the count says so', async (t) => {
  for (const rate of [2_500, 1_000, 333, 7_000]) {
    let bad = 0
    for (let seq = 0; seq < 5_000; seq++) {
      const due = openLoopDueMs(0, seq, rate)
      if (due % OPEN_LOOP_TICK_MS !== 0) bad++
      if (due < (seq * 1000) / rate - 1e-6 || due >= (seq * 1000) / rate + OPEN_LOOP_TICK_MS) bad++
      // Due by its own tick, not by the tick before.
      if (openLoopDueCount(due, rate) <= seq) bad++
      if (due > 0 && openLoopDueCount(due - OPEN_LOOP_TICK_MS, rate) > seq) bad++
    }
    t.equal(bad, 0, `rate ${rate}/s`)
  }
  t.equal(openLoopDueCount(0, 2_500), 1, 'the first message is due at the start')
  t.equal(openLoopDueCount(0.99, 2_500), 1, 'and nothing more before the first tick')
  t.equal(openLoopDueCount(1, 2_500), 3, 'seqs 0, 1, 2 by 1 ms at 2.5 per ms')
})

t.test('loadtest - open loop: PUBACK latency from the due time and from the send, send lateness and loop delay reported', async (t) => {
  const server = await startFakeBroker({ heldAckMs: HELD_ACK_MS })
  t.teardown(() => { server.close() })
  const r = await runLean({ url: `mqtt://127.0.0.1:${portOf(server)}`, publishers: 2, subscribers: 1, qos: 1, payloadBytes: 64, windowPerPublisher: 16, topicsPerPublisher: 1, seconds: 1, warmupSeconds: 0.2, openLoopRatePerSec: 1_000 })
  t.ok(r.ok, r.problems.join('; '))
  const { ack, ackFromSend, sendLate, delivery, deliveryFromSend, generatorLoopDelay } = r.timing
  t.ok(ackFromSend.p50 >= HELD_ACK_MS, `PUBACK from the send waits the held time (p50 ${ackFromSend.p50} ms)`)
  // A message leaves at or after its due time, so each ack from the due time is at least the one from the send.
  t.ok(ack.p50 >= ackFromSend.p50 && ack.p99 >= ackFromSend.p99 && ack.max >= ackFromSend.max, `from the due time (${ack.p99}) >= from the send (${ackFromSend.p99})`)
  t.ok(delivery.p99 >= deliveryFromSend.p99, 'delivery likewise')
  t.same(r.latencyMs, delivery, 'latencyMs keeps meaning delivery from the due time')
  t.ok(sendLate.max >= 0 && sendLate.p99 >= sendLate.p50, 'send lateness recorded')
  t.ok(generatorLoopDelay.max > 0, `the generator's loop delay sampled (p99 ${generatorLoopDelay.p99} ms)`)
})

t.test('loadtest - closed loop: the due time is the send, so both views agree', async (t) => {
  const server = await startFakeBroker({ heldAckMs: HELD_ACK_MS })
  t.teardown(() => { server.close() })
  const r = await runLean({ url: `mqtt://127.0.0.1:${portOf(server)}`, publishers: 1, subscribers: 1, qos: 1, payloadBytes: 64, windowPerPublisher: 8, topicsPerPublisher: 1, seconds: 0.5 })
  t.ok(r.ok, r.problems.join('; '))
  t.same(r.timing.ack, r.timing.ackFromSend)
  t.same(r.timing.delivery, r.timing.deliveryFromSend)
  t.ok(r.timing.ack.p50 >= HELD_ACK_MS)
  t.equal(r.timing.sendLate.max, 0, 'never late')
})

t.test('loadtest - peer report shows a workload\'s timing columns beside the percentiles', async (t) => {
  const w = { id: 'x', title: 'X', headline: 'p99Ms', higherIsBetter: false, columns: ['ackP99Ms', 'sendLateP99Ms'], peers: [
    { name: 'ferry', durability: 'sync', median: { p99Ms: 9, p50Ms: 2, ackP99Ms: 7.5, sendLateP99Ms: 0.25 }, spread: { p99Ms: [8, 10] as [number, number] }, runs: [], ok: true }
  ] }
  const md = renderMarkdown({ when: 'now', cpus: 2, node: 'v20', loadAverage1mAtStart: 0.1, rounds: 1, seconds: 5, workloads: [w] })
  t.match(md, /\| system \| durability \| p99Ms \(median\) \| spread \| p50Ms \| ackP99Ms \| sendLateP99Ms \| Ferry's ratio \| checks \|/)
  t.match(md, /\| ferry \| sync \| 9 \| 8–10 \| 2 \| 7\.5 \| 0\.25 \| — \|/)
})
