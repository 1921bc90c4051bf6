import t from 'tap'
import { matchRoute } from '../../gateway/http/router.js'
import { checkPublishTopicLocal, TOPIC_LOCAL_BYTES_MAX } from '../../gateway/topic-names.js'
import { parseFerryPropertyHeader, propsFromHeaders, parseBatch, BATCH_JSON, BATCH_CBOR } from '../../gateway/http/publish-input.js'
import { encode } from 'cbor-x'

t.test('http router - topic routes match from the end, slashes stay in the topic', async (t) => {
  t.same(matchRoute('POST', '/v1/topics/acme/orders/eu/de/messages'), { kind: 'publish', tenant: 'acme', namespace: 'orders', local: 'eu/de' })
  t.same(matchRoute('POST', '/v1/topics/public/default//TopicA/messages'), { kind: 'publish', tenant: 'public', namespace: 'default', local: '/TopicA' })
  t.same(matchRoute('GET', '/v1/topics/a/b/x/y/subscriptions/s1/messages'), { kind: 'pull', tenant: 'a', namespace: 'b', local: 'x/y', subscription: 's1' })
  t.same(matchRoute('POST', '/v1/topics/a/b/x/subscriptions/s1/ack'), { kind: 'ack', tenant: 'a', namespace: 'b', local: 'x', subscription: 's1' })
  t.same(matchRoute('POST', '/v1/topics/a/b/x/subscriptions/s1/nack'), { kind: 'nack', tenant: 'a', namespace: 'b', local: 'x', subscription: 's1' })
  t.same(matchRoute('DELETE', '/v1/topics/a/b/x/subscriptions/s1'), { kind: 'deleteSubscription', tenant: 'a', namespace: 'b', local: 'x', subscription: 's1' })
  t.same(matchRoute('DELETE', '/v1/topics/a/b/x/messages/17'), { kind: 'cancelScheduled', tenant: 'a', namespace: 'b', local: 'x', messageId: '17' })
  t.same(matchRoute('POST', '/v1/topics/a/b/x%2Fmessages/messages'), { kind: 'publish', tenant: 'a', namespace: 'b', local: 'x/messages' }, '%2F is part of the topic')
  t.same(matchRoute('POST', '/v1/topics/a/b/caf%C3%A9/messages'), { kind: 'publish', tenant: 'a', namespace: 'b', local: 'café' })
})

t.test('http router - admin routes, 404 and 405', async (t) => {
  t.same(matchRoute('GET', '/healthz'), { kind: 'healthz' })
  t.same(matchRoute('GET', '/v1/admin/namespaces'), { kind: 'listNamespaces' })
  t.same(matchRoute('PUT', '/v1/admin/namespaces/acme/orders'), { kind: 'putNamespace', tenant: 'acme', namespace: 'orders' })
  t.same(matchRoute('GET', '/v1/admin/namespaces/acme/orders'), { kind: 'getNamespace', tenant: 'acme', namespace: 'orders' })
  t.same(matchRoute('GET', '/v1/admin/stats'), { kind: 'stats' })
  t.throws(() => matchRoute('GET', '/nope'), { code: 'E_ROUTE_NOT_FOUND' })
  t.throws(() => matchRoute('GET', '/v1/topics/a/b'), { code: 'E_ROUTE_NOT_FOUND' })
  t.throws(() => matchRoute('POST', '/v1/topics/a/b/messages'), { code: 'E_ROUTE_NOT_FOUND' }, 'no topic')
  t.throws(() => matchRoute('DELETE', '/healthz'), { code: 'E_METHOD_NOT_ALLOWED' })
  t.throws(() => matchRoute('GET', '/v1/topics/a/b/x/messages'), { code: 'E_METHOD_NOT_ALLOWED' })
  t.throws(() => matchRoute('POST', '/v1/topics/a/b/%E0%A4%A/messages'), { code: 'E_BAD_REQUEST' })
})

