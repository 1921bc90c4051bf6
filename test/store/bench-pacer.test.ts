/**
 * bench:store's pacer (store/bench/pacer.ts): ticks arrive from its worker
 * until it stops, and never pile up behind a busy thread.
 */
import t from 'tap'
import { Pacer } from '../../store/bench/pacer.js'

t.test('pacer - ticks until stopped, then its worker exits', async (t) => {
  const p = new Pacer()
  await p.started
  let ticks = 0
  await new Promise<void>((resolve) => { p.onTick = () => { if (++ticks === 3) resolve() } })
  await p.stop()
  const after = ticks
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(ticks, after, 'no tick after stop resolved')
})

t.test('pacer - a thread busy for many tick intervals gets one tick, not a backlog', async (t) => {
  const p = new Pacer()
  await p.started
  // Inside a tick's handler, stay busy until the worker has queued the next tick (it may have done so before the
  // handler even started: the flag is cleared before the handler runs), then for 400 tick intervals more
  // without handling it: nothing else may be posted meanwhile.
  const seen = await new Promise<{ queued: boolean, first: number, later: number }>((resolve) => {
    p.onTick = () => {
      p.onTick = () => {}
      const deadline = performance.now() + 5_000 // bounds a hang; the worker queues within ~0.1 ms
      while (!p.queued && performance.now() < deadline) { /* busy */ }
      const queued = p.queued
      const first = p.posted
      const until = performance.now() + 20
      while (performance.now() < until) { /* busy */ }
      resolve({ queued, first, later: p.posted })
    }
  })
  t.ok(seen.queued, 'the worker queued a tick while the thread was busy')
  t.equal(seen.later, seen.first, 'and posted no other while that one was not handled')
  let ticks = 0
  await new Promise<void>((resolve) => { p.onTick = () => { if (++ticks === 1) resolve() } })
  t.equal(ticks, 1, 'the queued tick is handled once the thread is free')
  await p.stop()
})
