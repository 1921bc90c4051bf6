import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { waitFor } from '../helpers/wait.js'
import { tmpDir } from '../helpers/tmp.js'
import { consume, NS, publishMany, range, startHarness } from '../helpers/dispatch-harness.js'
import { deadLetterTopicOf, type SubscriptionMode } from '../../gateway/dispatch/index.js'

const TOPIC = `${NS}/orders`

for (const mode of ['exclusive', 'shared'] as SubscriptionMode[]) {
  t.test(`dispatch restart - ${mode}: redelivery count survives a dispatcher and ledger restart`, async (t) => {
    const { dir, cleanup } = await tmpDir()
    t.teardown(cleanup)
    let h = await startHarness({ dir })
    t.teardown(async () => { await h.close() })
    let c = await consume(h.dispatcher, { subscription: 'r', mode })
    await publishMany(h.dispatcher, TOPIC, range(3))
    await waitFor(() => c.sink.deliveries.length === 3)
    await c.consumer.ack(TOPIC, 1)
    await h.close()
    for (let round = 1; round <= 2; round++) {
      h = await startHarness({ dir })
      c = await consume(h.dispatcher, { subscription: 'r', mode })
      await waitFor(() => c.sink.deliveries.length === 2, { what: `round ${round}` })
      t.same(c.sink.deliveries.map((d) => [d.payload.toString(), d.redeliveryCount]), [['m0', round], ['m2', round]], `round ${round}: unacked ones again, count ${round}`)
      await h.close()
    }
  })
}

t.test('dispatch restart - a consumer SIGKILLed before acking: the message comes back with a higher count, never lost', async (t) => {
  const { dir, cleanup } = await tmpDir()
  t.teardown(cleanup)
  let h = await startHarness({ dir })
  t.teardown(async () => { await h.close() })
  await consume(h.dispatcher, { subscription: 'crash' }).then(async ({ consumer }) => { await consumer.close() })
  await publishMany(h.dispatcher, TOPIC, ['precious'])
  await h.close()

  for (let run = 0; run < 2; run++) {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../helpers/dispatch-child.ts', import.meta.url)), dir, 'exclusive'], { stdio: ['ignore', 'pipe', 'inherit'] })
    t.teardown(() => { child.kill('SIGKILL') })
    let out = ''
    child.stdout.on('data', (b: Buffer) => { out += b.toString() })
    await waitFor(() => out.includes('\n'), { timeoutMs: 20_000, what: 'child delivery' })
    t.same(JSON.parse(out.split('\n')[0]!), { entryId: 0, redeliveryCount: run }, `run ${run}: delivered with count ${run}`)
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }
  h = await startHarness({ dir, policy: { maxRedeliveries: 1 } })
  const c = await consume(h.dispatcher, { subscription: 'crash' })
  // Count 2 exceeds maxRedeliveries 1: dead-lettered instead of delivered.
  const dlq = deadLetterTopicOf(TOPIC, 'crash')
  await waitFor(() => h.ledger.topicInfo(dlq) !== undefined, { what: 'dead-lettered after the crashes' })
  t.equal(c.sink.deliveries.length, 0)
  const [copy] = await h.ledger.read(dlq, 0, { maxEntries: 1 })
  t.equal(copy?.payload.toString(), 'precious')
})

t.test('dispatch restart - filter subscriptions: topics created later or while down start exactly after the subscription', async (t) => {
  const { dir, cleanup } = await tmpDir()
  t.teardown(cleanup)
  let h = await startHarness({ dir })
  t.teardown(async () => { await h.close() })
  await h.dispatcher.publish({ topic: `${NS}/dev/1/t`, payload: Buffer.from('before-sub') })
  let c = await consume(h.dispatcher, { subscription: 'f', filter: 'dev/+/t', initialPosition: 'latest', mode: 'shared' })
  await h.dispatcher.publish({ topic: `${NS}/dev/1/t`, payload: Buffer.from('a1') })
  await h.dispatcher.publish({ topic: `${NS}/dev/2/t`, payload: Buffer.from('a2') }) // new topic while listening
  await waitFor(() => c.sink.deliveries.length === 2)
  await c.consumer.ack(`${NS}/dev/1/t`, 1)
  await c.consumer.close()
  await h.dispatcher.publish({ topic: `${NS}/dev/3/t`, payload: Buffer.from('a3') }) // new topic while nobody listens
  await h.close()

  // While the gateway is down, entries arrive through the ledger alone (as replication would).
  h = await startHarness({ dir })
  await h.dispatcher.close()
  await h.ledger.append({ topic: `${NS}/dev/4/t`, payload: Buffer.from('a4') })
  await h.ledger.append({ topic: `${NS}/dev/1/t`, payload: Buffer.from('a5') })
  await h.ledger.close()

  h = await startHarness({ dir })
  c = await consume(h.dispatcher, { subscription: 'f', filter: 'dev/+/t', initialPosition: 'latest', mode: 'shared' })
  await waitFor(() => c.sink.deliveries.length === 4, { what: 'every unacked message once' })
  t.same(c.sink.payloads().sort(), ['a2', 'a3', 'a4', 'a5'], 'nothing lost, nothing twice, nothing from before the subscription')
  t.same(c.sink.deliveries.filter((d) => d.payload.toString() === 'a2').map((d) => d.redeliveryCount), [1])
  t.equal(h.dispatcher.stats().subscriptions[0]!.topics, 4)
})

