/**
 * The HTTPS + secure WebSocket listener, with certificate rotation without a
 * restart. uWebSockets.js 20.30 builds an SSLApp's TLS context once and has
 * no call to change it, so a rotation builds a second SSLApp with the new
 * certificate and the same routes (`build`), listens on the same port (uSockets
 * sets SO_REUSEPORT on Linux listen sockets of a non-zero port), and only then
 * closes the old listen socket. The old app keeps serving its open
 * connections (HTTP keep-alive, WebSocket) until they end; new connections
 * reach the new app. There is a listener on the port at every instant, so no
 * connection is refused during the switch.
 *
 * One kernel caveat (docs/SECURITY.md): a connection that completed its TCP
 * handshake on the old listen socket but was not yet accepted when it closes
 * is reset, unless net.ipv4.tcp_migrate_req=1 (Linux 5.14+) moves it to the
 * new one.
 */
import type { Logger } from '../../common/log.js'
import { FerryError } from '../../common/errors.js'
import { GatewayCode } from '../errors.js'
import { uws, type TemplatedApp, type us_listen_socket } from '../uws.js'

export interface RotatingTlsListenerOptions {
  host: string
  /** 0 picks a free port (see freePort: the shared port needs SO_REUSEPORT, which uSockets sets only for a fixed port). */
  port: number
  certFile: string
  keyFile: string
  /** Register every route of the front end on an app; called once per certificate. */
  build: (app: TemplatedApp) => void
  logger: Logger
}

export interface RotatingTlsListener {
  readonly port: number
  /** Listen with the certificate and key now in the files; the old app keeps its open connections. Throws (and keeps the old) on failure. */
  rotate (): Promise<void>
  /** Rotations done (stats, tests). */
  readonly rotations: number
  /** Stop accepting (the open connections are closed by their front ends). */
  close (): void
}

async function listenOn (app: TemplatedApp, host: string, port: number): Promise<us_listen_socket> {
  return await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(host, port, (socket) => {
      if (socket === false) { reject(new FerryError(GatewayCode.LISTEN, `cannot listen on ${host}:${port}`)); return }
      resolve(socket)
    })
  })
}

/**
 * A free port for `port: 0`: taken by a throwaway plain app and given back at
 * once. uSockets does not set SO_REUSEPORT when asked for port 0, so the real
 * listener must name its port for a rotation to share it.
 */
async function freePort (host: string): Promise<number> {
  const probe = await listenOn(uws.App(), host, 0)
  const port = uws.us_socket_local_port(probe)
  uws.us_listen_socket_close(probe)
  return port
}

export async function listenRotatingTls (opts: RotatingTlsListenerOptions): Promise<RotatingTlsListener> {
  const port = opts.port === 0 ? await freePort(opts.host) : opts.port
  const make = (): TemplatedApp => {
    const app = uws.SSLApp({ cert_file_name: opts.certFile, key_file_name: opts.keyFile })
    opts.build(app)
    return app
  }
  let socket: us_listen_socket | undefined = await listenOn(make(), opts.host, port)
  let rotations = 0
  let closed = false
  // Rotations run one after the other (a file watch and SIGHUP may ask at once).
  let chain: Promise<void> = Promise.resolve()
  // Old apps are left to their open connections (uWS 20.30 has no way to destroy an app; each is a few KB).
  return {
    port,
    get rotations () { return rotations },
    async rotate () {
      const run = chain.then(swap, swap)
      chain = run.catch(() => undefined)
      await run
    },
    close () {
      closed = true
      if (socket !== undefined) uws.us_listen_socket_close(socket)
      socket = undefined
    }
  }

  async function swap (): Promise<void> {
    if (closed) return
    let next: us_listen_socket
    try {
      next = await listenOn(make(), opts.host, port)
    } catch (err) {
      opts.logger.error({ err, port }, 'HTTPS certificate rotation failed: the new listener did not start; keeping the current certificate')
      throw err
    }
    if (closed) { uws.us_listen_socket_close(next); return }
    const old = socket
    socket = next
    if (old !== undefined) uws.us_listen_socket_close(old)
    rotations++
    opts.logger.info({ port, rotations }, 'HTTPS listener serves the new certificate; open connections stay on the old one')
  }
}
