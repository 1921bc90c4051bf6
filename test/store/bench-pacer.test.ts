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
  // Inside a tick's handler (no tick is queued then: the handler clears the flag first), stay busy until the
  // worker has posted the next one, then for 400 tick intervals more without handling it.
  const seen = await new Promise<{ first: number, later: number, before: number }>((resolve) => {
    p.onTick = () => {
      p.onTick = () => {}
      const before = p.posted
      const deadline = performance.now() + 5_000
      while (p.posted === before && performance.now() < deadline) { /* busy */ }
      const first = p.posted
      const until = performance.now() + 20
      while (performance.now() < until) { /* busy */ }
      resolve({ first, later: p.posted, before })
    }
  })
  t.equal(seen.first, seen.before + 1, 'the worker posted a tick')
  t.equal(seen.later, seen.before + 1, 'and no other while that one was not handled')
  let ticks = 0
  await new Promise<void>((resolve) => { p.onTick = () => { if (++ticks === 1) resolve() } })
  t.equal(ticks, 1, 'the queued tick is handled once the thread is free')
  await p.stop()
})
