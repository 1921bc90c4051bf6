import t from 'tap'
import { startTestGateway } from '../helpers/gateway.js'
import { httpRequest, topicPath } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

const gw = await startTestGateway(t)
// Redeliver nacked messages at once so the flow needs no waiting.
await httpRequest(gw.urls.http, 'PUT', '/v1/admin/namespaces/acme/pull', { body: JSON.stringify({ redeliveryBackoffMs: [0] }) })

async function publish (topic: string, body: string, headers: Record<string, string> = {}): Promise<string> {
  const r = await httpRequest(gw.urls.http, 'POST', `${topicPath(topic)}/messages`, { body, headers })
  if (r.status !== 201) throw new Error(`publish ${r.status} ${r.text}`)
  return r.json.messageId
}

function pullPath (topic: string, sub: string, query: string): string {
  return `${topicPath(topic)}/subscriptions/${sub}/messages?${query}`
}

async function pullStats (): Promise<{ pullConsumers: number }> {
  return (await httpRequest(gw.urls.http, 'GET', '/v1/admin/stats')).json.http
}

t.test('http pull - a waiting long poll returns the message published after it started', async (t) => {
  const topic = 'acme/pull/long'
  const before = (await pullStats()).pullConsumers
  const poll = httpRequest(gw.urls.http, 'GET', pullPath(topic, 'lp', 'waitMs=20000&max=10'))
  // The consumer exists once the request is waiting; publish only then.
  await waitFor(async () => (await pullStats()).pullConsumers > before, { what: 'pull consumer attached' })
  const id = await publish(topic, 'wake up')
  const r = await poll
  t.equal(r.status, 200)
  t.equal(r.json.messages.length, 1)
  t.equal(r.json.messages[0].messageId, id)
  t.equal(r.json.messages[0].payload, 'wake up')
})

t.test('http pull - an empty poll returns an empty list at once with waitMs=0', async (t) => {
  const r = await httpRequest(gw.urls.http, 'GET', pullPath('acme/pull/empty', 'e', 'waitMs=0'))
  t.equal(r.status, 200)
  t.same(r.json, { messages: [] })
})

t.test('http pull - max bounds one response; the rest comes with the next request', async (t) => {
  const topic = 'acme/pull/max'
  for (let i = 0; i < 5; i++) await publish(topic, `m${i}`)
  const seen: string[] = []
  await waitFor(async () => {
    const r = await httpRequest(gw.urls.http, 'GET', pullPath(topic, 'mx', 'max=2&waitMs=2000'))
    t.ok(r.json.messages.length <= 2, 'never more than max')
    seen.push(...r.json.messages.map((m: { payload: string }) => m.payload))
    return seen.length >= 5
  }, { what: 'all five messages' })
  t.same(seen, ['m0', 'm1', 'm2', 'm3', 'm4'])
})

t.test('http pull - ack removes a message; nack brings it back with a higher redeliveryCount', async (t) => {
  const topic = 'acme/pull/acks'
  const a = await publish(topic, 'to ack')
  const b = await publish(topic, 'to nack')
  const first = await httpRequest(gw.urls.http, 'GET', pullPath(topic, 'work', 'max=10&waitMs=5000&consumer=w1'))
  t.same(first.json.messages.map((m: { messageId: string }) => m.messageId).sort(), [a, b].sort())
  const ack = await httpRequest(gw.urls.http, 'POST', `${topicPath(topic)}/subscriptions/work/ack`, {
    headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messageIds: [a] })
  })
  t.equal(ack.status, 200)
  t.same(ack.json, { acked: 1 })
  const nack = await httpRequest(gw.urls.http, 'POST', `${topicPath(topic)}/subscriptions/work/nack`, {
    body: JSON.stringify({ messageIds: [b], reason: 'try later' })
  })
  t.equal(nack.status, 200)
  t.same(nack.json, { nacked: 1 })
  const again = await waitFor(async () => {
    const r = await httpRequest(gw.urls.http, 'GET', pullPath(topic, 'work', 'max=10&waitMs=2000&consumer=w1'))
    return r.json.messages.length > 0 ? r.json.messages : undefined
  }, { what: 'nacked message redelivered' })
  t.equal(again.length, 1, 'only the nacked one comes back')
  t.equal(again[0].messageId, b)
  t.ok(again[0].redeliveryCount >= 1, 'redelivery is counted')
  const done = await httpRequest(gw.urls.http, 'POST', `${topicPath(topic)}/subscriptions/work/ack`, { body: JSON.stringify({ messageIds: [b] }) })
  t.equal(done.status, 200)
})

