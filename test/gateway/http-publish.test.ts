import t from 'tap'
import { encode } from 'cbor-x'
import { request } from 'node:http'
import { connect } from 'node:net'
import { startTestGateway } from '../helpers/gateway.js'
import { httpRequest, topicPath } from '../helpers/http.js'

const gw = await startTestGateway(t)
const NS = 'public/default'

/** Subscription names are per namespace: one per topic here. */
async function pullAll (topic: string, sub: string, max = 100): Promise<any[]> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await httpRequest(gw.urls.http, 'GET', `${topicPath(topic)}/subscriptions/${sub}-${topic.replace(/[^A-Za-z0-9]/g, '-')}/messages?max=${max}&waitMs=5000`)
  if (r.status !== 200) throw new Error(`pull ${r.status} ${r.text}`)
  return r.json.messages
}

t.test('http publish - single message keeps Ferry-* headers, repeated properties in order, content type', async (t) => {
  const topic = `${NS}/pub/single`
  const r = await httpRequest(gw.urls.http, 'POST', `${topicPath(topic)}/messages`, {
    body: '{"hello":"world"}',
    headers: {
      'content-type': 'application/json',
      'Ferry-Key': 'order-17',
      'ferry-priority': '8',
      'ferry-ttl-ms': '600000',
      'ferry-result-topic': 'public/default/results',
      'ferry-property': ['b=2', 'a=1', 'b=3', 'note=x%2Cy']
    }
  })
  t.equal(r.status, 201)
  t.same(r.json, { messageId: '0', topic, duplicate: false })
  const [m] = await pullAll(topic, 's1')
  t.equal(m.messageId, '0')
  t.equal(m.topic, topic)
  t.equal(m.key, 'order-17')
  t.equal(m.priority, 8)
  t.equal(m.contentType, 'application/json')
  t.same(m.properties, [['b', '2'], ['a', '1'], ['b', '3'], ['note', 'x,y']])
  t.equal(m.payload, '{"hello":"world"}')
  t.equal(Buffer.from(m.payloadBase64, 'base64').toString(), '{"hello":"world"}')
  t.equal(m.redeliveryCount, 0)
  t.type(m.publishTime, 'number')
  t.ok(m.expiresAt > Date.now(), 'ttl became expiresAt')
})

t.test('http publish - binary payloads come back as base64 only', async (t) => {
  const topic = `${NS}/pub/binary`
  const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80])
  const r = await httpRequest(gw.urls.http, 'POST', `${topicPath(topic)}/messages`, { body: bytes, headers: { 'content-type': 'application/octet-stream' } })
  t.equal(r.status, 201)
  const [m] = await pullAll(topic, 's1')
  t.equal(m.payload, undefined, 'not valid UTF-8: no payload string')
  t.same(Buffer.from(m.payloadBase64, 'base64'), bytes)
})

t.test('http publish - https with the dev CA', async (t) => {
  const topic = `${NS}/pub/tls`
  const r = await httpRequest(gw.urls.https, 'POST', `${topicPath(topic)}/messages`, { body: 'over tls', ca: gw.caPem })
  t.equal(r.status, 201)
  t.equal(r.json.topic, topic)
  const p = await httpRequest(gw.urls.https, 'GET', `${topicPath(topic)}/subscriptions/tls-sub/messages?waitMs=5000`, { ca: gw.caPem })
  t.equal(p.status, 200)
  t.equal(p.json.messages[0].payload, 'over tls')
})

t.test('http publish - producer dedup answers the first message id', async (t) => {
  const topic = `${NS}/pub/dedup`
  const headers = { 'ferry-producer-id': 'p1', 'ferry-producer-seq': '7' }
  const a = await httpRequest(gw.urls.http, 'POST', `${topicPath(topic)}/messages`, { body: 'one', headers })
  const b = await httpRequest(gw.urls.http, 'POST', `${topicPath(topic)}/messages`, { body: 'one again', headers })
  t.equal(a.status, 201)
  t.equal(b.status, 201)
  t.equal(b.json.messageId, a.json.messageId)
  t.equal(a.json.duplicate, false)
  t.equal(b.json.duplicate, true)
})

