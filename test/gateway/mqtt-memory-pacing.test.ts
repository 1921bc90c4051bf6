/**
 * Memory-durability publish pacing (issue 11; gateway/dispatch/publish-pacer.ts):
 * a memory topic acknowledges at once, so without pacing publishers run ahead
 * of a slow subscriber without bound. Past MEMORY_PUBLISH_AHEAD_ENTRIES_MAX
 * unacknowledged entries of the slowest attached subscription, the gateway
 * stops reading the publisher; it reads on once the subscriber has caught up,
 * and nothing acknowledged is lost or reordered.
 */
import t from 'tap'
import mqttPacket from 'mqtt-packet'
import { PublishPacer, type PacedStream } from '../../gateway/dispatch/publish-pacer.js'
import { MEMORY_PUBLISH_AHEAD_ENTRIES_MAX, MEMORY_PUBLISH_RESUME_ENTRIES } from '../../gateway/dispatch/constants.js'
import { startTestGateway, rawConnect } from '../helpers/gateway.js'
import { waitFor } from '../helpers/wait.js'

t.test('mqtt memory pacing - the pacer: bound, hysteresis, attached subscriptions only, close', async (t) => {
  const slow = { stream: { backlogEntries: 0 }, sub: { consumers: { size: 1 } } }
  const offline = { stream: { backlogEntries: 1_000_000 }, sub: { consumers: { size: 0 } } }
  const list: PacedStream[] = [slow, offline]
  const p = new PublishPacer((topic) => topic === 'ns/a' ? list : undefined, { aheadEntriesMax: 100, resumeEntries: 50 })
  t.equal(p.paced('ns/a'), undefined, 'an offline subscription\'s backlog does not pace')
  t.equal(p.paced('ns/other'), undefined, 'a topic without subscriptions does not pace')
  slow.stream.backlogEntries = 100
  t.equal(p.paced('ns/a'), undefined, 'at the bound: publish on')
  slow.stream.backlogEntries = 101
  const w = p.paced('ns/a')
  t.ok(w !== undefined, 'past the bound: wait')
  t.equal(p.paced('ns/a'), w, 'every publisher of the topic shares one wait')
  let released = false
  void w?.then(() => { released = true })
  slow.stream.backlogEntries = 60
  p.changed('ns/a')
  await new Promise((resolve) => setImmediate(resolve))
  t.notOk(released, 'still above the resume mark: still waiting')
  slow.stream.backlogEntries = 50
  p.changed('ns/a')
  await new Promise((resolve) => setImmediate(resolve))
  t.ok(released, 'at the resume mark: released')
  t.equal(p.waitingTopics, 0)
  slow.stream.backlogEntries = 500
  const w2 = p.paced('ns/a')
  t.ok(w2 !== undefined)
  slow.sub.consumers.size = 0 // the slow consumer left without acknowledging: no `changed` comes
  t.equal(p.paced('ns/a'), undefined, 'the next publish re-checks and releases')
  await w2
  slow.sub.consumers.size = 1
  const w3 = p.paced('ns/a')
  p.close()
  await w3
  t.equal(p.waitingTopics, 0, 'close releases every wait')
  t.ok(MEMORY_PUBLISH_RESUME_ENTRIES < MEMORY_PUBLISH_AHEAD_ENTRIES_MAX, 'the resume mark is below the bound')
})

/** `count` QoS 1 PUBLISH frames of publisher `pub` on `topic`, payload "pub:seq". */
function frames (topic: string, pub: string, count: number): Buffer {
  const out: Buffer[] = []
  for (let i = 0; i < count; i++) {
    out.push(mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from(`${pub}:${i}`), qos: 1, messageId: (i % 65535) + 1, retain: false, dup: false }))
  }
  return Buffer.concat(out)
}

t.test('mqtt memory pacing - a subscriber that does not acknowledge bounds the publisher; once it acks, everything arrives in order', async (t) => {
  // A long hold so that the bound is exact for as long as the subscriber withholds its acks (the default reads on after 500 ms).
  const gw = await startTestGateway(t, { namespaces: { 'public/default': { durability: 'memory' } }, mqttLimits: { pacedReadHoldMsMax: 120_000 } })
  const sub = await rawConnect(t, gw.ports.mqtt, 4, { clientId: 'slow-sub' })
  sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'pace/t', qos: 1 }] })
  await sub.next('suback')
  const pub = await rawConnect(t, gw.ports.mqtt, 4, { clientId: 'fast-pub' })
  const total = 20_000
  pub.write(frames('pace/t', 'p', total))
  const pubacks = (): number => pub.packets.filter((p) => p.cmd === 'puback').length
  // The subscriber acknowledges nothing yet: the publisher gets past the bound, then stops being read.
  await waitFor(() => pubacks() > MEMORY_PUBLISH_AHEAD_ENTRIES_MAX, { timeoutMs: 30_000, what: 'publisher past the bound' })
  // A round trip through the gateway on another connection: it is running, and still not reading the publisher.
  const from = sub.packets.length
  sub.send({ cmd: 'pingreq' })
  await sub.next('pingresp', from)
  // Slack: what one or two socket reads carried past the bound before the pause took hold (each frame ~16 B, reads <= 64 KiB).
  const slack = 2 * Math.ceil(65536 / 16)
  t.ok(pubacks() <= MEMORY_PUBLISH_AHEAD_ENTRIES_MAX + slack, `publisher bounded while the subscriber withholds acks (${pubacks()} acknowledged of ${total})`)
  t.ok(pubacks() < total, 'the publisher is held back')

  // The subscriber acknowledges from now on: the publisher is read again and everything arrives once, in order.
  const seqs: number[] = []
  let scanned = 0
  const drain = (): void => {
    for (; scanned < sub.packets.length; scanned++) {
      const p = sub.packets[scanned] as { cmd: string, payload?: Buffer, messageId?: number }
      if (p.cmd !== 'publish') continue
      seqs.push(Number(String(p.payload).split(':')[1]))
      sub.send({ cmd: 'puback', messageId: p.messageId as number })
    }
  }
  await waitFor(() => { drain(); return seqs.length >= total && pubacks() === total }, { timeoutMs: 60_000, what: 'everything delivered and acknowledged' })
  t.equal(pubacks(), total, 'every publish acknowledged')
  let inOrder = true
  for (let i = 0; i < seqs.length; i++) if (seqs[i] !== i) { inOrder = false; break }
  t.ok(inOrder && seqs.length === total, `every message delivered once, in publish order (${seqs.length} of ${total})`)
})

t.test('mqtt memory pacing - an offline durable subscription does not hold publishers back', async (t) => {
  const gw = await startTestGateway(t, { namespaces: { 'public/default': { durability: 'memory' } }, mqttLimits: { pacedReadHoldMsMax: 120_000 } })
  const sub = await rawConnect(t, gw.ports.mqtt, 4, { clientId: 'away', clean: false })
  sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'pace/off', qos: 1 }] })
  await sub.next('suback')
  sub.send({ cmd: 'disconnect' })
  await sub.waitClosed()
  const pub = await rawConnect(t, gw.ports.mqtt, 4, { clientId: 'pub-off' })
  const total = MEMORY_PUBLISH_AHEAD_ENTRIES_MAX * 2
  pub.write(frames('pace/off', 'p', total))
  await waitFor(() => pub.packets.filter((p) => p.cmd === 'puback').length === total, { timeoutMs: 60_000, what: 'every publish acknowledged' })
  t.pass('published past the bound with only an offline subscriber')
})
