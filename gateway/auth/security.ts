/**
 * One site's security, assembled: the authenticator (tokens, client
 * certificates, revocation watch), quotas, CORS, the at-rest codec and the
 * hooks each front end takes. Dev mode keeps today's behaviour: anonymous
 * clients in `public/default`, any CORS origin; quotas and the codec still
 * apply when configured.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { FerryError } from '../../common/errors.js'
import type { Logger } from '../../common/log.js'
import { loadAtRestKeys, loadCaCert, PKI_POLL_INTERVAL_MS, pkiLayout, type AtRestKeys } from '../../pki/index.js'
import type { Ledger } from '../../store/index.js'
import type { Dispatcher } from '../dispatch/types.js'
import type { Authenticate, AuthorizeSubscribe } from '../mqtt/index.js'
import type { PolicyRegistry } from '../policy/index.js'
import { AtRestMetaSealer, PayloadCodec, type KeySource, type MetaSealer } from '../codec/index.js'
import { DEFAULT_NAMESPACE_POLICY } from '../policy/index.js'
import { Authenticator, type AuthStats } from './authenticator.js'
import { Cors, type CorsConfig } from './cors.js'
import { GuardedDispatcher } from './guarded-dispatcher.js'
import { createHttpGuard, type HttpGuard } from './http-guard.js'
import { mqttAuthenticate, mqttAuthorizeSubscribe } from './mqtt-auth.js'
import { FileWatcher } from './pki-watch.js'
import { QuotaTracker, type QuotaConfig } from './quotas.js'
import type { ThrottleLimits } from './throttle.js'
import { TLS_RELOAD_DEBOUNCE_MS } from './constants.js'

export interface SecurityOptions {
  dev: boolean
  /** PKI directory (`ferry pki init`): required outside dev mode; in dev mode it supplies at-rest keys. */
  pkiDir?: string
  cors?: CorsConfig
  quotas?: QuotaConfig
  /** The site's TLS files, watched for rotation. */
  tls?: { certFile: string, keyFile: string }
  ledger: Ledger
  policies: PolicyRegistry
  logger: Logger
  throttle?: Partial<ThrottleLimits>
  pollIntervalMs?: number
}

export interface TlsMaterial { cert: Buffer, key: Buffer, ca?: Buffer }

export interface SecurityStats { auth?: AuthStats, quotas?: ReturnType<QuotaTracker['stats']>, codec: PayloadCodec['counters'], metaCodec: AtRestMetaSealer['counters'] }

export interface Security {
  readonly dev: boolean
  /** Hooks for createMqttFrontEnd (undefined in dev mode: the front end's anonymous default). */
  readonly mqtt: { authenticate?: Authenticate, authorizeSubscribe?: AuthorizeSubscribe, metaSealer: MetaSealer }
  /** Guard for the HTTP front end (CORS in every mode; credentials outside dev mode). */
  readonly http: HttpGuard
  /** CA of the network for mutual TLS on the MQTT/TLS listener (undefined without a PKI dir). */
  readonly clientCa: Buffer | undefined
  /** The dispatcher the front ends should use: quotas and the at-rest codec in front of the real one. */
  wrap (dispatcher: Dispatcher): Dispatcher
  /** Called with new TLS material when the site's certificate or key file changes (debounced) and on refresh(). */
  onTlsChange (listener: (tls: TlsMaterial) => void | Promise<void>): void
  /**
   * Revocations from another source than the PKI dir (topology/revocations.ts: etcd), replacing that source's
   * previous list; token ids or certificate serials. Applied at once (new connections refused, open ones closed).
   * A no-op in dev mode (no credentials to revoke).
   */
  applyRevocations (source: string, ids: readonly string[]): void
  /**
   * Re-read the PKI dir's revocation list now (the admin API revoked a token in it): new connections with a
   * revoked credential are refused and open ones closed at once, not at the next poll. Certificates are not touched.
   */
  reloadRevocations (): Promise<void>
  /** Re-read the PKI dir now (SIGHUP): revocations, at-rest keys, and the site certificate (always reloaded). */
  refresh (): Promise<void>
  stats (): SecurityStats
  close (): Promise<void>
}

