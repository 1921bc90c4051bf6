/**
 * MQTT over TCP (dev mode) and TLS (node:net / node:tls). The only files
 * that touch these sockets; everything above sees a `Transport`.
 */
import net from 'node:net'
import tls from 'node:tls'
import { FerryError } from '../../common/errors.js'
import { TCP_GATHER_BYTES } from './constants.js'
import { MqttCode } from './errors.js'
import type { MqttFrontEnd, MqttListener, PeerCertificateInfo, Transport, TransportEvents } from './types.js'

/** TLS material of a listener; with `ca`, clients may present a certificate (mutual TLS, checked by gateway/auth). */
export interface TcpTlsOptions { cert: Buffer, key: Buffer, ca?: Buffer }

export interface TcpListenOptions {
  host: string
  port: number
  tls?: TcpTlsOptions
}

/** Server TLS options: TLS 1.2+ only; a client certificate is requested but not required (a token may be used instead). */
function secureOptions (t: TcpTlsOptions): tls.SecureContextOptions & tls.TlsOptions {
  return {
    cert: t.cert,
    key: t.key,
    minVersion: 'TLSv1.2',
    ...(t.ca !== undefined ? { ca: t.ca, requestCert: true, rejectUnauthorized: false } : {})
  }
}

function firstOf (v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v
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

  /** Packets of this tick (fanin, issue 11), written together at the end of the tick; reused. */
  private readonly pending: Buffer[] = []
  private pendingBytes = 0

  /**
   * Packets written in the same tick leave in one socket write (one syscall, one TLS record),
   * copied into one buffer of their total size: queueing them one by one in the socket's
   * stream (cork/uncork) cost a request object per packet and a writev list, more than the
   * copy. Bounded: past TCP_GATHER_BYTES what is gathered goes at once; a packet that large
   * is written as it is.
   */
  write (bytes: Buffer): boolean {
    const s = this.socket
    if (s.destroyed || s.writableEnded) return true
    if (bytes.length >= TCP_GATHER_BYTES) {
      // A large packet is not copied: what was gathered before it goes first, then it.
      this.flush()
      return s.write(bytes)
    }
    if (this.pending.length === 0) process.nextTick(this.flushTick)
    this.pending.push(bytes)
    this.pendingBytes += bytes.length
    if (this.pendingBytes >= TCP_GATHER_BYTES) this.flush()
    return !s.writableNeedDrain
  }

  private readonly flushTick = (): void => { this.flush() }

  /** Hand what was gathered to the socket. */
  private flush (): void {
    const p = this.pending
    if (p.length === 0) return
    const s = this.socket
    const bytes = p.length === 1 ? p[0] as Buffer : Buffer.concat(p, this.pendingBytes)
    p.length = 0
    this.pendingBytes = 0
    if (!s.destroyed && !s.writableEnded) s.write(bytes)
  }

  peerCertificate (): PeerCertificateInfo | undefined {
    const s = this.socket
    if (!(s instanceof tls.TLSSocket)) return undefined
    const c = s.getPeerCertificate()
    if (c === null || typeof c !== 'object' || c.serialNumber === undefined) return undefined
    return { authorized: s.authorized, serial: c.serialNumber, subjectCN: firstOf(c.subject?.CN), subjectOU: firstOf(c.subject?.OU), validToMs: Date.parse(c.valid_to) }
  }

  bufferedBytes (): number { return this.socket.writableLength + this.pendingBytes }
  pauseReading (): void { this.socket.pause() }
  resumeReading (): void { if (this.events !== undefined) this.socket.resume() }
  end (): void {
    this.flush() // what was written before end goes first
    if (!this.socket.writableEnded) this.socket.end()
  }
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
    ? tls.createServer(secureOptions(opts.tls), onSocket)
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
    // Certificate rotation: new handshakes use the new certificate; open connections keep theirs.
    setTls (t: TcpTlsOptions) { if (server instanceof tls.Server) server.setSecureContext(secureOptions(t)) },
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
