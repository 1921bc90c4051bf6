/**
 * A fake MQTT broker for the lean generator's tests: answers CONNECT and
 * SUBSCRIBE, PUBACKs each QoS 1 publish and forwards it to every subscriber.
 * Two knobs make it misbehave on purpose: hold each PUBACK for a known time
 * (the generator's ack latency must show it), or forward only some publishes
 * (the generator's checker must notice the loss).
 */
import { createServer, type Server, type Socket } from 'node:net'
import { FrameSplitter } from '../../loadtest/lean/parser.js'

export interface FakeBrokerOptions {
  /** PUBACK each publish this long after it arrives, ms (0: at once). */
  heldAckMs?: number
  /** Forward every publish except each N-th (0: forward all). */
  dropEveryNth?: number
}

export function portOf (s: Server): number {
  const a = s.address()
  return typeof a === 'object' && a !== null ? a.port : 0
}

export async function startFakeBroker (opts: FakeBrokerOptions = {}): Promise<Server> {
  const heldAckMs = opts.heldAckMs ?? 0
  const dropEveryNth = opts.dropEveryNth ?? 0
  const subs = new Set<Socket>()
  let publishes = 0
  const server = createServer((sock) => {
    const split = new FrameSplitter((first, buf, at, end) => {
      const type = first >> 4
      if (type === 1) sock.write(Buffer.from([0x20, 2, 0, 0]))
      else if (type === 8) { subs.add(sock); sock.write(Buffer.from([0x90, 3, buf[at] as number, buf[at + 1] as number, 1])) } else if (type === 3) {
        const idAt = at + 2 + buf.readUInt16BE(at)
        const ack = Buffer.from([0x40, 2, buf[idAt] as number, buf[idAt + 1] as number])
        if (heldAckMs > 0) setTimeout(() => { if (!sock.destroyed) sock.write(ack) }, heldAckMs)
        else sock.write(ack)
        const hdr = end - at > 127 ? 3 : 2
        const dropped = dropEveryNth > 0 && ++publishes % dropEveryNth === 0
        if (!dropped) for (const s of subs) s.write(Buffer.from(buf.subarray(at - hdr, end)))
      }
    })
    sock.on('data', (d: Buffer) => { split.push(d) })
    sock.on('error', () => {})
    sock.on('close', () => { subs.delete(sock) })
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  return server
}
