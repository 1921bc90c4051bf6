/**
 * TCP transport (gateway/mqtt/transport-tcp.ts): packets written in one tick
 * are gathered into one socket write. Pinned: every byte arrives, in the order
 * written, also when a packet too large to gather comes between small ones,
 * when more than one gathering buffer's worth is written in one tick, and
 * when the transport ends right after writing (nothing gathered is lost);
 * gathered bytes count as buffered (the connection's backpressure sees them).
 */
import t from 'tap'
import net from 'node:net'
import { listenMqttTcp, type MqttFrontEnd, type Transport } from '../../gateway/mqtt/index.js'
import { TCP_GATHER_BYTES } from '../../gateway/mqtt/constants.js'
import { waitFor } from '../helpers/wait.js'

/** A front end that only hands each accepted transport to the test. */
function captureFront (onTransport: (tr: Transport) => void): MqttFrontEnd {
  return {
    accept (tr: Transport) {
      onTransport(tr)
      return { onData () {}, onDrain () {}, onClose () {}, onOverflow () {} }
    },
    shutdown () {}
  } as unknown as MqttFrontEnd
}

async function connected (): Promise<{ tr: Transport, received: () => Buffer, ended: () => boolean, close: () => Promise<void> }> {
  let tr: Transport | undefined
  const listener = await listenMqttTcp(captureFront((x) => { tr = x }), { host: '127.0.0.1', port: 0 })
  const chunks: Buffer[] = []
  let ended = false
  const client = net.connect(listener.port, '127.0.0.1')
  client.on('data', (b: Buffer) => { chunks.push(b) })
  client.on('end', () => { ended = true })
  await waitFor(() => tr !== undefined, { what: 'accepted' })
  return {
    tr: tr as Transport,
    received: () => Buffer.concat(chunks),
    ended: () => ended,
    close: async () => { client.destroy(); await listener.close() }
  }
}

/** Packet-like buffers with distinct contents, so order and completeness show in the bytes. */
function parts (sizes: number[]): Buffer[] {
  return sizes.map((n, i) => Buffer.alloc(n, (i % 250) + 1))
}

t.test('mqtt tcp gather - small and large packets of one tick arrive complete and in order', async (t) => {
  const c = await connected()
  t.teardown(c.close)
  const sent = parts([4, 300, 2, TCP_GATHER_BYTES + 5, 4, 4, 1000])
  for (const p of sent) c.tr.write(p)
  const want = Buffer.concat(sent)
  t.ok(c.tr.bufferedBytes() >= 4 + 4 + 1000, 'bytes gathered after the large packet count as buffered until the tick ends')
  await waitFor(() => c.received().length >= want.length, { what: 'all bytes' })
  t.ok(c.received().equals(want), 'same bytes, same order')
})

t.test('mqtt tcp gather - more than a gathering buffer of small packets in one tick: all arrive in order', async (t) => {
  const c = await connected()
  t.teardown(c.close)
  const sent = parts(Array.from({ length: Math.ceil(3 * TCP_GATHER_BYTES / 256) }, () => 256))
  for (const p of sent) c.tr.write(p)
  const want = Buffer.concat(sent)
  await waitFor(() => c.received().length >= want.length, { what: 'all bytes' })
  t.ok(c.received().equals(want), 'same bytes, same order')
})

t.test('mqtt tcp gather - end right after writing sends what was gathered first', async (t) => {
  const c = await connected()
  t.teardown(c.close)
  const sent = parts([4, 4, 100])
  for (const p of sent) c.tr.write(p)
  c.tr.end()
  await waitFor(() => c.ended(), { what: 'the end of the stream' })
  t.ok(c.received().equals(Buffer.concat(sent)), 'everything written before end arrived')
})
