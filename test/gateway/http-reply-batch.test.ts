/**
 * Replies settled outside a uWS callback (a publish's commit completing) are
 * written together after the turn's microtask drain (gateway/http/reply-batch.ts),
 * so work that drain queued after them (the store's next commit) runs before
 * their socket sends; each exchange still answers exactly once, with the first
 * outcome it was given, and a reply settled inside a uWS callback is written at once.
 */
import t from 'tap'
import { uws, type TemplatedApp, type us_listen_socket } from '../../gateway/uws.js'
import { silentLogger } from '../../common/log.js'
import { registerHttpRoutes, type HttpApi } from '../../gateway/http/index.js'
import { ReplyBatch } from '../../gateway/http/reply-batch.js'
import { FerryError, CommonCode } from '../../common/errors.js'
import { PolicyRegistry } from '../../gateway/policy/index.js'
import type { Dispatcher } from '../../gateway/dispatch/index.js'
import type { RequestPlan, ReplySink, ApiReply } from '../../gateway/http/request.js'
import { httpRequest } from '../helpers/http.js'
import type { TapTest } from '../helpers/tap-test.js'

/** Microtask hops the "later work" waits before it marks itself done: longer than the store's chain from commit to next write. */
const LATER_WORK_HOPS = 8

/** A plan that settles through `settle` (given the sink) and reads nothing but a small body. */
function planOf (settle: (sink: ReplySink) => void): RequestPlan {
  return {
    bodyBytesMax: 1024,
    tooLarge: () => new FerryError(CommonCode.TOO_LARGE, 'too large'),
    run: async () => await Promise.reject(new Error('runTo is used')),
    runTo: (_body, sink) => { settle(sink) }
  }
}

/** A reply whose body is encoded when it is written: it tells whether `later` had run by then. */
function replyReading (later: { done: boolean }): ApiReply {
  return { status: 201, body: { toJSON: () => ({ laterWorkDoneBeforeWrite: later.done }) } }
}

async function startApp (t: TapTest, routes: Map<string, () => RequestPlan>): Promise<string> {
  const app: TemplatedApp = uws.App()
  const api: HttpApi = registerHttpRoutes(app, {
    dispatcher: {} as unknown as Dispatcher,
    ledger: {} as never,
    policies: new PolicyRegistry({ 'public/default': {} }),
    siteId: 'u',
    dev: true,
    logger: silentLogger,
    extraRoutes: (head) => routes.get(head.path)?.()
  })
  let listen: us_listen_socket | undefined
  const port = await new Promise<number>((resolve, reject) => {
    app.listen('127.0.0.1', 0, (s) => { if (s === false) { reject(new Error('listen')); return } listen = s; resolve(uws.us_socket_local_port(s)) })
  })
  t.teardown(async () => { await api.close(); if (listen !== undefined) uws.us_listen_socket_close(listen) })
  return `http://127.0.0.1:${port}`
}

t.test('http reply batch - a reply settled in a microtask is written after the rest of that drain', async (t) => {
  const routes = new Map<string, () => RequestPlan>()
  routes.set('/later', () => planOf((sink) => {
    const later = { done: false }
    void Promise.resolve().then(() => {
      sink.reply(replyReading(later))
      // Queued after the reply, as the log writer's next commit is queued after the publishes a commit completes.
      let p = Promise.resolve()
      for (let i = 0; i < LATER_WORK_HOPS; i++) p = p.then(() => {})
      void p.then(() => { later.done = true })
    })
  }))
  const base = await startApp(t, routes)
  const r = await httpRequest(base, 'POST', '/later', { body: 'x' })
  t.equal(r.status, 201)
  t.same(r.json, { laterWorkDoneBeforeWrite: true })
})

t.test('http reply batch - the first outcome given wins; replies settled together all leave, once each', async (t) => {
  const routes = new Map<string, () => RequestPlan>()
  routes.set('/twice', () => planOf((sink) => {
    setTimeout(() => {
      sink.reply({ status: 201, body: { first: true } })
      sink.fail(new FerryError(CommonCode.INTERNAL, 'second outcome'))
      sink.reply({ status: 200, body: { third: true } })
    }, 1)
  }))
  const base = await startApp(t, routes)
  const replies = await Promise.all(Array.from({ length: 20 }, async () => await httpRequest(base, 'POST', '/twice', { body: 'x' })))
  for (const r of replies) {
    t.equal(r.status, 201)
    t.same(r.json, { first: true })
  }
})

t.test('http reply batch - a failure settled later is answered as {error: {code, message}} with its status', async (t) => {
  const routes = new Map<string, () => RequestPlan>()
  routes.set('/fails', () => planOf((sink) => { setTimeout(() => { sink.fail(new FerryError(CommonCode.TOO_LARGE, 'message too big')) }, 1) }))
  const base = await startApp(t, routes)
  const r = await httpRequest(base, 'POST', '/fails', { body: 'x' })
  t.equal(r.status, 413)
  t.same(r.json, { error: { code: CommonCode.TOO_LARGE, message: 'message too big' } })
})

t.test('http reply batch - a reply settled inside the uWS callback is written at once', async (t) => {
  const routes = new Map<string, () => RequestPlan>()
  const later = { done: false }
  routes.set('/sync', () => planOf((sink) => {
    later.done = false
    sink.reply(replyReading(later))
    later.done = true
  }))
  const base = await startApp(t, routes)
  const r = await httpRequest(base, 'POST', '/sync', { body: 'x' })
  t.equal(r.status, 201)
  t.same(r.json, { laterWorkDoneBeforeWrite: false })
})

t.test('http reply batch - one write that throws does not stop the others, and is reported', async (t) => {
  const errors: unknown[] = []
  const batch = new ReplyBatch((err) => { errors.push(err) })
  const written: number[] = []
  batch.add({ writeSettled: () => { written.push(1) } })
  batch.add({ writeSettled: () => { throw new Error('boom') } })
  batch.add({ writeSettled: () => { written.push(3) } })
  t.equal(batch.size, 3)
  t.same(written, [], 'nothing is written in the turn it settled')
  await new Promise((resolve) => setImmediate(resolve))
  t.same(written, [1, 3])
  t.equal(errors.length, 1)
  t.equal(batch.size, 0)
})