t.test('http pull - a client that goes away loses no message', async (t) => {
  const topic = 'acme/pull/abort'
  const ctl = new AbortController()
  const before = (await pullStats()).pullConsumers
  const poll = httpRequest(gw.urls.http, 'GET', pullPath(topic, 'ab', 'waitMs=20000&consumer=c1'), { signal: ctl.signal })
  await waitFor(async () => (await pullStats()).pullConsumers > before, { what: 'pull consumer attached' })
  ctl.abort()
  await t.rejects(poll)
  const id = await publish(topic, 'still here')
  const r = await waitFor(async () => {
    const p = await httpRequest(gw.urls.http, 'GET', pullPath(topic, 'ab', 'waitMs=2000&consumer=c1'))
    return p.json.messages.length > 0 ? p.json.messages : undefined
  }, { what: 'message after abort' })
  t.equal(r[0].messageId, id)
  t.equal(r[0].payload, 'still here')
})

t.test('http pull - delete subscription answers 200 and ends its waiting polls', async (t) => {
  const topic = 'acme/pull/del'
  await publish(topic, 'x')
  const p = await httpRequest(gw.urls.http, 'GET', pullPath(topic, 'gone', 'waitMs=5000'))
  t.equal(p.json.messages.length, 1)
  const before = (await pullStats()).pullConsumers
  const waiting = httpRequest(gw.urls.http, 'GET', pullPath(topic, 'gone', 'waitMs=20000&consumer=other'))
  await waitFor(async () => (await pullStats()).pullConsumers > before, { what: 'second pull consumer attached' })
  const del = await httpRequest(gw.urls.http, 'DELETE', `${topicPath(topic)}/subscriptions/gone`)
  t.equal(del.status, 200)
  t.same(del.json, { deleted: true, topic, subscription: 'gone' })
  const w = await waiting
  t.equal(w.status, 410, 'the waiting poll learns the subscription is gone')
  t.equal(w.json.error.code, 'E_SUBSCRIPTION_DELETED')
})

t.test('http pull - bad parameters and bodies are 400 / 415 with a JSON error', async (t) => {
  const topic = 'acme/pull/bad'
  const gets = ['max=0', 'max=100000', 'max=x', 'waitMs=-1', 'waitMs=999999999', 'mode=fanout', 'position=middle', 'consumer=a%20b']
  for (const q of gets) {
    const r = await httpRequest(gw.urls.http, 'GET', pullPath(topic, 's', q))
    t.equal(r.status, 400, q)
    t.equal(r.json.error.code, 'E_BAD_REQUEST', q)
  }
  const badSub = await httpRequest(gw.urls.http, 'GET', pullPath(topic, 'a%20b', 'waitMs=0'))
  t.equal(badSub.status, 400, 'bad subscription name')
  const unknownNs = await httpRequest(gw.urls.http, 'GET', pullPath('nobody/here/x', 's', 'waitMs=0'))
  t.equal(unknownNs.status, 404)
  const acks: Array<[string | undefined, string, number]> = [
    [undefined, '{"messageIds": [', 400],
    [undefined, '{"messageIds": []}', 400],
    [undefined, '{"messageIds": ["x1"]}', 400],
    [undefined, '{"messageIds": ["1"], "extra": 1}', 400],
    [undefined, '[1, 2]', 400],
    [undefined, '', 400],
    ['application/xml', '{"messageIds": ["1"]}', 415]
  ]
  for (const [ct, body, status] of acks) {
    const headers: Record<string, string> = ct !== undefined ? { 'content-type': ct } : {}
    const r = await httpRequest(gw.urls.http, 'POST', `${topicPath(topic)}/subscriptions/s/ack`, { headers, body })
    t.equal(r.status, status, `ack body ${JSON.stringify(body)}`)
    t.type(r.json?.error?.code, 'string')
  }
  const reasonOnAck = await httpRequest(gw.urls.http, 'POST', `${topicPath(topic)}/subscriptions/s/ack`, { body: '{"messageIds":["1"],"reason":"no"}' })
  t.equal(reasonOnAck.status, 400)
})

