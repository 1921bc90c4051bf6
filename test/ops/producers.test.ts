/**
 * Producers per topic: the admin API's topic stats (and the console's topic
 * view, in headless Chromium) list who publishes to a topic — MQTT client
 * ids, HTTP producer ids or addresses — with messages and a rate, at most
 * PRODUCERS_PER_TOPIC_MAX per topic (the rest counted as dropped).
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { OpsLimits } from '../../gateway/ops/index.js'
import { ProducerTracker } from '../../gateway/ops/producers.js'
import { connectMqtt, startTestGateway } from '../helpers/gateway.js'
import { httpRequest, topicPath } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'
import { ferry, ROOT } from './ferry-cli.js'

interface Producer { name: string, protocol: string, messages: number, ratePerSec: number, lastSeenAt: number }

t.test('ops producers - MQTT client ids and HTTP producers of a topic, with counts and rates; bounded per topic; shown in the CLI and console', async (t) => {
  await promisify(execFile)(process.execPath, [join(ROOT, 'console', 'build.mjs')], { cwd: ROOT })
  const gw = await startTestGateway(t)
  const u = gw.urls.http
  const s1 = await connectMqtt(t, gw, gw.urls.mqtt, { clientId: 'sensor-1', protocolVersion: 5 })
  const s2 = await connectMqtt(t, gw, gw.urls.mqtt, { clientId: 'sensor-2' })
  for (let i = 0; i < 5; i++) await s1.publishAsync('p/t', `s1-${i}`, { qos: 1 })
  for (let i = 0; i < 2; i++) await s2.publishAsync('p/t', `s2-${i}`, { qos: 1 })
  for (let i = 0; i < 3; i++) t.equal((await httpRequest(u, 'POST', `${topicPath('public/default/p/t')}/messages`, { body: `h${i}` })).status, 201)
  for (let i = 1; i <= 2; i++) {
    t.equal((await httpRequest(u, 'POST', `${topicPath('public/default/p/t')}/messages`, { body: `b${i}`, headers: { 'ferry-producer-id': 'batch-job', 'ferry-producer-seq': String(i) } })).status, 201)
  }

  const topic = await waitFor(async () => {
    const r = await httpRequest(u, 'GET', `/v1/admin/topics/public/default/${encodeURIComponent('p/t')}`)
    return r.json.storedMessages === 12 ? r.json : undefined
  }, { timeoutMs: 30_000, what: 'all 12 stored' })
  const list = topic.producerList as Producer[]
  const by = (name: string): Producer | undefined => list.find((p) => p.name === name)
  t.same([by('sensor-1')?.protocol, by('sensor-1')?.messages], ['mqtt', 5], 'MQTT client id with its count')
  t.same([by('sensor-2')?.protocol, by('sensor-2')?.messages], ['mqtt', 2])
  t.same([by('batch-job')?.protocol, by('batch-job')?.messages], ['http', 2], 'HTTP producer id')
  const addr = list.find((p) => p.protocol === 'http' && p.name !== 'batch-job')
  t.equal(addr?.messages, 3, 'HTTP without a producer id: its remote address')
  t.match(addr?.name, /127\.0\.0\.1/)
  t.equal(list.length, 4)
  t.ok((by('sensor-1')?.ratePerSec ?? 0) > 0, 'a rate')
  t.equal(topic.producersDropped, 0)
  const listed = await httpRequest(u, 'GET', '/v1/admin/namespaces/public/default/topics')
  t.equal(listed.json.topics.find((x: { topic: string }) => x.topic === 'p/t').producers, 4, 'producer count in the topic list')

  // Bounded: more producers than the cap on one topic.
  const cap = OpsLimits.PRODUCERS_PER_TOPIC_MAX
  const many = Array.from({ length: cap + 8 }, (_, i) => ({ payload: `x${i}`, producerId: `p-${i}`, producerSeq: 1 }))
  const batch = await httpRequest(u, 'POST', `${topicPath('public/default/p/many')}/messages`, { body: JSON.stringify(many), headers: { 'content-type': 'application/vnd.ferry.batch+json' } })
  t.equal(batch.status, 201, batch.text)
  const manyTopic = (await httpRequest(u, 'GET', `/v1/admin/topics/public/default/${encodeURIComponent('p/many')}`)).json
  t.equal(manyTopic.producerList.length, cap, `at most ${cap} producers kept`)
  t.equal(manyTopic.producersDropped, 8, 'the rest counted')

  // CLI.
  const cli = await ferry(['admin', '--url', u, 'topic', 'public/default', 'p/t'])
  t.equal(cli.code, 0, cli.err)
  t.match(cli.out, /^NAME\s+PROTOCOL\s+MESSAGES\s+RATEPERSEC/m)
  t.match(cli.out, /^sensor-1\s+mqtt\s+5\s/m)

  // Console topic view.
  const browser: Browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] })
  t.teardown(async () => { await browser.close() })
  const page = await browser.newPage()
  const errors: string[] = []
  page.on('pageerror', (e) => { errors.push(e.message) })
  await page.goto(`${u}/console#/topic/public/default/${encodeURIComponent('p/t')}`)
  await page.getByTestId('topic-producers').filter({ hasText: 'sensor-1' }).waitFor({ timeout: 30_000 })
  await page.getByTestId('topic-producers').filter({ hasText: 'batch-job' }).waitFor({ timeout: 10_000 })
  t.same(errors, [], 'no page errors')
})

t.test('ops producers - tracker: rate over the last full window, idle producers drop out, the topic bound', async (t) => {
  const tr = new ProducerTracker()
  const t0 = 1_700_000_000_000
  const p = { name: 'c1', protocol: 'mqtt' as const }
  for (let i = 0; i < 50; i++) tr.note('a/b/t', p, t0 + i * 200) // 5 per second for 10 s
  tr.note('a/b/t', p, t0 + OpsLimits.PRODUCER_RATE_WINDOW_MS) // closes the first window
  const seen = tr.of('a/b/t', t0 + OpsLimits.PRODUCER_RATE_WINDOW_MS)
  t.equal(seen.producers[0]?.messages, 51)
  t.equal(seen.producers[0]?.ratePerSec, 5, 'messages per second of the last full window')
  t.equal(tr.of('a/b/t', t0 + OpsLimits.PRODUCER_RATE_WINDOW_MS * 3).producers[0]?.ratePerSec, 0, 'idle: rate 0')
  t.same(tr.of('a/b/t', t0 + OpsLimits.PRODUCER_ACTIVE_MS + OpsLimits.PRODUCER_RATE_WINDOW_MS + 1).producers, [], 'not publishing any more: not listed')
  t.equal(tr.count('a/b/t', t0 + OpsLimits.PRODUCER_RATE_WINDOW_MS), 1)
  // The same name over MQTT and HTTP is two producers.
  tr.note('a/b/t', { name: 'c1', protocol: 'http' }, t0 + 1)
  t.equal(tr.count('a/b/t', t0 + 2), 2)
  // Topic bound: the first topic tracked makes room.
  for (let i = 0; i < OpsLimits.PRODUCER_TOPICS_MAX; i++) tr.note(`a/b/x${i}`, p, t0)
  t.same(tr.of('a/b/t', t0 + 2).producers, [], 'the oldest topic was dropped for room')
  t.equal(tr.count(`a/b/x${OpsLimits.PRODUCER_TOPICS_MAX - 1}`, t0), 1)
})

t.test('ops producers - tracker: the first producer of a topic and the ones after it are counted alike, the one seen longest ago makes room', async (t) => {
  // A topic's first producer is held inline and the rest in maps (a million topics seen once each): the split must not show.
  const tr = new ProducerTracker()
  const t0 = 1_700_000_000_000
  const cap = OpsLimits.PRODUCERS_PER_TOPIC_MAX
  for (let i = 0; i < cap; i++) tr.note('a/b/t', { name: `p-${i}`, protocol: i % 2 === 0 ? 'mqtt' : 'http' }, t0 + i)
  tr.note('a/b/t', { name: 'p-0', protocol: 'mqtt' }, t0 + cap) // the first one again: no new producer
  let seen = tr.of('a/b/t', t0 + cap)
  t.equal(seen.producers.length, cap)
  t.equal(seen.dropped, 0)
  t.equal(seen.producers.find((p) => p.name === 'p-0')?.messages, 2, 'the first producer counted on its own record')
  // A new producer at the cap drops the one seen longest ago (p-1; p-0 was just seen).
  tr.note('a/b/t', { name: 'late', protocol: 'mqtt' }, t0 + cap + 1)
  seen = tr.of('a/b/t', t0 + cap + 1)
  t.equal(seen.producers.length, cap)
  t.equal(seen.dropped, 1)
  t.notOk(seen.producers.some((p) => p.name === 'p-1'), 'the producer seen longest ago made room')
  t.ok(seen.producers.some((p) => p.name === 'late'))
  // The inline one itself makes room when it is the oldest; the next newcomer takes its place.
  const tr2 = new ProducerTracker()
  for (let i = 0; i < cap; i++) tr2.note('x', { name: `q-${i}`, protocol: 'mqtt' }, t0 + i)
  tr2.note('x', { name: 'q-new', protocol: 'mqtt' }, t0 + cap)
  tr2.note('x', { name: 'q-new2', protocol: 'http' }, t0 + cap + 1)
  const names = tr2.of('x', t0 + cap + 1).producers.map((p) => p.name)
  t.equal(names.length, cap)
  t.notOk(names.includes('q-0'))
  t.notOk(names.includes('q-1'))
  t.ok(names.includes('q-new') && names.includes('q-new2'))
  t.equal(tr2.count('x', t0 + cap + 1), cap)
})

t.test('ops producers - tracker ring: bounded whatever the topic count, the oldest topic makes room, lookups right after wrap-around and deletes', async (t) => {
  const t0 = 1_700_000_000_000
  const p = { name: 'c1', protocol: 'mqtt' as const }
  // The default bound: three times as many topics as records.
  const big = new ProducerTracker()
  const max = OpsLimits.PRODUCER_TOPICS_MAX
  for (let i = 0; i < max * 3; i++) big.note(`m/${i}`, p, t0)
  t.equal(big.size, max, 'at most PRODUCER_TOPICS_MAX topics tracked')
  t.equal(big.count(`m/${max * 2 - 1}`, t0), 0, 'a topic older than the last PRODUCER_TOPICS_MAX is gone')
  t.equal(big.count(`m/${max * 2}`, t0), 1, 'the oldest still tracked')
  t.equal(big.count(`m/${max * 3 - 1}`, t0), 1)

  // A small ring (8 records, 16 index slots: long probe chains) against a model: a Map in entry order.
  const ringMax = 8
  const tr = new ProducerTracker(ringMax)
  const model = new Map<string, number>()
  let seed = 7
  const rand = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n }
  for (let step = 0; step < 5000; step++) {
    const topic = `r/${rand(40)}`
    tr.note(topic, p, t0)
    if (model.has(topic)) model.set(topic, (model.get(topic) as number) + 1)
    else {
      if (model.size >= ringMax) model.delete(model.keys().next().value as string)
      model.set(topic, 1)
    }
    if (step % 50 !== 0) continue
    for (let k = 0; k < 40; k++) {
      const name = `r/${k}`
      const seen = tr.of(name, t0).producers
      if (seen.length !== (model.has(name) ? 1 : 0) || (seen.length === 1 && seen[0]?.messages !== model.get(name))) {
        t.fail(`step ${step}: ${name} tracked as ${JSON.stringify(seen)}, model ${String(model.get(name))}`)
        return
      }
    }
  }
  t.equal(tr.size, ringMax)
  t.pass('every lookup agreed with the model through wrap-arounds and evictions')

  // A reused record starts clean: an evicted topic with several producers and drops re-enters with none.
  const small = new ProducerTracker(2)
  const cap = OpsLimits.PRODUCERS_PER_TOPIC_MAX
  for (let i = 0; i < cap + 3; i++) small.note('a', { name: `p-${i}`, protocol: i % 2 === 0 ? 'mqtt' : 'http' }, t0 + i)
  t.equal(small.of('a', t0 + cap + 3).dropped, 3)
  small.note('b', p, t0)
  small.note('c', p, t0) // takes a's record
  small.note('d', { name: 'only', protocol: 'http' }, t0) // takes b's
  small.note('a', p, t0 + 1) // back, in c's old record
  const a = small.of('a', t0 + 1)
  t.same([a.producers.map((x) => [x.name, x.messages]), a.dropped], [[['c1', 1]], 0], 'no producers or drops carried over')
  t.same(small.of('d', t0).producers.map((x) => x.name), ['only'])
  t.same(small.of('b', t0).producers, [], 'b made room')
})