t.test('dispatch restart - delayed messages survive a restart and are delivered once, not early', async (t) => {
  const { dir, cleanup } = await tmpDir()
  t.teardown(cleanup)
  let h = await startHarness({ dir })
  t.teardown(async () => { await h.close() })
  for (const mode of ['shared', 'exclusive'] as SubscriptionMode[]) {
    const c = await consume(h.dispatcher, { subscription: `d-${mode}`, mode, filter: 'later' })
    await c.consumer.close()
  }
  const at = Date.now() + 1500
  await h.dispatcher.publish({ topic: `${NS}/later`, payload: Buffer.from('x'), props: { deliverAt: at } })
  await h.dispatcher.publish({ topic: `${NS}/later`, payload: Buffer.from('y') })
  await h.close()
  h = await startHarness({ dir })
  const shared = await consume(h.dispatcher, { subscription: 'd-shared', mode: 'shared', filter: 'later' })
  const excl = await consume(h.dispatcher, { subscription: 'd-exclusive', mode: 'exclusive', filter: 'later' })
  await waitFor(() => shared.sink.deliveries.length === 2 && excl.sink.deliveries.length === 2, { what: 'both delivered' })
  t.same(shared.sink.payloads(), ['y', 'x'])
  t.same(excl.sink.payloads(), ['x', 'y'])
  for (const d of [...shared.sink.deliveries, ...excl.sink.deliveries]) {
    if (d.payload.toString() === 'x') t.ok(d.atMs >= at, 'not before deliverAt')
  }
})

t.test('dispatch restart - shared readers jump over runs of pending delayed messages instead of reading them back', async (t) => {
  const { dir, cleanup } = await tmpDir()
  t.teardown(cleanup)
  let h = await startHarness({ dir })
  t.teardown(async () => { await h.close() })
  const c0 = await consume(h.dispatcher, { subscription: 'runs', mode: 'shared', filter: 'many' })
  await c0.consumer.close()
  const topic = `${NS}/many`
  // Far enough ahead that two restarts on a loaded machine happen before it (delayedPending is checked before then).
  const soon = Date.now() + 4000
  const inputs = []
  for (let i = 0; i < 3000; i++) inputs.push({ topic, payload: Buffer.from(`d${i}`), props: { deliverAt: i < 100 ? soon : Date.now() + 3_600_000 } })
  await h.ledger.appendMany(inputs)
  await h.dispatcher.publish({ topic, payload: Buffer.from('plain') })
  await h.close()

  h = await startHarness({ dir })
  let reads = 0
  const read = h.ledger.read.bind(h.ledger)
  h.ledger.read = async (...args: Parameters<typeof read>) => { reads++; return await read(...args) }
  const c = await consume(h.dispatcher, { subscription: 'runs', mode: 'shared', filter: 'many' })
  await waitFor(() => c.sink.deliveries.length === 1)
  t.same(c.sink.payloads(), ['plain'])
  t.ok(reads <= 2, `the 3000 pending delayed entries were not read back (${reads} reads)`)
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.delayedPending === 3000)
  await waitFor(() => c.sink.deliveries.length === 101, { what: 'the 100 due ones come back through the index' })
  t.ok(c.sink.deliveries.slice(1).every((d) => d.atMs >= soon), 'none early')
  t.same(new Set(c.sink.payloads()).size, 101, 'none twice')
})

t.test('dispatch restart - an unsubscribed durable subscription does not come back', async (t) => {
  const { dir, cleanup } = await tmpDir()
  t.teardown(cleanup)
  let h = await startHarness({ dir })
  t.teardown(async () => { await h.close() })
  const keep = await consume(h.dispatcher, { subscription: 'keep', filter: 'x/#' })
  const gone = await consume(h.dispatcher, { subscription: 'gone', filter: 'x/#' })
  await h.dispatcher.publish({ topic: `${NS}/x/1`, payload: Buffer.from('a') })
  await waitFor(() => keep.sink.deliveries.length === 1 && gone.sink.deliveries.length === 1)
  await h.dispatcher.unsubscribe(NS, 'x/#', 'gone')
  await h.close()
  h = await startHarness({ dir })
  await h.dispatcher.publish({ topic: `${NS}/x/2`, payload: Buffer.from('b') })
  const st = h.dispatcher.stats().subscriptions
  t.same(st.map((s) => s.subscription), ['keep'])
  t.equal(h.ledger.cursors(`${NS}/x/1`).length, 1)
  await waitFor(() => h.dispatcher.stats().subscriptions[0]!.backlog === 2, { what: 'the kept one still has a (unacked) and b' })
})