t.test('http pull - exclusive mode refuses a second consumer with 409; shared mode shares', async (t) => {
  const topic = 'acme/pull/excl'
  const a = await httpRequest(gw.urls.http, 'GET', pullPath(topic, 'only', 'mode=exclusive&consumer=a&waitMs=0'))
  t.equal(a.status, 200)
  const b = await httpRequest(gw.urls.http, 'GET', pullPath(topic, 'only', 'mode=exclusive&consumer=b&waitMs=0'))
  t.equal(b.status, 409)
  t.equal(b.json.error.code, 'E_SUBSCRIPTION_BUSY')
  const again = await httpRequest(gw.urls.http, 'GET', pullPath(topic, 'only', 'mode=exclusive&consumer=a&waitMs=0'))
  t.equal(again.status, 200, 'the holder keeps polling')
  const topic2 = 'acme/pull/shared'
  for (let i = 0; i < 4; i++) await publish(topic2, `s${i}`)
  const seen = new Set<string>()
  await waitFor(async () => {
    for (const c of ['x', 'y']) {
      const r = await httpRequest(gw.urls.http, 'GET', pullPath(topic2, 'pool', `mode=shared&consumer=${c}&waitMs=1000&max=1`))
      for (const m of r.json.messages) {
        seen.add(m.payload)
        await httpRequest(gw.urls.http, 'POST', `${topicPath(topic2)}/subscriptions/pool/ack`, { body: JSON.stringify({ messageIds: [m.messageId] }) })
      }
    }
    return seen.size === 4
  }, { what: 'two shared consumers drain the topic' })
  t.same([...seen].sort(), ['s0', 's1', 's2', 's3'])
})

t.test('http pull - ack for an unknown subscription is 404', async (t) => {
  const r = await httpRequest(gw.urls.http, 'POST', `${topicPath('acme/pull/nosub')}/subscriptions/never/ack`, { body: '{"messageIds":["0"]}' })
  t.equal(r.status, 404)
  t.equal(r.json.error.code, 'E_NOT_FOUND')
})

t.test('http pull - one response carries at most pullResponseBytesMax of payload; the rest comes next', async (t) => {
  const topic = 'acme/pull/bytes'
  const big = 'b'.repeat(1_000_000)
  for (let i = 0; i < 5; i++) await publish(topic, `${i}${big}`)
  const sizes: number[] = []
  const firsts: string[] = []
  await waitFor(async () => {
    const r = await httpRequest(gw.urls.http, 'GET', pullPath(topic, 'bytes', 'max=10&waitMs=2000'))
    if (r.json.messages.length > 0) sizes.push(r.json.messages.length)
    firsts.push(...r.json.messages.map((m: { payload: string }) => m.payload[0]))
    return firsts.length >= 5
  }, { what: 'five large messages' })
  t.ok(Math.max(...sizes) <= 4, `no response over 4 MiB of payload (sizes ${sizes.join(',')})`)
  t.same(firsts, ['0', '1', '2', '3', '4'], 'in order, none lost')
})

t.test('http pull - plain and TLS listeners share pull consumers', async (t) => {
  const topic = 'acme/pull/both'
  const a = await httpRequest(gw.urls.http, 'GET', pullPath(topic, 'both', 'mode=exclusive&consumer=same&waitMs=0'))
  t.equal(a.status, 200)
  const b = await httpRequest(gw.urls.https, 'GET', pullPath(topic, 'both', 'mode=exclusive&consumer=same&waitMs=0'), { ca: gw.caPem })
  t.equal(b.status, 200, 'the same consumer over https, not a second one')
  const id = await publish(topic, 'either way')
  const r = await waitFor(async () => {
    const p = await httpRequest(gw.urls.https, 'GET', pullPath(topic, 'both', 'mode=exclusive&consumer=same&waitMs=2000'), { ca: gw.caPem })
    return p.json.messages.length > 0 ? p.json.messages : undefined
  }, { what: 'message over https' })
  t.equal(r[0].messageId, id)
})
