/**
 * Resetting a subscription's cursor backwards (admin API): everything after
 * the target is delivered again, acknowledged messages included, and the
 * rewind is durable (a restart between the reset and the consumer keeps it).
 * Plus the store's part (Cursor.rewindTo, store/cursor-reset.ts) on the file
 * ledger across a reopen, with and without a checkpoint, and on the memory ledger.
 */
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createFileLedger, createMemoryLedger, type Ledger } from '../../store/index.js'
import { policyByPrefix } from '../store/helpers.js'
import { connectMqtt, startTestGateway } from '../helpers/gateway.js'
import { httpRequest, topicPath } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'
import { ferry } from './ferry-cli.js'

const TOPIC = 'public/default/reset/t'
const SUB = `/v1/admin/topics/public/default/${encodeURIComponent('reset/t')}/subscriptions/r`
const json = (o: unknown): { body: string } => ({ body: JSON.stringify(o) })

interface Pulled { messageId: string, payload: string }

/** Pull (and ack) until `n` messages came, in order of arrival. */
async function consume (url: string, n: number): Promise<Pulled[]> {
  const got: Pulled[] = []
  await waitFor(async () => {
    const r = await httpRequest(url, 'GET', `${topicPath(TOPIC)}/subscriptions/r/messages?max=${n - got.length}&waitMs=1000&position=earliest`)
    const msgs = r.json.messages as Array<{ messageId: string, payload: string }>
    if (msgs.length > 0) {
      const a = await httpRequest(url, 'POST', `${topicPath(TOPIC)}/subscriptions/r/ack`, json({ messageIds: msgs.map((m) => m.messageId) }))
      if (a.status !== 200) throw new Error(`ack: ${a.status} ${a.text}`)
      got.push(...msgs.map((m) => ({ messageId: m.messageId, payload: m.payload })))
    }
    return got.length >= n
  }, { timeoutMs: 30_000, what: `${n} messages` })
  return got
}

t.test('ops cursor reset - back to the 3rd message id, and to its time: messages 3..10 come again, acknowledged ones too, across a restart', async (t) => {
  const gw = await startTestGateway(t)
  const u = (): string => gw.urls.http
  for (let i = 1; i <= 2; i++) t.equal((await httpRequest(u(), 'POST', `${topicPath(TOPIC)}/messages`, { body: `m${i}` })).status, 201)
  // The 3rd message gets a later publish time than the 2nd, so a reset to its time is exact.
  const peek2 = await httpRequest(u(), 'GET', `/v1/admin/topics/public/default/${encodeURIComponent('reset/t')}/messages?from=0&max=2`)
  const t2 = peek2.json.messages[1].publishTime as number
  await waitFor(() => Date.now() > t2, { what: 'the clock moves past the 2nd message' })
  for (let i = 3; i <= 10; i++) t.equal((await httpRequest(u(), 'POST', `${topicPath(TOPIC)}/messages`, { body: `m${i}` })).status, 201)

  const first = await consume(u(), 10)
  t.same(first.map((m) => m.payload), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10'])
  await waitFor(async () => (await httpRequest(u(), 'GET', `${SUB}`)).json.topicBacklog === 0, { timeoutMs: 30_000, what: 'all 10 acknowledged' })
  const third = first[2] as Pulled

  // By id: the 3rd message is the next to deliver again.
  const byId = await httpRequest(u(), 'POST', `${SUB}/reset`, json({ messageId: third.messageId }))
  t.equal(byId.status, 200, byId.text)
  t.same([byId.json.direction, byId.json.nextMessageId, byId.json.backlog], ['backward', third.messageId, 8])
  // The rewind is durable: restart before anyone consumes.
  await gw.restart()
  t.equal((await httpRequest(u(), 'GET', SUB)).json.topicBacklog, 8, 'the backlog after the restart')
  const again = await consume(u(), 8)
  t.same(again.map((m) => m.payload), ['m3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10'], 'messages 3..10 again, in order')
  t.same(again.map((m) => m.messageId), first.slice(2).map((m) => m.messageId), 'the same message ids')

  // By time: the 3rd message's publish time.
  const peek3 = await httpRequest(u(), 'GET', `/v1/admin/topics/public/default/${encodeURIComponent('reset/t')}/messages?from=${third.messageId}&max=1`)
  const byTime = await httpRequest(u(), 'POST', `${SUB}/reset`, json({ time: new Date(peek3.json.messages[0].publishTime as number).toISOString() }))
  t.same([byTime.json.direction, byTime.json.nextMessageId, byTime.json.backlog], ['backward', third.messageId, 8])
  const byTimeAgain = await consume(u(), 8)
  t.same(byTimeAgain.map((m) => m.payload), ['m3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10'])

  // Forward still works and keeps its meaning.
  const fwd = await httpRequest(u(), 'POST', `${SUB}/reset`, json({ messageId: first[8]?.messageId }))
  t.same([fwd.json.direction, fwd.json.backlog], ['backward', 2], 'before acknowledged messages: a rewind')
  const tail = await consume(u(), 2)
  t.same(tail.map((m) => m.payload), ['m9', 'm10'])

  // The CLI says which way it went.
  const cli = await ferry(['admin', '--url', u(), 'sub', 'reset', 'public/default', 'reset/t', 'r', '--to-id', third.messageId])
  t.equal(cli.code, 0, cli.err)
  t.match(cli.out, new RegExp(`^reset backward: next message ${third.messageId}; backlog 8$`, 'm'))
})

t.test('ops cursor reset - a connected MQTT session gets messages 3..10 again, live, after a reset to the 3rd id', async (t) => {
  const gw = await startTestGateway(t)
  const u = gw.urls.http
  const got: string[] = []
  const reader = await connectMqtt(t, gw, gw.urls.mqtt, { clientId: 'reader', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 300 } })
  reader.on('message', (_topic, payload) => { got.push(payload.toString()) })
  await reader.subscribeAsync('reset/m', { qos: 1 })
  for (let i = 1; i <= 10; i++) t.equal((await httpRequest(u, 'POST', `${topicPath('public/default/reset/m')}/messages`, { body: `m${i}` })).status, 201)
  await waitFor(() => got.length === 10, { timeoutMs: 30_000, what: 'the 10 messages over MQTT' })
  // The session's subscription, addressed by its dispatcher name (its filter holds a /: one percent-encoded segment).
  const sub = `/v1/admin/topics/public/default/${encodeURIComponent('reset/m')}/subscriptions/${encodeURIComponent('mqtt:reader:reset/m')}`
  await waitFor(async () => (await httpRequest(u, 'GET', sub)).json.topicBacklog === 0, { timeoutMs: 30_000, what: 'PUBACKs acknowledged all 10' })
  const msgs = (await httpRequest(u, 'GET', `/v1/admin/topics/public/default/${encodeURIComponent('reset/m')}/messages?from=0&max=10`)).json.messages as Array<{ messageId: string }>
  const reset = await httpRequest(u, 'POST', `${sub}/reset`, json({ messageId: msgs[2]?.messageId }))
  t.equal(reset.status, 200, reset.text)
  t.equal(reset.json.direction, 'backward')
  await waitFor(() => got.length === 18, { timeoutMs: 30_000, what: 'messages 3..10 again' })
  t.same(got.slice(10), ['m3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10'], 'in order, to the connected client')
})

