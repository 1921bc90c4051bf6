import t from 'tap'
import { waitFor } from '../helpers/wait.js'
import { NS, startHarness, RecordingSink } from '../helpers/dispatch-harness.js'
import type { Consumer, Delivery } from '../../gateway/dispatch/index.js'

const TOPIC = `${NS}/events`

interface Seen { consumer: string, key: string, entryId: number, seq: number }

/** Records every delivery of every consumer in one global order. */
function tracker (): { log: Seen[], sink: (name: string) => RecordingSink } {
  const log: Seen[] = []
  return {
    log,
    sink: (name) => {
      const s = new RecordingSink()
      s.onDeliver = (d: Delivery) => { log.push({ consumer: name, key: d.props.key ?? '', entryId: d.entryId, seq: log.length }) }
      return s
    }
  }
}

function keysOf (log: Seen[], consumer: string): Set<string> {
  return new Set(log.filter((s) => s.consumer === consumer).map((s) => s.key))
}

t.test('dispatch key_shared - a key sticks to one consumer, per-key order kept', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const tr = tracker()
  const sinks = ['a', 'b', 'c'].map((n) => tr.sink(n))
  for (const [i, n] of ['a', 'b', 'c'].entries()) {
    await h.dispatcher.subscribe({ namespace: NS, filter: 'events', subscription: 'ks', mode: 'key_shared', durable: true, initialPosition: 'earliest', consumerName: n, permits: 10_000, sink: sinks[i]! })
  }
  for (let i = 0; i < 300; i++) {
    await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from(String(i)), props: { key: `k${i % 20}`, priority: i % 10 } })
  }
  await waitFor(() => tr.log.length === 300)
  const owner = new Map<string, string>()
  for (const s of tr.log) {
    const o = owner.get(s.key)
    if (o === undefined) owner.set(s.key, s.consumer)
    else t.equal(s.consumer, o, `key ${s.key} stays on ${o}`)
  }
  t.ok(new Set(owner.values()).size >= 2, 'keys are spread over consumers')
  for (let k = 0; k < 20; k++) {
    const ids = tr.log.filter((s) => s.key === `k${k}`).map((s) => s.entryId)
    t.same(ids, [...ids].sort((x, y) => x - y), `k${k} in log order despite priorities`)
  }
})

t.test('dispatch key_shared - ordering key wins over key; topic is the default key', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const tr = tracker()
  for (const n of ['a', 'b']) {
    await h.dispatcher.subscribe({ namespace: NS, filter: 'events', subscription: 'ks2', mode: 'key_shared', durable: true, initialPosition: 'earliest', consumerName: n, permits: 1000, sink: tr.sink(n) })
  }
  for (let i = 0; i < 40; i++) {
    await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from(String(i)), props: { key: `different-${i}`, orderingKey: 'same' } })
  }
  await waitFor(() => tr.log.length === 40)
  t.equal(new Set(tr.log.map((s) => s.consumer)).size, 1, 'one ordering key, one consumer')
  t.same(tr.log.map((s) => s.entryId), Array.from({ length: 40 }, (_, i) => i))
})

t.test('dispatch key_shared - a joining consumer gets no message of a key until earlier ones are acked', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const tr = tracker()
  const consumers = new Map<string, Consumer>()
  const join = async (n: string): Promise<void> => {
    consumers.set(n, await h.dispatcher.subscribe({ namespace: NS, filter: 'events', subscription: 'ks3', mode: 'key_shared', durable: true, initialPosition: 'earliest', consumerName: n, permits: 10_000, sink: tr.sink(n) }))
  }
  await join('a')
  const KEYS = 40
  let next = 0
  const publishRound = async (): Promise<void> => {
    for (let k = 0; k < KEYS; k++) await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from(String(next++)), props: { key: `k${k}` } })
  }
  await publishRound()
  await waitFor(() => tr.log.length === KEYS)
  // a holds one unacked message of every key; b and c join and more arrive.
  await join('b')
  await join('c')
  await publishRound()
  await waitFor(() => tr.log.length >= KEYS, { what: 'settle' })
  await new Promise((resolve) => setImmediate(resolve))
  const beforeAck = tr.log.length
  t.equal(keysOf(tr.log.slice(KEYS), 'b').size + keysOf(tr.log.slice(KEYS), 'c').size, 0, 'nothing moves to b or c while a holds every key')
  // a acknowledges everything: keys now owned by b or c flow there.
  for (const s of tr.log.filter((x) => x.consumer === 'a')) await consumers.get('a')!.ack(TOPIC, s.entryId)
  await waitFor(() => tr.log.length === 2 * KEYS, { what: 'second round delivered' })
  t.ok(beforeAck <= 2 * KEYS)
  t.ok(keysOf(tr.log.slice(KEYS), 'b').size + keysOf(tr.log.slice(KEYS), 'c').size > 0, 'some keys moved to the new consumers')
  // Per key: entry ids in global delivery order ascend, and a key changes consumer only after the earlier ones were acked.
  for (let k = 0; k < KEYS; k++) {
    const ids = tr.log.filter((s) => s.key === `k${k}`).map((s) => s.entryId)
    t.same(ids, [...ids].sort((x, y) => x - y), `k${k} ordered`)
  }
  // Closing a consumer hands its keys (and its unacked messages) to the others, still in key order.
  await publishRound()
  await waitFor(() => tr.log.length === 3 * KEYS)
  const bHeld = tr.log.filter((s) => s.consumer === 'b') // b acknowledged nothing
  await consumers.get('b')!.close()
  await waitFor(() => tr.log.length === 3 * KEYS + bHeld.length, { what: 'b\'s messages redelivered' })
  const moved = tr.log.slice(3 * KEYS)
  t.ok(moved.every((s) => s.consumer !== 'b'))
  t.same(moved.map((s) => s.entryId).sort((x, y) => x - y), bHeld.map((s) => s.entryId).sort((x, y) => x - y))
})

t.test('dispatch key_shared - key assignment follows consumer names, so a reconnecting consumer gets its keys back', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const run = async (): Promise<Map<string, string>> => {
    const tr = tracker()
    const cs: Consumer[] = []
    for (const n of ['x', 'y', 'z']) {
      cs.push(await h.dispatcher.subscribe({ namespace: NS, filter: 'events', subscription: 'sticky', mode: 'key_shared', durable: true, initialPosition: 'latest', consumerName: n, permits: 1000, sink: tr.sink(n) }))
    }
    for (let i = 0; i < 60; i++) await h.dispatcher.publish({ topic: TOPIC, payload: Buffer.from(String(i)), props: { key: `key-${i % 30}` } })
    await waitFor(() => tr.log.length === 60)
    for (const [i, c] of cs.entries()) {
      for (const s of tr.log.filter((x) => x.consumer === ['x', 'y', 'z'][i])) await c.ack(TOPIC, s.entryId)
      await c.close()
    }
    return new Map(tr.log.map((s) => [s.key, s.consumer]))
  }
  const first = await run()
  const second = await run()
  t.same([...second].sort(), [...first].sort(), 'same keys to the same names')
})
