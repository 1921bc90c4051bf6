/**
 * `ferry gateway`: run one site. Dev mode (`--dev`) allows anonymous clients
 * and plain listeners and creates throwaway certificates in DATA/certs for the
 * TLS listeners. Prints one `ferry ready ...` line on stdout when every
 * listener is up; logs go to stderr. SIGINT/SIGTERM close in order (listeners,
 * front ends, dispatcher, ledger checkpoint) and exit 0.
 */
import { dirname, join, resolve } from 'node:path'
import { createLogger } from '../common/log.js'
import { FerryError } from '../common/errors.js'
import { startGateway, loadSiteConfig, checkSiteId, installProcessFaultPolicy, GatewayCode, type GatewayConfig, type Gateway, type SiteConfigFile } from '../gateway/index.js'
import { ensureDevCertificates, siteCertFiles, pkiLayout } from '../pki/index.js'

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
  /** PKI directory (`ferry pki init`); production mode takes the site certificate DIR/sites/SITE.pem from it. */
  pki?: string
  /** commander's --no-probe: false turns the health detector off. */
  probe?: boolean
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
    httpLimits: file.httpLimits,
    // Security (gateway/auth): PKI dir, CORS, quotas.
    pkiDir: opts.pki !== undefined ? resolve(opts.pki) : file.security?.pki,
    security: file.security
  }
  if ((opts.cert === undefined) !== (opts.key === undefined)) throw new FerryError(GatewayCode.CONFIG, '--cert and --key go together')
  if (opts.cert !== undefined && opts.key !== undefined) {
    config.tls = { certFile: resolve(opts.cert), keyFile: resolve(opts.key) }
  } else if (file.tls !== undefined) {
    config.tls = file.tls
  } else if (config.pkiDir !== undefined && !dev) {
    config.tls = siteCertFiles(pkiLayout(config.pkiDir), siteId) // `ferry pki site NAME` wrote them
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
  const logger = createLogger(opts.logLevel !== undefined ? { level: opts.logLevel } : {})
  // Log, count and keep serving; exit non-zero only when a store invariant fails.
  installProcessFaultPolicy(logger)
  const config = await gatewayConfigOf(opts)
  config.logger = logger
  // The health detector runs unless --no-probe (tests and embedders start it themselves).
  config.prober = opts.probe !== false
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
  // SIGHUP: re-read the config file and apply what can change live (namespace policies, log level), then the PKI dir
  // (revocations, at-rest keys) and the site certificate, which every TLS listener takes without dropping connections.
  // The PKI files are watched anyway; SIGHUP makes it happen now.
  process.on('SIGHUP', () => {
    if (stopping) return
    logger.info('SIGHUP: reloading configuration and certificates')
    const reread = opts.config !== undefined ? loadSiteConfig(opts.config) : Promise.resolve({} as SiteConfigFile)
    reread.then(async (file) => {
      await gateway.reload({ ...(file.namespaces !== undefined ? { namespaces: file.namespaces } : {}), ...(opts.logLevel !== undefined ? { logLevel: opts.logLevel } : {}) })
      logger.info('SIGHUP: configuration reloaded (listeners, CORS and quotas need a restart)')
    }).catch((err: unknown) => { logger.error({ err }, 'SIGHUP: config reload failed; the running configuration is unchanged') })
      .then(async () => { await gateway.security.refresh() })
      .then(() => { logger.info('SIGHUP: PKI dir and site certificate reloaded') }, (err: unknown) => { logger.error({ err }, 'SIGHUP: PKI reload failed') })
  })
  process.on('SIGINT', () => { stop('SIGINT') })
  process.on('SIGTERM', () => { stop('SIGTERM') })
}
