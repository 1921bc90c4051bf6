/**
 * Dispatcher.publishTo (the HTTP publish's path: the outcome goes to the
 * request's own PublishSink, no promise per publish). Pinned here: the sink
 * hears `published` exactly once and only after the ledger resolved the
 * append, with the id the ledger holds the message under; a refusal or a
 * store failure reaches `failed` instead; and over a real socket the 201
 * leaves only once the message's fdatasync is done, while refusals and store
 * failures answer their status with the `{error: {code, message}}` body.
 */
import t from 'tap'
import { SimDisk, type AppendInput, type AppendResult, type AppendSink, type Ledger } from '../../store/index.js'
import type { PublishResult, PublishSink } from '../../gateway/dispatch/index.js'
import { startHarness, NS } from '../helpers/dispatch-harness.js'
import { startTestGateway } from '../helpers/gateway.js'
import { httpRequest, topicPath } from '../helpers/http.js'
import { SyncGate } from '../helpers/sync-gate.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

/** A sink that records what it heard, in order. */
class Heard implements PublishSink {
  readonly events: Array<{ published: PublishResult } | { failed: unknown }> = []
  published (result: PublishResult): void { this.events.push({ published: result }) }
  failed (err: unknown): void { this.events.push({ failed: err }) }
}

/** The ledger with its append outcomes (promise or sink) held back until release(): the real append underneath. */
function heldLedger (ledger: Ledger): { ledger: Ledger, held: () => number, release: () => void } {
  let holding: Array<() => void> = []
  const wrapped = new Proxy(ledger, {
    get (target, prop) {
      if (prop === 'append') {
        return async (input: AppendInput): Promise<AppendResult> => {
          const r = await target.append(input)
          await new Promise<void>((resolve) => { holding.push(resolve) })
          return r
        }
      }
      if (prop === 'appendTo') {
        return (input: AppendInput, sink: AppendSink): void => {
          target.appendTo(input, {
            appended (entryId, lsn, duplicate) { holding.push(() => { sink.appended(entryId, lsn, duplicate) }) },
            appendFailed (err) { holding.push(() => { sink.appendFailed(err) }) }
          })
        }
      }
      const v: unknown = Reflect.get(target, prop)
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    }
  })
  return { ledger: wrapped, held: () => holding.length, release: () => { for (const r of holding.splice(0)) r(); holding = [] } }
}

t.test('publish to - published once, only after the ledger resolved the append, with the id it holds the message under', async (t) => {
  const dir = await tmpDir('ferry-publish-to-')
  t.teardown(dir.cleanup)
  let gate: ReturnType<typeof heldLedger> | undefined
  const h = await startHarness({ dir: dir.dir, wrapLedger: (l) => { gate = heldLedger(l); return gate.ledger } })
  t.teardown(h.close)
  const g = gate as ReturnType<typeof heldLedger>
  const topic = `${NS}/publish-to`
  const sink = new Heard()
  h.dispatcher.publishTo({ topic, payload: Buffer.from('held'), props: {}, namespace: NS }, sink)
  await waitFor(() => g.held() > 0, { what: 'the append reached the ledger' })
  // The store wrote it; the dispatcher has not seen the append resolve: nothing may be acknowledged yet.
  await new Promise<void>((resolve) => { setImmediate(resolve) })
  t.same(sink.events, [], 'no outcome while the append is unresolved')
  g.release()
  await waitFor(() => sink.events.length > 0, { what: 'the outcome' })
  t.equal(sink.events.length, 1)
  const first = sink.events[0] as { published: PublishResult }
  t.ok('published' in first, 'published, not failed')
  t.equal(first.published.topic, topic)
  t.equal(first.published.duplicate, false)
  const stored = await h.ledger.readOne(topic, first.published.entryId)
  t.equal(stored?.payload.toString(), 'held', 'the ledger holds the message under the acknowledged id')
  t.equal(h.dispatcher.stats().published, 1)
})

t.test('publish to - a refusal and a closed dispatcher reach failed, never published', async (t) => {
  const h = await startHarness({ policy: { publishRateMsgsPerSec: 1 } })
  t.teardown(h.close)
  const topic = `${NS}/refused`
  const ok = new Heard()
  h.dispatcher.publishTo({ topic, payload: Buffer.from('a') }, ok)
  await waitFor(() => ok.events.length > 0, { what: 'the first outcome' })
  t.ok('published' in (ok.events[0] as object), 'within the rate: published')
  const limited = new Heard()
  h.dispatcher.publishTo({ topic, payload: Buffer.from('b') }, limited)
  t.match(limited.events, [{ failed: { code: 'E_RATE_LIMIT' } }], 'past the rate: failed, before publishTo returned')
  const bad = new Heard()
  h.dispatcher.publishTo({ topic: 'no-namespace', payload: Buffer.from('c') }, bad)
  t.match(bad.events, [{ failed: { code: 'E_TOPIC_INVALID' } }])
  await h.dispatcher.close()
  const closed = new Heard()
  h.dispatcher.publishTo({ topic, payload: Buffer.from('d') }, closed)
  await waitFor(() => closed.events.length > 0, { what: 'the outcome after close' })
  t.match(closed.events, [{ failed: { code: 'E_CLOSED' } }])
  t.equal(ok.events.length + limited.events.length + bad.events.length + closed.events.length, 4, 'one outcome each')
})

t.test('publish to - over HTTP the 201 leaves only after the fdatasync; refusals and store failures answer status and JSON error', async (t) => {
  const sim = new SimDisk(11)
  const disk = new SyncGate(sim)
  const gw = await startTestGateway(t, { disk, namespaces: { 'public/limited': { publishRateMsgsPerSec: 1 } } })
  const publish = async (topic: string, body: string): Promise<{ status: number, json: unknown }> =>
    await httpRequest(gw.urls.http, 'POST', `${topicPath(topic)}/messages`, { body, headers: { 'content-type': 'text/plain' } })
  const topic = 'public/default/publish-to'
  t.equal((await publish(topic, 'first')).status, 201)

  disk.hold = true
  let answered = false
  const pending = publish(topic, 'synced').then((r) => { answered = true; return r })
  await waitFor(() => disk.waiting > 0, { what: 'the publish waits in its fdatasync' })
  // A whole request on another connection: the server's loop has turned since, and still no 201.
  t.equal((await httpRequest(gw.urls.http, 'GET', '/healthz')).status, 200)
  t.equal(answered, false, 'no reply while the fdatasync is held')
  disk.release()
  const synced = await pending
  t.equal(synced.status, 201)
  t.match(synced.json, { messageId: String, topic, duplicate: false })

  t.equal((await publish('public/limited/a', 'one')).status, 201)
  const limited = await publish('public/limited/a', 'two')
  t.equal(limited.status, 429, 'a refusal before the append: its status')
  t.match(limited.json, { error: { code: 'E_RATE_LIMIT', message: String } })

  const pulled = await httpRequest(gw.urls.http, 'GET', `${topicPath(topic)}/subscriptions/reader/messages?max=10&waitMs=2000&mode=exclusive`)
  t.equal(pulled.status, 200)
  const messages = (pulled.json as { messages: Array<{ payload?: string, messageId: string }> }).messages
  t.same(messages.map((m) => m.payload), ['first', 'synced'], 'what was acknowledged is stored; the refused ones are not')
  t.equal(messages[1]?.messageId, (synced.json as { messageId: string }).messageId)

  sim.setFreeBytes(0)
  const full = await publish(topic, 'no room')
  t.equal(full.status, 507, 'a store failure after the append: its status')
  t.match(full.json, { error: { code: 'E_DISK_FULL', message: String } })
})
