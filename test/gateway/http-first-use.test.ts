/**
 * The HTTP API as a new user meets it: stock clients (Node's fetch, curl) at
 * their defaults against a real gateway. Each case was found by trying it.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import net from 'node:net'
import { promisify } from 'node:util'
import { startTestGateway } from '../helpers/gateway.js'
import { topicPath } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

const run = promisify(execFile)

// pullReadyWaitMs is raised so a loaded machine's slow store read cannot make
// a waitMs=0 poll miss what is ready; the default is short (docs/HTTP.md).
const gw = await startTestGateway(t, { httpLimits: { pullReadyWaitMs: 10_000 } })
const base = gw.urls.http
await fetch(`${base}/v1/admin/namespaces/acme/first`, {
  method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redeliveryBackoffMs: [0] })
})

interface Pulled { messageId: string, topic: string, payload: string, redeliveryCount: number, contentType?: string, expiresAt?: number }

async function publish (topic: string, body: string, headers: Record<string, string> = {}): Promise<string> {
  const r = await fetch(`${base}${topicPath(topic)}/messages`, { method: 'POST', body, headers })
  if (r.status !== 201) throw new Error(`publish ${r.status} ${await r.text()}`)
  return ((await r.json()) as { messageId: string }).messageId
}

async function pull (topicOrFilter: string, sub: string, query = ''): Promise<Pulled[]> {
  const r = await fetch(`${base}${topicPath(topicOrFilter)}/subscriptions/${sub}/messages${query === '' ? '' : `?${query}`}`)
  if (r.status !== 200) throw new Error(`pull ${r.status} ${await r.text()}`)
  return ((await r.json()) as { messages: Pulled[] }).messages
}

async function httpStats (): Promise<Record<string, number>> {
  return ((await (await fetch(`${base}/v1/admin/stats`)).json()) as { http: Record<string, number> }).http
}

async function curl (...args: string[]): Promise<{ status: number, headers: string, body: string }> {
  const { stdout } = await run('curl', ['-s', '-i', ...args], { timeout: 30_000 })
  const split = stdout.indexOf('\r\n\r\n')
  const headers = stdout.slice(0, split)
  return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(headers)?.[1]), headers, body: stdout.slice(split + 4) }
}

t.test('http first use - a pull with the default waitMs returns what is ready at once', async (t) => {
  const topic = 'acme/first/ready'
  for (const p of ['r1', 'r2', 'r3']) await publish(topic, p)
  const got = await pull(topic, 'ready') // no waitMs: the default, 0
  t.same(got.map((m) => m.payload), ['r1', 'r2', 'r3'], 'the backlog, not []')
  t.same(await pull('acme/first/never-published', 'ready'), [], 'an empty topic answers [] at once')
})

t.test('http first use - a topic filter pulls every matching topic; acks name each topic', async (t) => {
  await publish('acme/first/sensors/t1', '21.5')
  await publish('acme/first/sensors/t2', '19.0')
  await publish('acme/first/other', 'not matched')
  const got = await pull('acme/first/sensors/#', 'filtered', 'waitMs=10000&max=10')
  const more = got.length < 2 ? await pull('acme/first/sensors/#', 'filtered', 'waitMs=10000') : []
  const all = [...got, ...more]
  t.same(all.map((m) => `${m.topic} ${m.payload}`).sort(), ['acme/first/sensors/t1 21.5', 'acme/first/sensors/t2 19.0'])
  const ackPath = `${base}${topicPath('acme/first/sensors/#')}/subscriptions/filtered/ack`
  const idsOnly = await fetch(ackPath, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messageIds: all.map((m) => m.messageId) }) })
  t.equal(idsOnly.status, 400, 'bare ids are ambiguous on a filter')
  const ack = await fetch(ackPath, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: all.map((m) => ({ topic: m.topic, messageId: m.messageId })) })
  })
  t.same(await ack.json(), { acked: 2 }, 'both acknowledged')
  const outside = await fetch(ackPath, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ topic: 'acme/first/other', messageId: '0' }] })
  })
  t.equal(outside.status, 400, 'a topic the filter does not cover is refused')
  await publish('acme/first/sensors/t1', 'next')
  const after = await pull('acme/first/sensors/#', 'filtered', 'waitMs=10000')
  t.same(after.map((m) => m.payload), ['next'], 'acked ones do not come back')
})

t.test('http first use - a pulled message never acked comes back although the client keeps polling', async (t) => {
  const topic = 'acme/first/lease'
  await publish(topic, 'ack me')
  const first = await pull(topic, 'leased', 'leaseMs=300&waitMs=10000')
  t.equal(first.length, 1)
  t.equal(first[0]?.redeliveryCount, 0)
  const back = await waitFor(async () => (await pull(topic, 'leased', 'leaseMs=300&waitMs=1000'))[0], { timeoutMs: 20_000, what: 'the unacked message redelivered' })
  t.equal(back.messageId, first[0]?.messageId, 'same message')
  t.equal(back.payload, 'ack me')
  t.ok(back.redeliveryCount >= 1, 'counted as a redelivery')
  t.ok((await httpStats()).pullLeasesExpired >= 1, 'lease expiry is counted')
  const ack = await fetch(`${base}${topicPath(topic)}/subscriptions/leased/ack`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messageIds: [back.messageId] })
  })
  t.equal(ack.status, 200)
})

t.test('http first use - a message that expired in the pull buffer is never handed out', async (t) => {
  const topic = 'acme/first/ttl'
  t.same(await pull(topic, 'ttl'), [], 'attach: the consumer now holds permits')
  const before = (await httpStats()).pullExpiredBeforeHandOut ?? 0
  await publish(topic, 'short-lived', { 'Ferry-Ttl-Ms': '2000' })
  const expiresBy = Date.now() + 2000 // the gateway set expiresAt before it answered
  await waitFor(async () => (await httpStats()).pullBufferedMessages >= 1, { what: 'message buffered for the attached consumer' })
  await waitFor(() => Date.now() > expiresBy + 100, { timeoutMs: 10_000, what: 'the message to expire' })
  const got = await pull(topic, 'ttl')
  t.same(got, [], 'nothing expired is returned')
  t.equal((await httpStats()).pullExpiredBeforeHandOut, before + 1, 'dropped at hand-out, counted')
  await publish(topic, 'fresh')
  t.same((await pull(topic, 'ttl', 'waitMs=10000')).map((m) => m.payload), ['fresh'], 'the consumer goes on')
})

t.test('http first use - JSON routes refuse text/plain (fetch with a string body) and form bodies with 415', async (t) => {
  const path = `${base}${topicPath('acme/first/json')}/subscriptions/s/ack`
  const plain = await fetch(path, { method: 'POST', body: JSON.stringify({ messageIds: ['0'] }) }) // fetch sends text/plain;charset=UTF-8
  t.equal(plain.status, 415)
  t.equal(((await plain.json()) as { error: { code: string } }).error.code, 'E_UNSUPPORTED_MEDIA_TYPE')
  const form = await curl('-X', 'POST', path, '-d', '{"messageIds":["0"]}') // curl -d: application/x-www-form-urlencoded
  t.equal(form.status, 415)
  t.match(form.body, /application\/json/, 'the error says what to send')
})

t.test('http first use - 405 answers carry Allow', async (t) => {
  const r = await curl('-X', 'DELETE', `${base}/healthz`)
  t.equal(r.status, 405)
  t.match(r.headers, /^allow: GET$/mi)
  const topic = await fetch(`${base}${topicPath('acme/first/x')}/messages`, { method: 'GET' })
  t.equal(topic.status, 405)
  t.equal(topic.headers.get('allow'), 'POST')
})

t.test("http first use - curl's default form content type is not stored as the message's", async (t) => {
  const topic = 'acme/first/curl'
  const r = await curl('-X', 'POST', `${base}${topicPath(topic)}/messages`, '-d', '{"id":1}')
  t.equal(r.status, 201)
  const typed = await curl('-X', 'POST', `${base}${topicPath(topic)}/messages`, '-H', 'Content-Type: application/json', '-d', '{"id":2}')
  t.equal(typed.status, 201)
  const got = await pull(topic, 'c', 'waitMs=10000&max=2')
  const all = got.length < 2 ? [...got, ...await pull(topic, 'c', 'waitMs=10000')] : got
  t.equal(all[0]?.payload, '{"id":1}')
  t.equal(all[0]?.contentType, undefined, 'no content type rather than a form')
  t.equal(all[1]?.contentType, 'application/json', 'a content type given on purpose is kept')
})

t.test('http first use - a garbage request line is closed, never held open, and the gateway keeps serving', async (t) => {
  // uWebSockets.js 20.30 (the version in package.json) answers no bytes to a
  // request line it cannot parse; it closes the connection at its HTTP idle
  // timeout (10 s, checked every 4 s). docs/HTTP.md says so. A 400 is accepted
  // too, for when a newer uWS answers one.
  const socket = net.connect({ host: '127.0.0.1', port: gw.ports.http })
  t.teardown(() => { socket.destroy() })
  let reply = ''
  socket.on('data', (d: Buffer) => { reply += d.toString('latin1') })
  socket.on('error', () => undefined)
  const closed = new Promise<void>((resolve) => { socket.once('close', () => { resolve() }) })
  socket.write('garbage garbage\r\n\r\n')
  const healthy = await fetch(`${base}/healthz`)
  t.equal(healthy.status, 200, 'other clients are served meanwhile')
  await Promise.race([closed, waitFor(() => false, { timeoutMs: 40_000, what: 'the server to close the garbage connection' })])
  t.ok(reply === '' || /^HTTP\/1\.1 400 /.test(reply), `no answer or a 400, got ${JSON.stringify(reply.slice(0, 40))}`)
  t.equal((await fetch(`${base}/healthz`)).status, 200, 'still serving after')
})

t.test('http first use - an ack counts only real acknowledgements; unknown ids come back', async (t) => {
  const topic = 'acme/first/acks'
  const id = await publish(topic, 'one')
  const got = await pull(topic, 'counted')
  t.same(got.map((m) => m.messageId), [id])
  const ack = async (body: unknown): Promise<unknown> => await (await fetch(`${base}${topicPath(topic)}/subscriptions/counted/ack`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body)
  })).json()
  t.same(await ack({ messageIds: [id, '999'] }), { acked: 1, unknown: ['999'] }, 'the real one counts, the unknown one is named')
  t.same(await ack({ messageIds: [id] }), { acked: 0, unknown: [id] }, 'a repeated ack is not counted again')
  t.same(await ack({ messages: [{ topic, messageId: '998' }] }), { acked: 0, unknown: [{ topic, messageId: '998' }] }, 'in the form it was given')
})
