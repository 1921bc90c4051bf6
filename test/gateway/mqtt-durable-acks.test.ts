/**
 * Acknowledgements that promise durable state (issue 7 items 6 and 7):
 * SUBACK only once the session record holds the subscription, and a publish
 * whose retained-message update fails afterwards is still acknowledged as
 * stored (a failure would make the client publish it twice).
 */
import t from 'tap'
import type { MetaValue } from '../../store/index.js'
import type { Consumer, SubscribeOptions } from '../../gateway/dispatch/index.js'
import { startTestGateway, rawConnect, connectMqtt, collect } from '../helpers/gateway.js'
import { waitFor } from '../helpers/wait.js'

interface SessionRecord { subs: Array<{ raw: string }> }

t.test('mqtt durable acks - SUBACK only after the session record with the subscription is durable; recorded before it exists', async (t) => {
  const gw = await startTestGateway(t)
  const ledger = gw.gateway.ledger
  const dispatcher = gw.gateway.dispatcher
  const s = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'sa', clean: true, properties: { sessionExpiryInterval: 600 } })

  // Hold the dispatcher's subscribe, then the session record writes, to look at each step.
  let recordAtSubscribe: SessionRecord | undefined
  const subscribe = dispatcher.subscribe.bind(dispatcher)
  dispatcher.subscribe = async (opts: SubscribeOptions): Promise<Consumer> => {
    recordAtSubscribe = ledger.getMeta('mqtt-session', 'sa') as unknown as SessionRecord
    return await subscribe(opts)
  }
  const putMeta = ledger.putMeta.bind(ledger)
  let open: () => void = () => {}
  const gate = new Promise<void>((resolve) => { open = resolve })
  let held = 0
  ledger.putMeta = async (space: string, key: string, value: MetaValue | undefined): Promise<void> => {
    if (space === 'mqtt-session' && key === 'sa' && recordAtSubscribe !== undefined) { held++; await gate }
    await putMeta(space, key, value)
  }

  s.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'sa/#', qos: 1 }] })
  await waitFor(() => held === 1, { what: 'final session record being written' })
  t.same(recordAtSubscribe?.subs.map((x) => x.raw), ['sa/#'], 'recorded before the dispatcher subscription exists')
  s.send({ cmd: 'pingreq' })
  await s.next('pingresp')
  t.notOk(s.packets.some((p) => p.cmd === 'suback'), 'no SUBACK while the record is not durable')
  open()
  await s.next('suback')
  t.same((ledger.getMeta('mqtt-session', 'sa') as unknown as SessionRecord).subs.map((x) => x.raw), ['sa/#'], 'the record holds it when SUBACK arrives')
})

t.test('mqtt durable acks - a retained update that fails after the publish was stored still acknowledges the publish', async (t) => {
  const gw = await startTestGateway(t)
  const ledger = gw.gateway.ledger
  const sub = await connectMqtt(t, gw, gw.urls.mqtt, { protocolVersion: 5 })
  const box = collect(sub)
  await sub.subscribeAsync('rt/x', { qos: 1 })
  const putMeta = ledger.putMeta.bind(ledger)
  ledger.putMeta = async (space: string, key: string, value: MetaValue | undefined): Promise<void> => {
    if (space === 'retained') throw new Error('injected: retained update fails')
    await putMeta(space, key, value)
  }
  const p = await rawConnect(t, gw.ports.mqtt, 5)
  p.send({ cmd: 'publish', topic: 'rt/x', payload: Buffer.from('kept'), qos: 1, messageId: 1, retain: true, dup: false })
  const ack = await p.next('puback')
  t.equal(ack.reasonCode, 0, 'acknowledged: the message is stored; a failure would make the client send it again')
  await waitFor(() => box.length === 1, { what: 'delivered' })
  t.equal((await ledger.read('public/default/rt/x', 0, { maxEntries: 10 })).length, 1, 'stored once')
  const q3 = await rawConnect(t, gw.ports.mqtt, 4)
  q3.send({ cmd: 'publish', topic: 'rt/x', payload: Buffer.from('kept-3'), qos: 1, messageId: 1, retain: true, dup: false })
  await q3.next('puback')
  t.notOk(q3.closed, '3.1.1: acknowledged, not closed')
})