const dirs: string[] = []
t.teardown(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }) })

async function fileLedger (dir: string): Promise<Ledger> {
  const l = createFileLedger({ siteId: 's', dir, policyOf: policyByPrefix(), checkpointIntervalMs: 0, retentionIntervalMs: 0 })
  await l.open()
  return l
}

t.test('ops cursor reset - store: rewindTo drops acknowledgements and delivery counts above the point; durable across reopen and checkpoint', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-rewind-'))
  dirs.push(dir)
  let l = await fileLedger(dir)
  await l.appendMany(Array.from({ length: 10 }, (_, i) => ({ topic: 'a/t', payload: Buffer.from(`e${i}`) })))
  let c = await l.cursor('a/t', 's', { durable: true, start: { kind: 'earliest' } })
  await c.recordDeliveries([0, 1, 2, 3, 4])
  await c.recordDeliveries([4])
  await c.ackCumulative(5)
  await c.ack([7, 8])
  t.equal(c.backlogEntries(), 2)
  t.equal(await c.rewindTo(1), 1)
  t.equal(c.markDelete(), 1)
  t.same(c.ackedRanges(), [], 'individual acks above the point are gone')
  t.equal(c.backlogEntries(), 8)
  t.equal(c.deliveryCount(4), 0, 'delivery counts start over')
  t.same(l.cursors('a/t').map((x) => x.markDelete()), [1], 'the same cursor, not a second one')
  await l.close()

  l = await fileLedger(dir)
  c = l.cursors('a/t')[0] as typeof c
  t.equal(c.markDelete(), 1, 'replayed from the log')
  t.equal(c.backlogEntries(), 8)
  await c.ack([5])
  t.equal(await c.rewindTo(-5), -1, 'clamped to before the first entry')
  t.equal(await c.rewindTo(50), 9, 'clamped to the last entry')
  await c.rewindTo(3)
  await l.checkpoint()
  await l.close()
  l = await fileLedger(dir)
  c = l.cursors('a/t')[0] as typeof c
  t.same([c.markDelete(), c.backlogEntries()], [3, 6], 'from the checkpoint')
  await l.close()

  const m = createMemoryLedger({ siteId: 's', policyOf: policyByPrefix() })
  await m.open()
  await m.appendMany(Array.from({ length: 4 }, () => ({ topic: 'mem/t', payload: Buffer.alloc(1) })))
  const mc = await m.cursor('mem/t', 's', { durable: true, start: { kind: 'earliest' } })
  await mc.ackCumulative(3)
  t.equal(await mc.rewindTo(0), 0)
  t.equal(mc.backlogEntries(), 3, 'memory topics rewind in memory')
  await m.close()
})
