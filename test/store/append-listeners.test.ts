/**
 * Append and topic listeners (Ledger.onAppend / onTopicCreated; kept as arrays since session 14, not Sets):
 * each subscription is called once per committed entry until its own unsubscribe, an unsubscribe is
 * idempotent and removes only its own subscription, a listener that unsubscribes another during a call
 * does not stop the entries after it from reaching the rest, and a throwing listener harms no other.
 */
import t from 'tap'
import type { Test } from 'tap'
import { createMemoryLedger, type Ledger } from '../../store/index.js'
import { payload, policyByPrefix } from './helpers.js'

async function ledger (t: Test): Promise<Ledger> {
  const l = createMemoryLedger({ siteId: 'test', policyOf: policyByPrefix(), retentionIntervalMs: 0, checkpointIntervalMs: 0 })
  await l.open()
  t.teardown(async () => { await l.close() })
  return l
}

t.test('listeners - each subscription hears every committed entry until its unsubscribe', async (t) => {
  const l = await ledger(t)
  const a: string[] = []
  const b: string[] = []
  const offA = l.onAppend((topic, id) => { a.push(`${topic}#${id}`) })
  const offB = l.onAppend((topic, id) => { b.push(`${topic}#${id}`) })
  await l.append({ topic: 'x/1', payload: payload('1') })
  offA()
  offA() // idempotent: must not remove B
  await l.append({ topic: 'x/1', payload: payload('2') })
  offB()
  await l.append({ topic: 'x/1', payload: payload('3') })
  t.same(a, ['x/1#0'])
  t.same(b, ['x/1#0', 'x/1#1'])
})

t.test('listeners - the same function subscribed twice is two subscriptions', async (t) => {
  const l = await ledger(t)
  let calls = 0
  const f = (): void => { calls++ }
  const off1 = l.onAppend(f)
  l.onAppend(f)
  await l.append({ topic: 'x/1', payload: payload('1') })
  t.equal(calls, 2)
  off1()
  await l.append({ topic: 'x/1', payload: payload('2') })
  t.equal(calls, 3, 'the other subscription still hears')
})

t.test('listeners - unsubscribing another inside a call, and a throwing listener, leave the rest served', async (t) => {
  const l = await ledger(t)
  const heard: string[] = []
  let offC = (): void => {}
  l.onAppend(() => { throw new Error('boom') })
  l.onAppend((_topic, id) => { heard.push(`b${id}`); offC() })
  offC = l.onAppend((_topic, id) => { heard.push(`c${id}`) })
  const created: string[] = []
  l.onTopicCreated((topic) => { created.push(topic) })
  await l.append({ topic: 'x/1', payload: payload('1') })
  await l.append({ topic: 'x/1', payload: payload('2') })
  await l.append({ topic: 'x/2', payload: payload('3') })
  // c is removed by b's first call; the entry being committed was already handed to the list that held c.
  t.same(heard, ['b0', 'c0', 'b1', 'b0'])
  t.same(created, ['x/1', 'x/2'], 'topic listeners once per new topic')
})
