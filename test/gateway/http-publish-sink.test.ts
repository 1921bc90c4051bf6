/**
 * A single publish's runTo (the transport's hot path: the plan is the
 * dispatcher's PublishSink and settles the exchange itself) answers exactly what run answers: the same 201 body for a
 * stored message, and the dispatcher's own error (answered as
 * `{error: {code, message}}` with its status) when the publish fails.
 */
import t from 'tap'
import { FerryError, CommonCode } from '../../common/errors.js'
import { silentLogger } from '../../common/log.js'
import { HttpCore } from '../../gateway/http/api.js'
import type { ApiReply, RequestHead } from '../../gateway/http/request.js'
import type { Dispatcher, PublishRequest, PublishResult, PublishSink } from '../../gateway/dispatch/index.js'
import { PolicyRegistry } from '../../gateway/policy/index.js'

const PATH = '/v1/topics/public/default/a%2Fb/messages'

function head (): RequestHead {
  return { method: 'POST', path: PATH, query: '', headers: [['content-type', 'text/plain']], remoteAddress: '127.0.0.1' }
}

/** A dispatcher that publishes with `publish`; its publishTo sends that promise's outcome to the sink. */
function core (publish: (req: PublishRequest) => Promise<PublishResult>): HttpCore {
  const publishTo = (req: PublishRequest, sink: PublishSink): void => { publish(req).then((r) => { sink.published(r) }, (err: unknown) => { sink.failed(err) }) }
  return new HttpCore({ dispatcher: { publish, publishTo } as unknown as Dispatcher, ledger: {} as never, policies: new PolicyRegistry({ 'public/default': {} }), siteId: 'u', dev: true, logger: silentLogger })
}

async function viaSink (c: HttpCore): Promise<{ reply?: ApiReply, err?: unknown }> {
  const plan = c.plan(head())
  if (plan.runTo === undefined) throw new Error('single publish has no runTo')
  return await new Promise((resolve) => { plan.runTo?.(Buffer.from('x'), { reply: (reply) => { resolve({ reply }) }, fail: (err) => { resolve({ err }) } }) })
}

t.test('publish sink - runTo replies as run does', async (t) => {
  const c = core(async (req) => ({ topic: req.topic, entryId: 41, duplicate: false }))
  const viaRun = await c.plan(head()).run(Buffer.from('x'), () => new AbortController().signal)
  const { reply } = await viaSink(c)
  t.same(reply, viaRun)
  t.equal(reply?.status, 201)
  t.same(JSON.parse(String(reply?.body)), { messageId: '41', topic: 'public/default/a/b', duplicate: false })
})

t.test('publish sink - a failed publish reaches fail with the dispatcher error', async (t) => {
  const refused = new FerryError(CommonCode.TOO_LARGE, 'too big')
  const c = core(async () => { throw refused })
  await t.rejects(c.plan(head()).run(Buffer.from('x'), () => new AbortController().signal), refused)
  const { reply, err } = await viaSink(c)
  t.equal(reply, undefined)
  t.equal(err, refused)
})