t.test('http topic names - local part rules', async (t) => {
  t.equal(checkPublishTopicLocal('a/b/c'), 'a/b/c')
  t.equal(checkPublishTopicLocal('/lead'), '/lead')
  t.equal(checkPublishTopicLocal('$sys-like'), '$sys-like')
  t.equal(checkPublishTopicLocal('emoji/😀'), 'emoji/😀')
  for (const bad of ['', 'a/+/b', 'a/#', 'nul\u0000', 'lone\ud800x', 'x'.repeat(TOPIC_LOCAL_BYTES_MAX + 1)]) {
    t.throws(() => checkPublishTopicLocal(bad), { code: 'E_TOPIC_INVALID' }, JSON.stringify(bad.slice(0, 20)))
  }
})

t.test('http publish input - Ferry-Property items, controls and refusals', async (t) => {
  t.same(parseFerryPropertyHeader('a=1, b=x%2Cy, c%3D=%25'), [['a', '1'], ['b', 'x,y'], ['c=', '%']])
  const props = propsFromHeaders([
    ['content-type', 'text/plain'], ['ferry-key', 'k1'], ['ferry-priority', '7'], ['ferry-property', 'a=1'],
    ['ferry-property', 'a=2'], ['ferry-delay-ms', '1000'], ['accept', '*/*']
  ], 1_000_000)
  t.same(props, { key: 'k1', priority: 7, deliverAt: 1_001_000, userProperties: [['a', '1'], ['a', '2']], contentType: 'text/plain' })
  const bad: Array<Array<[string, string]>> = [
    [['ferry-priority', '10']], [['ferry-priority', 'high']], [['ferry-kye', 'typo']], [['ferry-property', 'novalue']],
    [['ferry-property', '=x']], [['ferry-property', 'a=%zz']], [['ferry-producer-id', 'p']], [['ferry-ttl-ms', '0']],
    [['ferry-deliver-at', 'tomorrow']]
  ]
  for (const h of bad) t.throws(() => propsFromHeaders(h, 0), { code: 'E_BAD_REQUEST' }, JSON.stringify(h))
})

t.test('http publish input - batch JSON and CBOR', async (t) => {
  const now = 5000
  const list = [
    { payload: 'hello', key: 'k', priority: 9, properties: [['x', 'y']] },
    { payload: Buffer.from([0, 255]).toString('base64'), encoding: 'base64', delayMs: 10, producerId: 'p', producerSeq: 3 }
  ]
  const fromJson = parseBatch(BATCH_JSON, Buffer.from(JSON.stringify(list)), now, 10)
  t.equal(fromJson.length, 2)
  t.same(fromJson[0]?.payload, Buffer.from('hello'))
  t.same(fromJson[0]?.props, { key: 'k', priority: 9, userProperties: [['x', 'y']] })
  t.same(fromJson[1]?.payload, Buffer.from([0, 255]))
  t.same(fromJson[1]?.props, { deliverAt: 5010, producerId: 'p', producerSeq: 3 })
  const fromCbor = parseBatch(`${BATCH_CBOR}; v=1`, encode([{ payload: Buffer.from([1, 2, 3]), ttlMs: 100 }, { payload: 'text' }]), now, 10)
  t.same(fromCbor[0]?.payload, Buffer.from([1, 2, 3]))
  t.same(fromCbor[0]?.props, { expiresAt: 5100 })
  t.same(fromCbor[1]?.payload, Buffer.from('text'))
  const bad: unknown[] = [{}, [], [1], [{ payload: 1 }], [{ payload: 'x', encoding: 'hex' }], [{ payload: '***', encoding: 'base64' }],
    [{ payload: 'x', priority: '5' }], [{ payload: 'x', nope: 1 }], [{ payload: 'x', properties: [['a']] }], [{ payload: 'x', priority: 11 }]]
  for (const b of bad) t.throws(() => parseBatch(BATCH_JSON, Buffer.from(JSON.stringify(b)), now, 10), { code: 'E_BAD_REQUEST' }, JSON.stringify(b))
  t.throws(() => parseBatch(BATCH_JSON, Buffer.from('[{'), now, 10), { code: 'E_BAD_REQUEST' })
  t.throws(() => parseBatch(BATCH_CBOR, Buffer.from([0xff, 0x00, 0x13]), now, 10), { code: 'E_BAD_REQUEST' })
  t.throws(() => parseBatch(BATCH_JSON, Buffer.from(JSON.stringify([{ payload: 'a' }, { payload: 'b' }])), now, 1), { code: 'E_TOO_LARGE' })
})
