/**
 * The console's live feed: a WebSocket at /v1/admin/live that pushes one
 * overview snapshot per LIVE_INTERVAL_MS to every client. One timer for all
 * clients, started with the first and stopped with the last. A client whose
 * socket backs up past LIVE_BACKPRESSURE_BYTES_MAX is dropped. The admin
 * check runs on the upgrade; browsers cannot send headers on a WebSocket, so
 * `?token=` carries the credential.
 */
import { httpErrorBody, httpStatusOf } from '../error-map.js'
import type { HttpRequest, HttpResponse, WebSocket, WebSocketBehavior } from '../uws.js'
import type { OpsContext } from './context.js'
import { LIVE_BACKPRESSURE_BYTES_MAX, LIVE_CLIENTS_MAX, LIVE_INTERVAL_MS } from './constants.js'
import { FerryError, CommonCode } from '../../common/errors.js'
import { overviewOf } from './site-routes.js'

type LiveSocket = WebSocket<Record<string, never>>

export class LiveFeed {
  private readonly clients = new Set<LiveSocket>()
  private timer: NodeJS.Timeout | undefined
  private closed = false

  constructor (private readonly ctx: OpsContext) {}

  get size (): number { return this.clients.size }

  behavior (): WebSocketBehavior<Record<string, never>> {
    return {
      maxPayloadLength: 4096,
      maxBackpressure: LIVE_BACKPRESSURE_BYTES_MAX,
      idleTimeout: 120,
      sendPingsAutomatically: true,
      upgrade: (res: HttpResponse, req: HttpRequest, context) => {
        const key = req.getHeader('sec-websocket-key')
        const protocol = req.getHeader('sec-websocket-protocol')
        const extensions = req.getHeader('sec-websocket-extensions')
        const token = new URLSearchParams(req.getQuery() ?? '').get('token')
        const header = req.getHeader('authorization')
        const authorization = header !== '' ? header : token !== null ? `Bearer ${token}` : undefined
        const remoteAddress = Buffer.from(res.getRemoteAddressAsText()).toString()
        let aborted = false
        res.onAborted(() => { aborted = true })
        const refuse = (err: unknown): void => {
          if (aborted) return
          res.cork(() => {
            res.writeStatus(`${httpStatusOf(err)} Refused`).writeHeader('content-type', 'application/json').end(JSON.stringify(httpErrorBody(err)))
          })
        }
        Promise.resolve()
          .then(async () => {
            if (this.closed || this.clients.size >= LIVE_CLIENTS_MAX) throw new FerryError(CommonCode.LIMIT, `more than ${LIVE_CLIENTS_MAX} live feed clients`)
            await this.ctx.authorize({ authorization, remoteAddress })
          })
          .then(() => {
            if (aborted) return
            res.cork(() => { res.upgrade({}, key, protocol, extensions, context) })
          }, refuse)
      },
      open: (ws) => {
        this.clients.add(ws)
        this.start()
        void this.push([ws])
      },
      close: (ws) => {
        this.clients.delete(ws)
        if (this.clients.size === 0) this.stop()
      }
    }
  }

  private start (): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => { void this.push([...this.clients]) }, LIVE_INTERVAL_MS)
    this.timer.unref()
  }

  private stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  private async push (to: LiveSocket[]): Promise<void> {
    if (to.length === 0) return
    let text: string
    try {
      text = JSON.stringify({ type: 'overview', data: await overviewOf(this.ctx) })
    } catch (err) {
      this.ctx.logger.warn({ err }, 'live feed snapshot failed')
      return
    }
    for (const ws of to) {
      if (!this.clients.has(ws)) continue
      if (ws.getBufferedAmount() > LIVE_BACKPRESSURE_BYTES_MAX) { ws.end(1013, 'too slow'); continue }
      ws.send(text, false)
    }
  }

  close (): void {
    this.closed = true
    this.stop()
    for (const ws of [...this.clients]) ws.end(1001, 'gateway closing')
    this.clients.clear()
  }
}
