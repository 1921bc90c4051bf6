/**
 * Stock MQTT 5 clients must see a standard broker (issue 8): Receive Maximum and read backpressure.
 * The `mqtt` npm client at its defaults over TCP and WebSocket.
 */
import t from 'tap'
import { startTestGateway } from '../helpers/gateway.js'
import { waitFor } from '../helpers/wait.js'
import { KINDS, v5 } from './mqtt-stock-helpers.js'

for (const k of KINDS) {
  t.test(`mqtt stock v5 (${k}) - 300 QoS 1 publishes in flight at once are all acknowledged`, async (t) => {
    const gw = await startTestGateway(t)
    const pub = await v5(t, gw, k)
    const n = 300
    // The mqtt npm client does not honour the server's Receive Maximum: all 300 leave at once.
    let acked = 0
    let failed = 0
    let disconnected = false
    pub.on('disconnect', () => { disconnected = true })
    pub.on('close', () => { disconnected = true })
    for (let i = 0; i < n; i++) pub.publish(`rm/${k}`, `m${i}`, { qos: 1 }, (err) => { if (err === undefined || err === null) acked++; else failed++ })
    await waitFor(() => acked === n || disconnected, { timeoutMs: 30_000, what: 'all acknowledged or disconnected' })
    t.equal(acked, n, 'every publish acknowledged')
    t.equal(failed, 0)
    t.equal(disconnected, false, 'still connected (no 0x93)')
    const stats = gw.gateway.dispatcher.stats()
    t.ok(stats.published >= n, 'all stored')
  })

  if (k === 'tcp') t.test(`mqtt stock v5 (${k}) - a burst far larger than the connection buffer is read at the store's pace, not refused`, async (t) => {
    const gw = await startTestGateway(t, { mqttLimits: { maxConnectionBufferBytes: 2 * 1024 * 1024 } })
    const pub = await v5(t, gw, k)
    // 3,000 x 4 KiB = 12 MiB in flight at once, six times the connection buffer.
    const n = 3000
    const payload = Buffer.alloc(4096, 0x63)
    let acked = 0
    let disconnected = false
    pub.on('close', () => { disconnected = true })
    for (let i = 0; i < n; i++) pub.publish(`burst/${k}`, payload, { qos: 1 }, (err) => { if (err === undefined || err === null) acked++ })
    await waitFor(() => acked === n || disconnected, { timeoutMs: 60_000, what: 'all acknowledged or disconnected' })
    t.equal(disconnected, false, 'not disconnected')
    t.equal(acked, n, 'every publish acknowledged')
  })

  if (k === 'ws') t.test(`mqtt stock v5 (${k}) - a WebSocket publisher far beyond what can be held gets DISCONNECT 0x97, others are served`, async (t) => {
    const gw = await startTestGateway(t, { mqttLimits: { maxPacketBytes: 64 * 1024, maxConnectionBufferBytes: 256 * 1024 } })
    // Hold every append: nothing is stored while the burst arrives, so the held frames must overflow.
    const d = gw.gateway.dispatcher
    const publish = d.publish.bind(d)
    let open: () => void = () => {}
    const gate = new Promise<void>((resolve) => { open = resolve })
    d.publish = async (req) => { if (req.topic.endsWith('/held')) await gate; return await publish(req) }
    // QoS 0/1 PUBLISH goes through publishTo (its outcome to the publish's own sink): held the same way.
    const publishTo = d.publishTo.bind(d)
    d.publishTo = (req, sink) => { if (req.topic.endsWith('/held')) void gate.then(() => { publishTo(req, sink) }); else publishTo(req, sink) }
    t.teardown(() => { open() })
    const pub = await v5(t, gw, k)
    let reason: number | undefined
    pub.on('disconnect', (p) => { reason = p.reasonCode })
    for (let i = 0; i < 400; i++) pub.publish(`ovf/held`, Buffer.alloc(4096, 0x64), { qos: 1 })
    await waitFor(() => reason !== undefined, { timeoutMs: 30_000, what: 'DISCONNECT' })
    t.equal(reason, 0x97, 'Quota exceeded: a clear reason, not a silent close')
    const other = await v5(t, gw, k)
    await other.publishAsync('ovf/other', 'fine', { qos: 1 })
    t.pass('another WebSocket client is served')
  })
}
