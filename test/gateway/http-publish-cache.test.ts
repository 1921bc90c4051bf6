/**
 * The publish hot path keeps parsed publish paths with their namespace policy
 * (gateway/http/publish-targets.ts) and writes the 201 body itself. These
 * tests pin that a cached path behaves exactly like a fresh one: a live policy
 * change or a deleted namespace applies to the very next request, errors are
 * the same every time, and the 201 body is the JSON it always was.
 */
import t from 'tap'
import { startTestGateway } from '../helpers/gateway.js'
import { httpRequest, topicPath } from '../helpers/http.js'

const gw = await startTestGateway(t)
const base = gw.urls.http

async function publish (topic: string, body: string | Buffer, headers: Record<string, string> = {}): ReturnType<typeof httpRequest> {
  return await httpRequest(base, 'POST', `${topicPath(topic)}/messages`, { body, headers: { 'content-type': 'application/octet-stream', ...headers } })
}

t.test('http publish cache - the 201 body is byte for byte the JSON of {messageId, topic, duplicate}', async (t) => {
  // A topic whose name needs JSON escaping (quote, backslash, non-ASCII) and a path that decodes %2F into the topic.
  const topics = ['public/default/cache/plain', 'public/default/cache/q"uo\\te/é€😀']
  for (const topic of topics) {
    for (let i = 0; i < 3; i++) {
      const r = await publish(topic, `m${i}`)
      t.equal(r.status, 201)
      t.equal(r.headers['content-type'], 'application/json')
      t.equal(r.text, JSON.stringify({ messageId: String(i), topic, duplicate: false }), `${topic} #${i}`)
    }
  }
  const encoded = '/v1/topics/public/default/cache/a%2Fb/messages'
  for (let i = 0; i < 2; i++) {
    const r = await httpRequest(base, 'POST', encoded, { body: 'x' })
    t.equal(r.text, JSON.stringify({ messageId: String(i), topic: 'public/default/cache/a/b', duplicate: false }))
  }
  // A producer repeat answers the first id with duplicate: true.
  const dedup = { 'ferry-producer-id': 'p1', 'ferry-producer-seq': '7' }
  const first = await publish('public/default/cache/dedup', 'once', dedup)
  const again = await publish('public/default/cache/dedup', 'once', dedup)
  t.equal(first.text, JSON.stringify({ messageId: '0', topic: 'public/default/cache/dedup', duplicate: false }))
  t.equal(again.text, JSON.stringify({ messageId: '0', topic: 'public/default/cache/dedup', duplicate: true }))
})

t.test('http publish cache - a live maxMessageBytes change applies to the next publish on a cached path', async (t) => {
  t.equal((await httpRequest(base, 'PUT', '/v1/admin/namespaces/cache/live', { body: '{"maxMessageBytes":1000}', headers: { 'content-type': 'application/json' } })).status, 201)
  const topic = 'cache/live/t'
  const big = Buffer.alloc(600, 0x61)
  t.equal((await publish(topic, big)).status, 201, 'fits under 1000 bytes')
  t.equal((await publish(topic, big)).status, 201, 'again: the path is cached now')
  t.equal((await httpRequest(base, 'PUT', '/v1/admin/namespaces/cache/live', { body: '{"maxMessageBytes":500}', headers: { 'content-type': 'application/json' } })).status, 200)
  const refused = await publish(topic, big)
  t.equal(refused.status, 413, 'the smaller limit refuses the next publish')
  t.same(refused.json, { error: { code: 'E_TOO_LARGE', message: "message larger than the namespace's maxMessageBytes (500)" } })
  t.equal((await httpRequest(base, 'PUT', '/v1/admin/namespaces/cache/live', { body: '{"maxMessageBytes":2000}', headers: { 'content-type': 'application/json' } })).status, 200)
  t.equal((await publish(topic, big)).status, 201, 'a larger limit lets it in again')
})

t.test('http publish cache - a deleted namespace answers 404 on a cached path, the same body as a never-seen one', async (t) => {
  t.equal((await httpRequest(base, 'PUT', '/v1/admin/namespaces/cache/gone', { body: '{"durability":"memory"}', headers: { 'content-type': 'application/json' } })).status, 201)
  t.equal((await publish('cache/gone/t', 'a')).status, 201)
  t.equal((await publish('cache/gone/t', 'b')).status, 201)
  const del = await httpRequest(base, 'DELETE', '/v1/admin/namespaces/cache/gone?force=true')
  t.equal(del.status, 200, del.text)
  for (let i = 0; i < 2; i++) {
    const r = await publish('cache/gone/t', 'c')
    t.equal(r.status, 404)
    t.same(r.json, { error: { code: 'E_NOT_FOUND', message: "unknown tenant/namespace 'cache/gone'" } })
  }
  const never = await publish('cache/never/t', 'c')
  t.same(never.json, { error: { code: 'E_NOT_FOUND', message: "unknown tenant/namespace 'cache/never'" } })
  // Created again, the path publishes again.
  t.equal((await httpRequest(base, 'PUT', '/v1/admin/namespaces/cache/gone', { body: '{"durability":"memory"}', headers: { 'content-type': 'application/json' } })).status, 201)
  t.equal((await publish('cache/gone/t', 'd')).status, 201)
})

t.test('http publish cache - headers are checked on every request of a cached path, errors unchanged', async (t) => {
  const topic = 'public/default/cache/headers'
  t.equal((await publish(topic, 'ok')).status, 201)
  for (let i = 0; i < 2; i++) {
    const bad = await publish(topic, 'x', { 'ferry-priority': '11' })
    t.equal(bad.status, 400)
    t.same(bad.json, { error: { code: 'E_BAD_REQUEST', message: bad.json.error.message } })
    t.match(bad.json.error.message, /priority/)
    const typo = await publish(topic, 'x', { 'ferry-priorty': '1' })
    t.same(typo.json, { error: { code: 'E_BAD_REQUEST', message: 'unknown header ferry-priorty' } })
  }
  // Bad names are refused every time (never cached).
  for (let i = 0; i < 2; i++) {
    const wild = await httpRequest(base, 'POST', '/v1/topics/public/default/a/%23/messages', { body: 'x' })
    t.equal(wild.status, 400)
    t.equal(wild.json.error.code, 'E_TOPIC_INVALID')
  }
  t.equal((await publish(topic, 'ok again')).status, 201)
})