t.test('http publish - batch JSON and CBOR publish many, in order, with their options', async (t) => {
  const topic = `${NS}/pub/batch`
  const json = await httpRequest(gw.urls.http, 'POST', `${topicPath(topic)}/messages`, {
    headers: { 'content-type': 'application/vnd.ferry.batch+json' },
    body: JSON.stringify([
      { payload: 'j0', key: 'a' },
      { payload: Buffer.from('j1').toString('base64'), encoding: 'base64', priority: 9, properties: [['x', '1'], ['x', '2']] },
      { payload: 'j2', contentType: 'text/plain' }
    ])
  })
  t.equal(json.status, 201)
  t.same(json.json.messages.map((m: { messageId: string }) => m.messageId), ['0', '1', '2'])
  const cbor = await httpRequest(gw.urls.http, 'POST', `${topicPath(topic)}/messages`, {
    headers: { 'content-type': 'application/vnd.ferry.batch+cbor' },
    body: encode([{ payload: Buffer.from([1, 2, 3]) }, { payload: 'c1', key: 'b' }])
  })
  t.equal(cbor.status, 201)
  t.same(cbor.json.messages.map((m: { messageId: string }) => m.messageId), ['3', '4'])
  // Priority 9 may be delivered first: compare in message id (publish) order.
  const got = (await pullAll(topic, 's1')).sort((a, b) => Number(a.messageId) - Number(b.messageId))
  t.same(got.map((m) => m.payloadBase64), ['j0', 'j1', 'j2', '\x01\x02\x03', 'c1'].map((s) => Buffer.from(s, 'latin1').toString('base64')))
  t.equal(got[0].key, 'a')
  t.equal(got[1].priority, 9)
  t.same(got[1].properties, [['x', '1'], ['x', '2']])
  t.equal(got[2].contentType, 'text/plain')
  t.equal(got[4].key, 'b')
})

t.test('http publish - bad input is a JSON error with the right status, and nothing is stored', async (t) => {
  await httpRequest(gw.urls.http, 'PUT', '/v1/admin/namespaces/acme/small', { body: JSON.stringify({ maxMessageBytes: 16 }) })
  const batch = { 'content-type': 'application/vnd.ferry.batch+json' }
  const cases: Array<{ name: string, path: string, status: number, code: string, headers?: Record<string, string | string[]>, body?: string | Buffer }> = [
    { name: 'priority out of range', path: `${NS}/bad`, status: 400, code: 'E_BAD_REQUEST', headers: { 'ferry-priority': '11' } },
    { name: 'priority not a number', path: `${NS}/bad`, status: 400, code: 'E_BAD_REQUEST', headers: { 'ferry-priority': 'high' } },
    { name: 'delay not a number', path: `${NS}/bad`, status: 400, code: 'E_BAD_REQUEST', headers: { 'ferry-delay-ms': '-5' } },
    { name: 'deliver-at not a time', path: `${NS}/bad`, status: 400, code: 'E_BAD_REQUEST', headers: { 'ferry-deliver-at': 'soon' } },
    { name: 'producer id without sequence', path: `${NS}/bad`, status: 400, code: 'E_BAD_REQUEST', headers: { 'ferry-producer-id': 'p' } },
    { name: 'unknown Ferry header', path: `${NS}/bad`, status: 400, code: 'E_BAD_REQUEST', headers: { 'ferry-priorty': '1' } },
    { name: 'property without =', path: `${NS}/bad`, status: 400, code: 'E_BAD_REQUEST', headers: { 'ferry-property': 'oops' } },
    { name: 'wildcard topic', path: `${NS}/a/+`, status: 400, code: 'E_TOPIC_INVALID' },
    { name: 'hash topic', path: `${NS}/a/#`, status: 400, code: 'E_TOPIC_INVALID' },
    { name: 'NUL in topic', path: `${NS}/a\u0000b`, status: 400, code: 'E_TOPIC_INVALID' },
    { name: 'bad tenant name', path: 'bad tenant/default/x', status: 400, code: 'E_BAD_REQUEST' },
    { name: 'unknown namespace', path: 'nobody/nothing/x', status: 404, code: 'E_NOT_FOUND' },
    { name: 'over namespace maxMessageBytes', path: 'acme/small/x', status: 413, code: 'E_TOO_LARGE', body: 'x'.repeat(17) },
    { name: 'batch item over maxMessageBytes', path: 'acme/small/x', status: 413, code: 'E_TOO_LARGE', headers: batch, body: JSON.stringify([{ payload: 'x'.repeat(17) }]) },
    { name: 'batch bad JSON', path: `${NS}/bad`, status: 400, code: 'E_BAD_REQUEST', headers: batch, body: '[{"payload": ' },
    { name: 'batch not a list', path: `${NS}/bad`, status: 400, code: 'E_BAD_REQUEST', headers: batch, body: '{"payload":"x"}' },
    { name: 'batch bad base64', path: `${NS}/bad`, status: 400, code: 'E_BAD_REQUEST', headers: batch, body: '[{"payload":"@@@@","encoding":"base64"}]' },
    { name: 'batch bad CBOR', path: `${NS}/bad`, status: 400, code: 'E_BAD_REQUEST', headers: { 'content-type': 'application/vnd.ferry.batch+cbor' }, body: Buffer.from([0xff, 0x13]) },
    { name: 'batch too long', path: `${NS}/bad`, status: 413, code: 'E_TOO_LARGE', headers: batch, body: JSON.stringify(Array.from({ length: 1001 }, () => ({ payload: 'x' }))) },
    { name: 'empty batch', path: `${NS}/bad`, status: 400, code: 'E_BAD_REQUEST', headers: batch, body: '[]' }
  ]
  for (const c of cases) {
    const r = await httpRequest(gw.urls.http, 'POST', `${topicPath(c.path)}/messages`, { headers: c.headers, body: c.body ?? 'payload' })
    t.equal(r.status, c.status, `${c.name}: status`)
    t.equal(r.json?.error?.code, c.code, `${c.name}: code`)
    t.type(r.json?.error?.message, 'string', `${c.name}: message`)
  }
  const info = gw.gateway.ledger.topicInfo(`${NS}/bad`)
  t.equal(info?.nextEntryId ?? 0, 0, 'nothing was stored for refused publishes')
})

