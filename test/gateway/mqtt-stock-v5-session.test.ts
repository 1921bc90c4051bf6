/**
 * Stock MQTT 5 clients must see a standard broker (issue 8): sessions, message expiry, overlapping subscriptions.
 * The `mqtt` npm client at its defaults over TCP and WebSocket.
 */
import t from 'tap'
import { startTestGateway, collect } from '../helpers/gateway.js'
import { waitFor } from '../helpers/wait.js'
import { KINDS, v5 } from './mqtt-stock-helpers.js'

for (const k of KINDS) {
  t.test(`mqtt stock v5 (${k}) - Clean Start 0 without Session Expiry on reconnect keeps the queued QoS 1 and 2 messages`, async (t) => {
    const gw = await startTestGateway(t)
    const clientId = `cs0-${k}`
    const a = await v5(t, gw, k, { clientId, clean: true, properties: { sessionExpiryInterval: 99999 } })
    await a.subscribeAsync(`cs/${k}/+/+`, { qos: 2 })
    await a.endAsync()
    const pub = await v5(t, gw, k)
    const props = { contentType: 'text/plain', payloadFormatIndicator: true }
    await pub.publishAsync(`cs/${k}/a/0`, 'q0', { qos: 0, properties: props })
    await pub.publishAsync(`cs/${k}/b/1`, 'q1', { qos: 1, properties: props })
    await pub.publishAsync(`cs/${k}/c/2`, 'q2', { qos: 2, properties: props })
    const b = await v5(t, gw, k, { clientId, clean: false })
    const box = collect(b)
    await waitFor(() => box.filter((m) => m.payload.toString() !== 'q0').length === 2, { what: 'QoS 1 and 2 messages after reconnect' })
    const got = box.filter((m) => m.payload.toString() !== 'q0')
    t.same(got.map((m) => m.payload.toString()).sort(), ['q1', 'q2'])
    t.same(got.map((m) => m.packet.qos).sort(), [1, 2])
    for (const m of got) {
      t.equal(m.packet.properties?.contentType, 'text/plain', 'content type kept')
      t.equal(m.packet.properties?.payloadFormatIndicator, true, 'payload format indicator kept')
    }
  })

  t.test(`mqtt stock v5 (${k}) - DISCONNECT Session Expiry 999999999, then live messages arrive with the remaining expiry`, async (t) => {
    const gw = await startTestGateway(t)
    const clientId = `dse-${k}`
    const a = await v5(t, gw, k, { clientId, clean: true, properties: { sessionExpiryInterval: 60 } })
    await a.subscribeAsync(`dse/${k}`, { qos: 1 })
    await a.endAsync(false, { reasonCode: 0, properties: { sessionExpiryInterval: 999999999 } })
    const pub = await v5(t, gw, k)
    // The 1 s and 6 s, with the long ones at 60 s so a loaded machine cannot expire them too.
    for (const [p, e] of [['short-1', 1], ['long-1', 60], ['short-2', 1], ['long-2', 60]] as const) {
      await pub.publishAsync(`dse/${k}`, p, { qos: 1, properties: { messageExpiryInterval: e } })
    }
    const sentAt = Date.now()
    await waitFor(() => Date.now() - sentAt >= 3000, { timeoutMs: 10_000, what: 'short messages expire' })
    // Clean Start 0 and no properties, as a stock client reconnects.
    const b = await v5(t, gw, k, { clientId, clean: false })
    const box = collect(b)
    await waitFor(() => box.length >= 2, { what: 'the two live messages' })
    t.same(box.map((m) => m.payload.toString()), ['long-1', 'long-2'])
    for (const m of box) {
      const left = m.packet.properties?.messageExpiryInterval ?? 0
      t.ok(left > 0 && left < 60, `remaining expiry forwarded (${left} s)`)
    }
  })

  t.test(`mqtt stock v5 (${k}) - overlapping subscriptions: one copy with both Subscription Identifiers`, async (t) => {
    const gw = await startTestGateway(t)
    const c = await v5(t, gw, k)
    const box = collect(c)
    await c.subscribeAsync(`ov/${k}/+`, { qos: 1, properties: { subscriptionIdentifier: 2 } })
    await c.subscribeAsync(`ov/${k}/#`, { qos: 2, properties: { subscriptionIdentifier: 3 } })
    const pub = await v5(t, gw, k)
    await pub.publishAsync(`ov/${k}/x`, 'one', { qos: 2 })
    await pub.publishAsync(`ov/${k}/x/y`, 'only-hash', { qos: 1 })
    await waitFor(() => box.some((m) => m.payload.toString() === 'only-hash'), { what: 'second message' })
    // A round trip after both: a second copy of 'one' would have arrived by now.
    await pub.publishAsync(`ov/${k}/x/y`, 'sync', { qos: 1 })
    await waitFor(() => box.some((m) => m.payload.toString() === 'sync'))
    const ones = box.filter((m) => m.payload.toString() === 'one')
    t.equal(ones.length, 1, 'one copy')
    const ids = ones[0]?.packet.properties?.subscriptionIdentifier
    t.same((Array.isArray(ids) ? ids : [ids]).sort(), [2, 3], 'both identifiers [MQTT-3.3.4-4]')
    t.equal(ones[0]?.packet.qos, 2, 'the highest QoS of the matching subscriptions [MQTT-3.3.4-2]')
    t.same(box.find((m) => m.payload.toString() === 'only-hash')?.packet.properties?.subscriptionIdentifier, 3)
  })
}
