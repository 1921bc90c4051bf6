/**
 * An inbound QoS 0/1 PUBLISH goes to Dispatcher.publishTo with the publish as
 * its own PublishSink (no promise per message); QoS 2 keeps publish (a promise
 * over publishTo). Pinned
 * over a real socket on the fdatasync-gated simulated disk: the PUBACK leaves
 * only once the message's fdatasync is done; a refusal answered at once waits
 * behind the PUBACKs of publishes that came before it; a full disk answers
 * PUBACK 0x97 (v5) or closes without an ack (3.1.1).
 */
import t from 'tap'
import type { IPublishPacket } from 'mqtt-packet'
import { SimDisk } from '../../store/index.js'
import { startTestGateway, rawConnect, type TestGateway } from '../helpers/gateway.js'
import { SyncGate } from '../helpers/sync-gate.js'
import { waitFor } from '../helpers/wait.js'

/** The namespace's message bound (bytes): a larger payload is refused before the append. */
const MAX_MESSAGE_BYTES = 64

function publishPacket (topic: string, qos: 0 | 1 | 2, id: number, payload: string | Buffer): IPublishPacket {
  return { cmd: 'publish', topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos, messageId: id, retain: false, dup: false }
}

/**
 * Count the calls of publish and publishTo that reach the dispatcher (passed on unchanged), and name each
 * publishTo's sink: the front end's own InboundPublish when it came without a promise on the way. The guard above
 * passes a sink through as it is, and its publish is the promise over its publishTo.
 */
function countCalls (gw: TestGateway): { publish: number, publishTo: number, sinks: string[] } {
  const d = gw.gateway.dispatcher
  const calls = { publish: 0, publishTo: 0, sinks: [] as string[] }
  const publish = d.publish.bind(d)
  const publishTo = d.publishTo.bind(d)
  d.publish = async (req) => { calls.publish++; return await publish(req) }
  d.publishTo = (req, sink) => { calls.publishTo++; calls.sinks.push(sink.constructor.name); publishTo(req, sink) }
  return calls
}

async function storedPayloads (gw: TestGateway, topic: string): Promise<string[]> {
  return (await gw.gateway.ledger.read(`public/default/${topic}`, 0, { maxEntries: 100 })).map((e) => e.payload.toString())
}

t.test('mqtt publish to - PUBACK only after the fdatasync, refusals in arrival order behind it; QoS 1 through publishTo, QoS 2 through publish', async (t) => {
  const disk = new SyncGate(new SimDisk(17))
  const gw = await startTestGateway(t, { disk, namespaces: { 'public/default': { maxMessageBytes: MAX_MESSAGE_BYTES } } })
  const calls = countCalls(gw)
  const c = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'sink-order' })
  c.send(publishPacket('to/a', 1, 1, 'first'))
  t.match(await c.next('puback'), { messageId: 1, reasonCode: 0 })

  disk.hold = true
  c.send(publishPacket('to/a', 1, 2, 'synced'))
  await waitFor(() => disk.waiting > 0, { what: 'the publish waits in its fdatasync' })
  // Refused before any append (too large): its answer is ready at once, yet must follow PUBACK 2.
  c.send(publishPacket('to/a', 1, 3, Buffer.alloc(MAX_MESSAGE_BYTES + 1, 0x61)))
  const from = c.packets.length
  c.send({ cmd: 'pingreq' })
  await c.next('pingresp', from)
  t.notOk(c.packets.some((p) => p.cmd === 'puback' && p.messageId !== 1), 'no PUBACK while the fdatasync is held, not even the refusal\'s')
  disk.release()
  await c.next('puback', from + 1)
  await waitFor(() => c.packets.filter((p) => p.cmd === 'puback').length === 3, { what: 'both answers' })
  const acks = c.packets.filter((p) => p.cmd === 'puback')
  t.match(acks.map((p) => ({ messageId: p.messageId, reasonCode: p.reasonCode })), [{ messageId: 1, reasonCode: 0 }, { messageId: 2, reasonCode: 0 }, { messageId: 3, reasonCode: 0x80 }], 'in arrival order; the refusal with its reason code')
  t.match((acks[2] as { properties?: { reasonString?: string } }).properties?.reasonString, /^E_TOO_LARGE: /)
  t.same(await storedPayloads(gw, 'to/a'), ['first', 'synced'], 'what was acknowledged is stored; the refused one is not')
  t.equal(calls.publishTo, 3, 'QoS 1 PUBLISH: publishTo')
  t.same(calls.sinks, ['InboundPublish', 'InboundPublish', 'InboundPublish'], 'QoS 1 PUBLISH: the publish itself is the sink, no promise on the way')
  t.equal(calls.publish, 0, 'QoS 1 PUBLISH: no promise')

  c.send(publishPacket('to/b', 2, 4, 'two'))
  t.match(await c.next('pubrec'), { messageId: 4, reasonCode: 0 })
  c.send({ cmd: 'pubrel', messageId: 4 })
  t.match(await c.next('pubcomp'), { messageId: 4, reasonCode: 0 })
  // QoS 2 PUBLISH: the front end's publish (its inbound state waits on the promise), the guard's promise over its publishTo.
  t.equal(calls.publishTo, 4, 'QoS 2 PUBLISH: reaches the dispatcher through publishTo')
  t.notSame(calls.sinks[3], 'InboundPublish', 'QoS 2 PUBLISH: with the promise\'s sink, not the publish itself')
  t.equal(calls.publish, 0)
})

t.test('mqtt publish to - a full disk: v5 PUBACK 0x97 with its reason string, 3.1.1 closes without an ack', async (t) => {
  const sim = new SimDisk(23)
  const gw = await startTestGateway(t, { disk: new SyncGate(sim) })
  const v5 = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'full-v5' })
  const v4 = await rawConnect(t, gw.ports.mqtt, 4, { clientId: 'full-v4' })
  v5.send(publishPacket('full/a', 1, 1, 'room'))
  t.match(await v5.next('puback'), { messageId: 1, reasonCode: 0 })
  t.same(await storedPayloads(gw, 'full/a'), ['room'])
  const published = gw.gateway.dispatcher.stats().published

  sim.setFreeBytes(0)
  v5.send(publishPacket('full/a', 1, 2, 'no room'))
  const refused = await v5.next('puback', 2)
  t.match(refused, { messageId: 2, reasonCode: 0x97 }, 'Quota exceeded')
  t.match((refused as { properties?: { reasonString?: string } }).properties?.reasonString, /^E_DISK_FULL: /)
  t.equal(v5.closed, false, 'v5: the connection stays')

  v4.send(publishPacket('full/a', 1, 3, 'no room either'))
  await v4.waitClosed()
  t.notOk(v4.packets.some((p) => p.cmd === 'puback'), '3.1.1: closed without a PUBACK, the client resends')
  t.equal(gw.gateway.dispatcher.stats().published, published, 'neither refused publish was stored')
})
