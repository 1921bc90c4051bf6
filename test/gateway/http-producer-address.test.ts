/**
 * The producer of an HTTP publish without Ferry-Producer-Id is its client
 * address (the admin API's topic producers). Reading it is a system call, so
 * a publish path re-reads it only once PRODUCER_ADDRESS_REUSE_MS has passed
 * (gateway/http/publish-targets.ts addressProducer). Pinned here with given
 * clocks: within the window the address is not read again and the publish
 * counts for the address read last; past it (or when the clock went back) it
 * is read again; a producer id is used as is and never reads the address.
 */
import t from 'tap'
import { silentLogger } from '../../common/log.js'
import { HttpCore } from '../../gateway/http/api.js'
import { PRODUCER_ADDRESS_REUSE_MS } from '../../gateway/http/constants.js'
import { addressProducer } from '../../gateway/http/publish-targets.js'
import type { RequestHead } from '../../gateway/http/request.js'
import type { Dispatcher, PublishRequest, PublishResult, PublishSink, ProducerRef } from '../../gateway/dispatch/index.js'
import { PolicyRegistry } from '../../gateway/policy/index.js'

/** A request head whose address reads are counted. */
function head (path: string, address: () => string, headers: Array<readonly [string, string]> = []): RequestHead & { reads: number } {
  const h = { method: 'POST', path, query: '', headers, reads: 0, get remoteAddress () { h.reads++; return address() } }
  return h
}

const PATH = '/v1/topics/public/default/a/messages'

function setup (): { core: HttpCore, published: PublishRequest[] } {
  const published: PublishRequest[] = []
  const publish = async (req: PublishRequest): Promise<PublishResult> => { published.push(req); return { topic: req.topic, entryId: published.length, duplicate: false } }
  const dispatcher = {
    publish,
    publishTo: (req: PublishRequest, sink: PublishSink) => { publish(req).then((r) => { sink.published(r) }, (err: unknown) => { sink.failed(err) }) }
  } as unknown as Dispatcher
  const core = new HttpCore({ dispatcher, ledger: {} as never, policies: new PolicyRegistry({ 'public/default': {} }), siteId: 'u', dev: true, logger: silentLogger })
  return { core, published }
}

t.test('producer address - read once per window per path, read again after it or when the clock goes back', async (t) => {
  const { core } = setup()
  core.plan(head(PATH, () => '10.0.0.1'))
  const target = core.publishTargets.cached(PATH)
  if (target === undefined) throw new Error('path not cached')
  let address = '10.0.0.1'
  const h = head(PATH, () => address)
  const t0 = 1_000_000
  const first = addressProducer(target, h, t0)
  t.same(first, { name: '10.0.0.1', protocol: 'http' })
  t.equal(h.reads, 1)
  address = '10.0.0.2'
  const within = addressProducer(target, h, t0 + PRODUCER_ADDRESS_REUSE_MS - 1)
  t.equal(h.reads, 1, 'not read again within the window')
  t.equal(within, first, 'the publish counts for the address read last')
  const after = addressProducer(target, h, t0 + PRODUCER_ADDRESS_REUSE_MS)
  t.equal(h.reads, 2, 'read again once the window has passed')
  t.same(after, { name: '10.0.0.2', protocol: 'http' })
  addressProducer(target, h, t0)
  t.equal(h.reads, 3, 'a clock that went back reads again')
  address = '10.0.0.2'
  const same = addressProducer(target, h, t0 + 10 * PRODUCER_ADDRESS_REUSE_MS)
  t.equal(same.name, '10.0.0.2')
})

t.test('producer address - publishes name their producer: the address without a producer id, the id with one (address not read)', async (t) => {
  const { core, published } = setup()
  const anon = head(PATH, () => '192.0.2.7')
  const r = await core.plan(anon).run(Buffer.from('x'), () => new AbortController().signal)
  t.equal(r.status, 201)
  t.same(published[0]?.producer, { name: '192.0.2.7', protocol: 'http' } satisfies ProducerRef)
  t.ok(anon.reads <= 1, 'the address is read at most once for a request')
  const withId = head(PATH, () => { throw new Error('address read for a publish with a producer id') }, [['ferry-producer-id', 'job-1'], ['ferry-producer-seq', '1']])
  await core.plan(withId).run(Buffer.from('y'), () => new AbortController().signal)
  t.same(published[1]?.producer, { name: 'job-1', protocol: 'http' })
  t.equal(withId.reads, 0)
})
