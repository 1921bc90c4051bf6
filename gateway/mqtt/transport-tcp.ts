/**
 * MQTT over TCP (dev mode) and TLS (node:net / node:tls). The only files
 * that touch these sockets; everything above sees a `Transport`.
 */
import net from 'node:net'
import tls from 'node:tls'
import { FerryError } from '../../common/errors.js'
import { MqttCode } from './errors.js'
import type { MqttFrontEnd, MqttListener, Transport, TransportEvents } from './types.js'

export interface TcpListenOptions {
  host: string
  port: number
  tls?: { cert: Buffer, key: Buffer }
}

class SocketTransport implements Transport {
  readonly remoteAddress: string
  private events: TransportEvents | undefined

  constructor (readonly kind: string, private readonly socket: net.Socket) {
    this.remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`
  }

  bind (events: TransportEvents): void {
    this.events = events
    const s = this.socket
    s.setNoDelay(true)
    s.on('data', (b: Buffer) => { events.onData(b) })
    s.on('drain', () => { events.onDrain() })
    s.on('error', () => { /* 'close' follows */ })
    s.on('close', () => { events.onClose() })
  }

  private corked = false

  write (bytes: Buffer): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return true
    // Packets written in the same tick leave in one syscall (and one TLS record).
    if (!this.corked) {
      this.corked = true
      this.socket.cork()
      process.nextTick(() => { this.corked = false; this.socket.uncork() })
    }
    return this.socket.write(bytes)
  }

  bufferedBytes (): number { return this.socket.writableLength }
  pauseReading (): void { this.socket.pause() }
  resumeReading (): void { if (this.events !== undefined) this.socket.resume() }
  end (): void { if (!this.socket.writableEnded) this.socket.end() }
  destroy (): void { this.socket.destroy() }
}

/** Listen for MQTT on TCP, or TLS when `tls` is given. Port 0 picks a free port. */
export async function listenMqttTcp (front: MqttFrontEnd, opts: TcpListenOptions): Promise<MqttListener> {
  const kind = opts.tls !== undefined ? 'tls' : 'tcp'
  const sockets = new Set<net.Socket>()
  const onSocket = (socket: net.Socket): void => {
    sockets.add(socket)
    socket.on('close', () => { sockets.delete(socket) })
    const t = new SocketTransport(kind, socket)
    t.bind(front.accept(t))
  }
  const server: net.Server = opts.tls !== undefined
    ? tls.createServer({ cert: opts.tls.cert, key: opts.tls.key }, onSocket)
    : net.createServer(onSocket)
  // A failed TLS handshake never becomes a connection; nothing to do but not crash.
  server.on('tlsClientError', () => undefined)
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => { reject(new FerryError(MqttCode.LISTEN, `cannot listen for MQTT on ${opts.host}:${opts.port}: ${err.message}`, { cause: err })) })
    server.listen(opts.port, opts.host, () => { resolve() })
  })
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : opts.port
  return {
    port,
    async close () {
      // Connections get a proper close (v5 DISCONNECT 0x8B, no wills) before the sockets go.
      front.shutdown()
      await new Promise<void>((resolve) => {
        server.close(() => { resolve() })
        // Connections were asked to close by the front end; whatever is left goes now.
        for (const s of sockets) s.destroy()
      })
    }
  }
}
