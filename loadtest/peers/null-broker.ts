/**
 * The do-nothing Node broker: the ceiling any Node.js broker can reach with
 * the lean generator on this machine. It splits frames, answers CONNECT,
 * SUBSCRIBE and PINGREQ, PUBACKs a QoS 1 PUBLISH at once and forwards the
 * PUBLISH bytes unchanged to every subscribed connection (no topic matching,
 * no storage, no flow control). Only for benchmarks.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { FrameSplitter } from '../lean/parser.js'
import { PacketType } from '../lean/frames.js'

const CONNACK = Buffer.from([0x20, 2, 0, 0])
const PINGRESP = Buffer.from([0xd0, 0])

export function startNullBroker (port: number, host = '127.0.0.1'): Promise<Server> {
  const subscribers = new Set<Socket>()
  const server = createServer((sock) => {
    sock.setNoDelay(true)
    let scheduled = false
    const flushTo = new Set<Socket>()
    const queue = (s: Socket, b: Buffer): void => {
      // Writes of one turn are corked per socket, so a batch of frames is one syscall.
      if (!flushTo.has(s)) { s.cork(); flushTo.add(s) }
      s.write(b)
      if (!scheduled) {
        scheduled = true
        setImmediate(() => { scheduled = false; for (const f of flushTo) f.uncork(); flushTo.clear() })
      }
    }
    const splitter = new FrameSplitter((first, buf, at, end) => {
      const type = first >> 4
      if (type === PacketType.publish) {
        const frame = buf.subarray(at - (end - at > 127 ? (end - at > 16_383 ? 3 : 2) : 1) - 1, end)
        if (((first >> 1) & 3) > 0) {
          const topicLen = buf.readUInt16BE(at)
          const idAt = at + 2 + topicLen
          queue(sock, Buffer.from([0x40, 2, buf[idAt] as number, buf[idAt + 1] as number]))
        }
        const copy = Buffer.from(frame)
        for (const s of subscribers) queue(s, copy)
      } else if (type === PacketType.connect) {
        queue(sock, CONNACK)
      } else if (type === PacketType.subscribe) {
        subscribers.add(sock)
        const granted = (buf[end - 1] as number) & 3
        queue(sock, Buffer.from([0x90, 3, buf[at] as number, buf[at + 1] as number, granted]))
      } else if (type === PacketType.pingreq) {
        queue(sock, PINGRESP)
      } else if (type === PacketType.disconnect) {
        sock.end()
      }
    })
    sock.on('data', (d: Buffer) => { try { splitter.push(d) } catch { sock.destroy() } })
    sock.on('close', () => { subscribers.delete(sock) })
    sock.on('error', () => {})
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { resolve(server) })
  })
}
