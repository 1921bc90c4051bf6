/**
 * A session keeps one string per topic it publishes to and per topic
 * delivered to it (SESSION_TOPIC_NAMES_MAX, gateway/mqtt/session.ts and
 * session-outbound.ts). Pinned: past that bound, with topics coming back
 * after the maps started again, every message is stored and delivered under
 * its own topic name, once.
 */
import t from 'tap'
import { startTestGateway, connectMqtt, collect } from '../helpers/gateway.js'
import { SESSION_TOPIC_NAMES_MAX } from '../../gateway/mqtt/constants.js'
import { waitFor } from '../helpers/wait.js'

t.test('mqtt topic names - more topics than a session keeps names for: each message under its own topic', async (t) => {
  const gw = await startTestGateway(t)
  const sub = await connectMqtt(t, gw, gw.urls.mqtt)
  const pub = await connectMqtt(t, gw, gw.urls.mqtt)
  const box = collect(sub)
  await sub.subscribeAsync('names/#', { qos: 1 })
  const topics = Array.from({ length: 2 * SESSION_TOPIC_NAMES_MAX + 7 }, (_, i) => `names/t${i}`)
  // Twice over, so names come back after each map was started again.
  const sent = [...topics, ...topics.slice().reverse()]
  for (const [i, topic] of sent.entries()) await pub.publishAsync(topic, `${topic}#${i}`, { qos: 1 })
  await waitFor(() => box.length === sent.length, { what: 'every message' })
  for (const m of box) t.equal(m.payload.toString().split('#')[0], m.topic, 'payload names its topic')
  t.same(new Set(box.map((m) => m.payload.toString())).size, sent.length, 'each message once')
})
