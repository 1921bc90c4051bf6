/**
 * The broker-side watch of bench:peers (loadtest/peers/broker-watch.ts): what a Node-hosted broker's process did
 * during a measured window (loop delay, GC pauses) and, for Ferry, every publish's receipt-to-durable time and every
 * fsync, read by tapping the gateway's own timers and left untouched afterwards.
 */
import t from 'tap'
import { BrokerWatch, Series } from '../../loadtest/peers/broker-watch.js'
import { cpuTimeUsOf, startPeer } from '../../loadtest/peers/launch.js'
import { runLean } from '../../loadtest/lean/run.js'

t.test('loadtest - broker watch: a tapped timer is recorded while watched, and observes as before afterwards', async (t) => {
  const seen: number[] = []
  const timer = { observe (seconds: number) { seen.push(seconds) } }
  const w = new BrokerWatch()
  w.tap('publish', timer)
  timer.observe(0.002)
  timer.observe(0.004)
  const f = w.stop()
  timer.observe(0.008)
  t.same(seen, [0.002, 0.004, 0.008], 'the timer itself saw every value')
  t.equal(f.publish?.count, 2, 'the watch saw the two inside its window')
  t.equal(f.publish?.maxMs, 4)
  t.ok(f.windowMs >= 0, 'the window length reported')
  t.ok(f.loopDelay.maxMs >= 0 && f.gc.count >= 0)
})

t.test('loadtest - broker watch: series percentiles', async (t) => {
  const s = new Series()
  for (let i = 1; i <= 100; i++) s.add(i)
  t.same(s.figures(), { count: 100, p50Ms: 50, p99Ms: 99, maxMs: 100, totalMs: 5050 })
  t.same(new Series().figures(), { count: 0, p50Ms: 0, p99Ms: 0, maxMs: 0, totalMs: 0 })
})

t.test('loadtest - broker watch: a durable Ferry reports its publishes and fsyncs over the window, every message delivered', async (t) => {
  const peer = await startPeer('ferry')
  t.teardown(async () => { await peer.stop() })
  let watched: ReturnType<NonNullable<typeof peer.watchStop>> | undefined
  const r = await runLean({ url: peer.mqttUrl as string, publishers: 2, subscribers: 1, qos: 1, payloadBytes: 64, windowPerPublisher: 16, topicsPerPublisher: 1, seconds: 1, warmupSeconds: 0.2, openLoopRatePerSec: 1_000 }, {
    measuring: () => { peer.watchStart?.() },
    measured: () => { watched = peer.watchStop?.() }
  })
  t.ok(r.ok, r.problems.join('; '))
  t.equal(r.delivered, r.published)
  const w = await watched
  t.ok(w !== undefined, 'answered')
  t.ok((w?.publish?.count ?? 0) > 0, `publishes timed (${w?.publish?.count ?? 0})`)
  t.ok((w?.fsync?.count ?? 0) > 0, `fsyncs timed (${w?.fsync?.count ?? 0})`)
  t.ok((w?.publish?.count ?? 0) <= r.published, 'no more publishes than were sent')
  t.ok(r.publishedMeasured > 0 && r.publishedMeasured <= r.published, 'the measured window counts its own sends')
})

t.test('loadtest - broker watch: a process\'s CPU time is read from /proc and grows with work', async (t) => {
  const before = await cpuTimeUsOf(process.pid)
  // Spin for 50 ms of this process's own CPU (not wall time, which a loaded host stretches).
  const start = process.cpuUsage()
  let x = 0
  while (process.cpuUsage(start).user < 50_000) x++
  const after = await cpuTimeUsOf(process.pid)
  t.ok(x > 0 && before > 0, `some CPU used before (${before} µs)`)
  t.ok(after - before >= 30_000, `50 ms of CPU shows (${after - before} µs at /proc's 10 ms resolution)`)
})