export async function createSecurity (opts: SecurityOptions): Promise<Security> {
  const logger = opts.logger.child({ component: 'auth' })
  if (!opts.dev && opts.pkiDir === undefined) throw new FerryError('E_CONFIG', 'production mode needs --pki DIR (a directory made by `ferry pki init`), or use --dev')
  let clientCa: Buffer | undefined
  let authenticator: Authenticator | undefined
  let keys: AtRestKeys | undefined
  const watched: Array<{ file: string, onChange: () => Promise<void> }> = []
  if (opts.pkiDir !== undefined) {
    const ca = await loadCaCert(opts.pkiDir)
    clientCa = Buffer.from(ca.certPem)
    const l = pkiLayout(opts.pkiDir)
    keys = await loadAtRestKeys(l)
    watched.push({ file: l.atRestKeys, onChange: async () => { keys = await loadAtRestKeys(l); logger.info({ current: keys?.current }, 'at-rest keys reloaded') } })
    if (!opts.dev) authenticator = await Authenticator.open({ pkiDir: opts.pkiDir, logger, ...(opts.throttle !== undefined ? { throttle: opts.throttle } : {}), ...(opts.pollIntervalMs !== undefined ? { pollIntervalMs: opts.pollIntervalMs } : {}) })
  }
  const tlsListeners: Array<(tls: TlsMaterial) => void | Promise<void>> = []
  let reloadTls: (() => Promise<void>) | undefined
  let debounce: NodeJS.Timeout | undefined
  if (opts.tls !== undefined) {
    const tls = opts.tls
    const reload = async (): Promise<void> => {
      const material: TlsMaterial = { cert: await readFile(tls.certFile), key: await readFile(tls.keyFile), ...(clientCa !== undefined ? { ca: clientCa } : {}) }
      // Mid-replacement (new certificate, old key): wait for the other file to change too.
      if (!new X509Certificate(material.cert).checkPrivateKey(createPrivateKey(material.key))) {
        logger.warn({ certFile: tls.certFile }, 'site certificate and key do not match (yet); keeping the current ones')
        return
      }
      for (const l of tlsListeners) {
        // One listener failing (HTTPS could not listen again) leaves the others rotated and itself on the old certificate.
        try { await l(material) } catch (err) { logger.error({ err }, 'a listener did not take the new site certificate') }
      }
      logger.info({ certFile: tls.certFile, serial: new X509Certificate(material.cert).serialNumber }, 'site certificate reloaded')
    }
    reloadTls = reload
    // Debounced: an operator (or cert-manager) replaces the key and the certificate one after the other; reload once
    // both have been still for TLS_RELOAD_DEBOUNCE_MS, reading both.
    const onChange = async (): Promise<void> => {
      if (debounce !== undefined) clearTimeout(debounce)
      debounce = setTimeout(() => {
        debounce = undefined
        reload().catch((err: unknown) => { logger.error({ err, certFile: tls.certFile }, 'reloading the site certificate failed; keeping the current one') })
      }, TLS_RELOAD_DEBOUNCE_MS)
      debounce.unref()
    }
    watched.push({ file: tls.certFile, onChange }, { file: tls.keyFile, onChange })
  }
  const watcher = new FileWatcher(watched, opts.pollIntervalMs ?? PKI_POLL_INTERVAL_MS, logger)
  await watcher.start()

  const keySource: KeySource = {
    current: () => keys === undefined ? undefined : { id: keys.current, key: keys.keys.get(keys.current) as Buffer },
    byId: (id) => keys?.keys.get(id)
  }
  const codec = new PayloadCodec(keySource)
  const metaSealer = new AtRestMetaSealer(keySource, (ns) => opts.policies.has(ns) ? opts.policies.get(ns) : DEFAULT_NAMESPACE_POLICY)
  const quotas = opts.quotas !== undefined ? new QuotaTracker(opts.quotas, opts.ledger) : undefined
  const cors = new Cors(opts.cors, opts.dev)
  const http = createHttpGuard({ dev: opts.dev, authenticator, cors })
  const mqtt = authenticator !== undefined
    ? { authenticate: mqttAuthenticate({ authenticator, quotas, logger }), authorizeSubscribe: mqttAuthorizeSubscribe, metaSealer }
    : { metaSealer }

  return {
    dev: opts.dev,
    mqtt,
    http,
    clientCa,
    wrap: (d) => new GuardedDispatcher(d, opts.policies, quotas, codec, logger),
    onTlsChange: (l) => { tlsListeners.push(l) },
    applyRevocations: (source, ids) => { authenticator?.setRevocations(source, ids) },
    async reloadRevocations () { await authenticator?.reloadRevoked() },
    async refresh () {
      await watcher.poll()
      await authenticator?.refresh()
      // SIGHUP reloads the certificate now, changed or not (the watch may not have seen it yet).
      if (debounce !== undefined) { clearTimeout(debounce); debounce = undefined }
      await reloadTls?.()
    },
    stats: () => ({
      ...(authenticator !== undefined ? { auth: authenticator.stats() } : {}),
      ...(quotas !== undefined ? { quotas: quotas.stats() } : {}),
      codec: { ...codec.counters },
      metaCodec: { ...metaSealer.counters }
    }),
    async close () {
      if (debounce !== undefined) clearTimeout(debounce)
      await watcher.close()
      await authenticator?.close()
    }
  }
}
