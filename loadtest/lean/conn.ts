/**
 * One lean MQTT connection over TCP or WebSocket: CONNECT/CONNACK, then raw
 * frames. Writes queued in one event-loop turn go out as one socket write
 * (one syscall, one WebSocket message), the way a pipelining client batches.
 */
import { connect as tcpConnect, type Socket } from 'node:net'
import WebSocket from 'ws'
import { FrameSplitter, type PacketHandler } from './parser.js'
import { connectFrame, PacketType } from './frames.js'

/** Longest a CONNECT may wait for its CONNACK, ms: a broker that does not answer in this time is broken or overloaded past measuring. */
export const LEAN_CONNECT_TIMEOUT_MS = 20_000
/** Frames joined into one write before flushing early, bytes: bounds the batch buffer. */
export const LEAN_WRITE_BATCH_BYTES_MAX = 256 * 1024

export interface LeanTarget {
  /** mqtt://host:port or ws://host:port/path */
  url: string
}

export class LeanConn {
  private batch: Buffer[] = []
  private batchBytes = 0
  private flushScheduled = false
  private handler: PacketHandler = () => {}
  private readonly splitter = new FrameSplitter((f, b, s, e) => { this.handler(f, b, s, e) })
  private closed = false
  private writeRaw: (buf: Buffer) => void = () => {}
  private closeRaw: () => void = () => {}
  private drainWaiters: Array<() => void> = []
  private backedUp = false

  private constructor () {}

  static async open (target: LeanTarget, clientId: string, opts: { cleanSession?: boolean } = {}): Promise<LeanConn> {
    const c = new LeanConn()
    await c.start(target, clientId, opts.cleanSession ?? true)
    return c
  }

  onPacket (h: PacketHandler): void { this.handler = h }

  private async start (target: LeanTarget, clientId: string, cleanSession: boolean): Promise<void> {
    const u = new URL(target.url)
    const connack = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`lean ${clientId}: no CONNACK from ${target.url} in ${LEAN_CONNECT_TIMEOUT_MS} ms`)) }, LEAN_CONNECT_TIMEOUT_MS)
      this.handler = (first, buf, at) => {
        clearTimeout(timer)
        if (first >> 4 !== PacketType.connack || buf[at + 1] !== 0) { reject(new Error(`lean ${clientId}: connection refused by ${target.url} (return code ${String(buf[at + 1])})`)); return }
        resolve()
      }
    })
    if (u.protocol === 'mqtt:' || u.protocol === 'tcp:') {
      const sock: Socket = tcpConnect({ host: u.hostname, port: Number(u.port) })
      sock.setNoDelay(true)
      await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject) })
      sock.on('data', (d: Buffer) => { this.splitter.push(d) })
      sock.on('error', () => {})
      sock.on('drain', () => { this.backedUp = false; this.wakeDrain() })
      this.writeRaw = (buf) => { if (!sock.write(buf)) this.backedUp = true }
      this.closeRaw = () => { sock.destroy() }
    } else if (u.protocol === 'ws:') {
      const ws = new WebSocket(target.url, 'mqtt', { perMessageDeflate: false })
      await new Promise<void>((resolve, reject) => { ws.once('open', () => { resolve() }); ws.once('error', reject) })
      ws.on('message', (d: Buffer) => { this.splitter.push(d) })
      ws.on('error', () => {})
      this.writeRaw = (buf) => {
        ws.send(buf, { binary: true })
        if (ws.bufferedAmount > LEAN_WRITE_BATCH_BYTES_MAX * 4) {
          this.backedUp = true
          const poll = (): void => { if (ws.bufferedAmount <= LEAN_WRITE_BATCH_BYTES_MAX) { this.backedUp = false; this.wakeDrain() } else setTimeout(poll, 1) }
          setTimeout(poll, 1)
        }
      }
      this.closeRaw = () => { ws.terminate() }
    } else {
      throw new Error(`lean: unsupported url ${target.url}`)
    }
    this.writeRaw(connectFrame(clientId, cleanSession))
    await connack
  }

  /** Queue a frame (copied: templates are reused) for this turn's write. */
  send (frame: Buffer): void {
    if (this.closed) return
    this.batch.push(Buffer.from(frame))
    this.batchBytes += frame.length
    if (this.batchBytes >= LEAN_WRITE_BATCH_BYTES_MAX) { this.flush(); return }
    if (!this.flushScheduled) { this.flushScheduled = true; setImmediate(() => { this.flush() }) }
  }

  flush (): void {
    this.flushScheduled = false
    if (this.batch.length === 0 || this.closed) return
    const buf = this.batch.length === 1 ? this.batch[0] as Buffer : Buffer.concat(this.batch, this.batchBytes)
    this.batch = []
    this.batchBytes = 0
    this.writeRaw(buf)
  }

  /** Resolves once the socket's send buffer drained (open-loop senders wait here instead of queueing without bound). */
  async drained (): Promise<void> {
    if (!this.backedUp) return
    await new Promise<void>((resolve) => { this.drainWaiters.push(resolve) })
  }

  private wakeDrain (): void {
    const w = this.drainWaiters
    this.drainWaiters = []
    for (const f of w) f()
  }

  close (): void {
    if (this.closed) return
    this.flush()
    this.closed = true
    this.closeRaw()
    this.wakeDrain()
  }
}
