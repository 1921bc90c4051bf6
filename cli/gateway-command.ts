/**
 * `ferry gateway`: run one site. Dev mode (`--dev`) allows anonymous clients
 * and plain listeners and creates throwaway certificates in DATA/certs for the
 * TLS listeners. Prints one `ferry ready ...` line on stdout when every
 * listener is up; logs go to stderr. SIGINT/SIGTERM close in order (listeners,
 * front ends, dispatcher, ledger checkpoint) and exit 0.
 */
import { dirname, join, resolve } from 'node:path'
import { pino } from 'pino'
import { FerryError } from '../common/errors.js'
import { startGateway, loadSiteConfig, checkSiteId, installProcessFaultPolicy, GatewayCode, type GatewayConfig, type Gateway, type SiteConfigFile } from '../gateway/index.js'
import { ensureDevCertificates } from '../pki/index.js'

export interface GatewayOptions {
  dev?: boolean
  data?: string
  site?: string
  host?: string
  mqtt?: number
  mqtts?: number
  http?: number
  https?: number
  cert?: string
  key?: string
  config?: string
  logLevel?: string
}

const DEV_SITE_ID = 'dev'
const DEV_HOST = '127.0.0.1'

/** Flags over config file over defaults. */
export async function gatewayConfigOf (opts: GatewayOptions): Promise<GatewayConfig> {
  const file: SiteConfigFile = opts.config !== undefined ? await loadSiteConfig(opts.config) : {}
  const dev = opts.dev === true || file.dev === true
  const dataDir = opts.data !== undefined ? resolve(opts.data) : file.dataDir
  if (dataDir === undefined) throw new FerryError(GatewayCode.CONFIG, '--data DIR (or dataDir in the config file) is required')
  const siteId = checkSiteId(opts.site ?? file.siteId ?? (dev ? DEV_SITE_ID : undefined), '--site')
  const listeners = file.listeners ?? {}
  const config: GatewayConfig = {
    siteId,
    dataDir: join(dataDir, 'ledger'),
    dev,
    host: opts.host ?? file.host ?? DEV_HOST,
    mqttPort: opts.mqtt ?? listeners.mqtt,
    mqttsPort: opts.mqtts ?? listeners.mqtts,
    httpPort: opts.http ?? listeners.http,
    httpsPort: opts.https ?? listeners.https,
    namespaces: file.namespaces,
    mqttLimits: file.mqttLimits,
    httpLimits: file.httpLimits
  }
  if ((opts.cert === undefined) !== (opts.key === undefined)) throw new FerryError(GatewayCode.CONFIG, '--cert and --key go together')
  if (opts.cert !== undefined && opts.key !== undefined) {
    config.tls = { certFile: resolve(opts.cert), keyFile: resolve(opts.key) }
  } else if (file.tls !== undefined) {
    config.tls = file.tls
  }
  const wantsTls = config.mqttsPort !== undefined || config.httpsPort !== undefined
  if (wantsTls && config.tls === undefined && dev) {
    const certs = await ensureDevCertificates(join(dataDir, 'certs'))
    config.tls = { certFile: certs.certFile, keyFile: certs.keyFile }
  }
  if (config.mqttPort === undefined && config.mqttsPort === undefined && config.httpPort === undefined && config.httpsPort === undefined) {
    throw new FerryError(GatewayCode.CONFIG, 'no listener: give at least one of --mqtt, --mqtts, --http, --https')
  }
  return config
}

export function readyLine (siteId: string, g: Pick<Gateway, 'ports'>, dataDir: string): string {
  const parts = [`ferry ready site=${siteId}`]
  for (const k of ['mqtt', 'mqtts', 'http', 'https'] as const) {
    const p = g.ports[k]
    if (p !== undefined) parts.push(`${k}=${p}`)
  }
  parts.push(`data=${dataDir}`)
  return parts.join(' ')
}

export async function runGateway (opts: GatewayOptions): Promise<void> {
  const logger = pino({ name: 'ferry', level: opts.logLevel ?? process.env.FERRY_LOG_LEVEL ?? 'info' }, pino.destination(2))
  // Log, count and keep serving; exit non-zero only when a store invariant fails.
  installProcessFaultPolicy(logger)
  const config = await gatewayConfigOf(opts)
  config.logger = logger
  const gateway = await startGateway(config)
  process.stdout.write(readyLine(config.siteId, gateway, dirname(config.dataDir)) + '\n')

  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) {
      // A second signal means "now": skip the graceful close.
      logger.warn({ signal }, 'second signal, exiting at once')
      process.exit(1)
    }
    stopping = true
    logger.info({ signal }, 'closing')
    gateway.close().then(
      () => { process.stdout.write('ferry stopped\n'); process.exit(0) },
      (err: unknown) => { logger.error({ err }, 'close failed'); process.exit(1) }
    )
  }
  process.on('SIGINT', () => { stop('SIGINT') })
  process.on('SIGTERM', () => { stop('SIGTERM') })
}
