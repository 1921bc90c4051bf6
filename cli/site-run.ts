/** `ferry site`: run a gateway that is part of a network (gateway + topology in etcd + replicator over NATS). */
import { dirname } from 'node:path'
import { pino } from 'pino'
import { FerryError } from '../common/errors.js'
import { GatewayCode } from '../gateway/index.js'
import { startNetworkSite } from '../topology/index.js'
import { gatewayConfigOf, readyLine, type GatewayOptions } from './gateway-command.js'
import { DEFAULT_ETCD, DEFAULT_NETWORK } from './args.js'

export interface SiteOptions extends GatewayOptions {
  etcd?: string
  network?: string
  nats?: string
  natsCa?: string
  region?: string
  preference?: string
  /** Host name clients are steered to (endpoints in etcd); default the bind host, or hostname() for 0.0.0.0. */
  advertiseHost?: string
  /** Deflate replication batches above this many bytes (thin links); 0 or absent: never. */
  replCompressBytes?: number
  /** false (`--no-repl-plain`): every message travels decoded (REPL_SHIP_PLAIN_RECORDS 0), for older receivers. */
  replPlain?: boolean
}

/** How often a `ferry dev` site checks that ferry dev still runs. */
const DEV_PARENT_CHECK_MS = 1_000

/**
 * `ferry site`: a gateway that is part of a network. Prints the gateway's
 * ready line, then `ferry replicating site=ID` once every link has had an
 * answer from its remote site.
 */
export async function runSite (opts: SiteOptions): Promise<void> {
  const logger = pino({ name: 'ferry', level: opts.logLevel ?? process.env.FERRY_LOG_LEVEL ?? 'info' }, pino.destination(2))
  if (opts.nats === undefined) throw new FerryError(GatewayCode.CONFIG, '--nats URL is required')
  const gateway = await gatewayConfigOf(opts)
  gateway.logger = logger
  // ops2 hook: the health detector runs on network sites too (and measures replication through ferry/probe).
  gateway.prober = opts.probe !== false
  const site = await startNetworkSite({
    gateway,
    network: opts.network ?? process.env.FERRY_NETWORK ?? DEFAULT_NETWORK,
    etcd: (opts.etcd ?? process.env.FERRY_ETCD ?? DEFAULT_ETCD).split(','),
    nats: opts.nats,
    // Mutual TLS to the region server with the site's own certificate (--cert/--key) and the CA.
    ...(opts.natsCa !== undefined && gateway.tls !== undefined ? { natsTls: { caFile: opts.natsCa, certFile: gateway.tls.certFile, keyFile: gateway.tls.keyFile } } : {}),
    ...(opts.region !== undefined ? { region: opts.region } : {}),
    ...(opts.preference !== undefined ? { preference: Number(opts.preference) } : {}),
    ...(opts.advertiseHost !== undefined ? { advertiseHost: opts.advertiseHost } : {}),
    replicationLimits: {
      ...(opts.replCompressBytes !== undefined ? { REPL_COMPRESS_BATCH_BYTES_MIN: opts.replCompressBytes } : {}),
      ...(opts.replPlain === false ? { REPL_SHIP_PLAIN_RECORDS: 0 } : {})
    },
    logger
  })
  process.stdout.write(readyLine(gateway.siteId, site.gateway, dirname(gateway.dataDir)) + '\n')
  const replicating = setInterval(() => {
    const links = site.replicator.stats().links
    if (links.length > 0 && links.every((l) => l.connected)) {
      clearInterval(replicating)
      process.stdout.write(`ferry replicating site=${gateway.siteId} links=${links.map((l) => l.site).join(',')}\n`)
    }
  }, 100)
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) process.exit(1)
    stopping = true
    clearInterval(replicating)
    logger.info({ signal }, 'closing')
    site.close().then(() => { process.stdout.write('ferry stopped\n'); process.exit(0) }, (err: unknown) => { logger.error({ err }, 'close failed'); process.exit(1) })
  }
  process.on('SIGINT', () => { stop('SIGINT') })
  process.on('SIGTERM', () => { stop('SIGTERM') })
  // A site of `ferry dev` closes when ferry dev is gone (kill -9, crash): it was reparented, so ppid changed.
  const devParent = Number(process.env.FERRY_DEV_PARENT_PID ?? NaN)
  if (Number.isInteger(devParent)) {
    const watch = setInterval(() => {
      if (process.ppid === devParent) return
      clearInterval(watch)
      if (!stopping) stop('ferry dev exited')
    }, DEV_PARENT_CHECK_MS)
    watch.unref()
  }
  // Security (issue 9): SIGHUP re-reads the PKI dir and the site certificate (TLS listeners rotate live) instead of
  // killing the process; policies come from etcd here, so there is no config to re-read.
  process.on('SIGHUP', () => {
    if (stopping) return
    site.gateway.security.refresh().then(() => { logger.info('SIGHUP: PKI dir and site certificate reloaded') }, (err: unknown) => { logger.error({ err }, 'SIGHUP: PKI reload failed') })
  })
}