t.test('http publish - a body over maxBodyBytes is refused with 413 as soon as it is exceeded', async (t) => {
  // Declared too large: refused before a byte of body is read.
  const declared = await new Promise<{ status: number, body: string }>((resolve, reject) => {
    const req = request(`${gw.urls.http}${topicPath(`${NS}/big`)}/messages`, {
      method: 'POST', agent: false, headers: { 'content-length': String(64 * 1024 * 1024), 'content-type': 'application/vnd.ferry.batch+json' }
    }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => { body += c.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
    })
    req.on('error', reject)
    // Headers only: a body byte the server never reads would make its close a reset.
    req.flushHeaders()
  })
  t.equal(declared.status, 413)
  t.equal(JSON.parse(declared.body).error.code, 'E_BODY_TOO_LARGE')

  // Chunked upload with no length and no end: the client sends just past the bound and then waits. A server that
  // waited for the end of the body would never answer. The client writes nothing more once past the bound, so the
  // server has read every byte when it closes (a FIN, not a reset that could drop the answer or fail a write).
  const streamed = await new Promise<{ status: number, sentBytes: number }>((resolve, reject) => {
    const url = new URL(gw.urls.http)
    const socket = connect({ host: url.hostname, port: Number(url.port) })
    const limit = 8 * 1024 * 1024 // the default maxBodyBytes
    const chunk = Buffer.alloc(256 * 1024, 0x20)
    let sentBytes = 0
    let answer = ''
    socket.on('data', (b: Buffer) => { answer += b.toString('latin1') })
    socket.on('error', reject)
    socket.on('close', () => { resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1] ?? 0), sentBytes }) })
    const pump = (): void => {
      if (sentBytes > limit) return // past the bound: wait for the answer
      sentBytes += chunk.length
      // One write per chunk with its framing: the server reads the chunk's CRLF with its last byte.
      socket.write(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]), pump)
    }
    socket.write(`POST ${topicPath(`${NS}/big`)}/messages HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/vnd.ferry.batch+json\r\ntransfer-encoding: chunked\r\n\r\n`, pump)
  })
  t.equal(streamed.status, 413)
  t.ok(streamed.sentBytes < 8 * 1024 * 1024 + 512 * 1024, 'the server answered without the end of the upload')
  const ok = await httpRequest(gw.urls.http, 'GET', '/healthz')
  t.equal(ok.status, 200, 'gateway keeps serving')
})
