import t from 'tap'
import { createMemoryLedger } from '../../store/index.js'
import { PolicyRegistry } from '../../gateway/policy/index.js'
import { createDispatcher } from '../../gateway/dispatch/index.js'
import { PullConsumers, type PullRequest } from '../../gateway/http/pull.js'
import { DEFAULT_HTTP_LIMITS } from '../../gateway/http/constants.js'
import { silentLogger } from '../../common/log.js'
import { waitFor } from '../helpers/wait.js'

async function setup (t: { teardown: (fn: () => unknown) => void }, limits: Partial<typeof DEFAULT_HTTP_LIMITS>): Promise<{ pull: PullConsumers, publish: (p: string) => Promise<number>, ack: (ids: number[]) => Promise<void> }> {
  const policies = new PolicyRegistry({ 'public/default': { redeliveryBackoffMs: [0] } })
  const ledger = createMemoryLedger({ siteId: 'lease', policyOf: (topic) => policies.storePolicy(topic) })
  await ledger.open()
  policies.attach(ledger)
  const dispatcher = createDispatcher({ ledger, policies, siteId: 'lease', logger: silentLogger })
  const pull = new PullConsumers({ dispatcher, ledger }, { ...DEFAULT_HTTP_LIMITS, ...limits }, silentLogger)
  t.teardown(async () => { await pull.close(); await dispatcher.close(); await ledger.close() })
  return {
    pull,
    publish: async (p) => (await dispatcher.publish({ topic: 'public/default/lease', payload: Buffer.from(p) })).entryId,
    ack: async (ids) => {
      await dispatcher.ack('public/default/lease', 'leased', ids)
      pull.settled('public/default/lease', 'leased', ids.map((entryId) => ({ topic: 'public/default/lease', entryId })))
    }
  }
}

function req (consumerName: string, max: number, waitMs: number, leaseMs = 30_000): PullRequest {
  return {
    namespace: 'public/default', local: 'lease', topic: 'public/default/lease', subscription: 'leased', mode: 'shared',
    consumerName, initialPosition: 'earliest', max, waitMs, leaseMs, signal: new AbortController().signal
  }
}

t.test('http pull lease - an idle pull consumer is closed and what it held goes back to the subscription', async (t) => {
  const { pull, publish } = await setup(t, { pullConsumerIdleMs: 50 })
  await pull.pull(req('first', 10, 0)) // attaches the consumer and grants 10 permits
  for (const p of ['a', 'b', 'c']) await publish(p)
  const one = await pull.pull(req('first', 1, 5000))
  t.equal(one.length, 1, 'max 1')
  await waitFor(() => pull.bufferedMessages() === 2, { what: 'the other two buffered' })
  await waitFor(() => pull.size === 0, { what: 'idle consumer closed by its lease' })
  const seen = new Map<string, number>()
  await waitFor(async () => {
    for (const d of await pull.pull(req('second', 10, 1000))) seen.set(d.payload.toString(), d.redeliveryCount)
    return seen.size === 3
  }, { what: 'all three delivered to the next consumer' })
  t.same([...seen.keys()].sort(), ['a', 'b', 'c'], 'nothing lost: returned-but-unacked and buffered ones come back')
  t.ok((seen.get(one[0]?.payload.toString() ?? '') ?? 0) >= 1, 'the one handed out before counts as redelivered')
})

t.test('http pull lease - buffered messages never exceed pullBufferMessagesMax', async (t) => {
  const { pull, publish } = await setup(t, { pullBufferMessagesMax: 3, pullMessagesMax: 3 })
  for (let i = 0; i < 10; i++) await publish(`m${i}`)
  const first = await pull.pull(req('b', 3, 5000))
  t.ok(first.length >= 1 && first.length <= 3)
  t.ok(pull.bufferedMessages() <= 3, 'bounded buffer')
  const all: string[] = first.map((d) => d.payload.toString())
  await waitFor(async () => {
    const got = await pull.pull(req('b', 3, 1000))
    t.ok(got.length <= 3 && pull.bufferedMessages() <= 3, 'bounded on every request')
    all.push(...got.map((d) => d.payload.toString()))
    return all.length >= 10
  }, { what: 'all ten' })
  t.same(all, Array.from({ length: 10 }, (_, i) => `m${i}`))
})

t.test('http pull lease - a consumer holds at most pullLeasedMessagesMax unacked messages; acks make room', async (t) => {
  const { pull, publish, ack } = await setup(t, { pullLeasedMessagesMax: 2, pullMessagesMax: 2 })
  for (let i = 0; i < 5; i++) await publish(`m${i}`)
  const first: number[] = []
  await waitFor(async () => {
    for (const d of await pull.pull(req('held', 2, 1000))) first.push(d.entryId)
    return first.length >= 2
  }, { what: 'two messages' })
  t.equal(first.length, 2)
  t.equal(pull.stats().pullLeasedMessages, 2, 'both under lease')
  t.same(await pull.pull(req('held', 2, 300)), [], 'nothing more while the bound is reached')
  await ack([first[0] as number])
  t.equal(pull.stats().pullLeasedMessages, 1, 'an ack ends a lease')
  const next = await waitFor(async () => { const got = await pull.pull(req('held', 2, 1000)); return got.length > 0 ? got : undefined }, { what: 'room after the ack' })
  t.equal(next.length, 1, 'exactly the room the ack made')
  t.ok(pull.stats().pullLeasedMessages <= 2, 'never above the bound')
})

t.test('http pull lease - leases of different lengths expire in deadline order and redeliver', async (t) => {
  const { pull, publish } = await setup(t, {})
  await publish('long')
  const long = await pull.pull(req('order', 1, 5000, 60_000))
  await publish('short')
  const short = await pull.pull(req('order', 1, 5000, 100))
  t.same([long[0]?.payload.toString(), short[0]?.payload.toString()], ['long', 'short'])
  const again = await waitFor(async () => { const got = await pull.pull(req('order', 1, 1000, 60_000)); return got.length > 0 ? got : undefined }, { what: 'the short lease to expire' })
  t.equal(again[0]?.payload.toString(), 'short', 'the short lease ran out first, the long one still holds')
  t.equal(again[0]?.redeliveryCount, 1)
  t.equal(pull.stats().pullLeasesExpired, 1)
})
