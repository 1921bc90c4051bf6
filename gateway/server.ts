/**
 * Assembles one site's gateway: ledger → policies → dispatcher → front ends
 * (MQTT over TCP/TLS and WebSocket, HTTP) → listeners. The order of start and
 * the reverse order of close are the only logic here.
 */
import { readFile } from 'node:fs/promises'
import type { Logger } from '../common/log.js'
import { silentLogger } from '../common/log.js'
import { createFileLedger, realDisk, type Disk, type Ledger, type LedgerOptions, type RecoveryReport } from '../store/index.js'
import { PolicyRegistry, type NamespacePolicyPatch } from './policy/index.js'
import { createDispatcher, type Dispatcher } from './dispatch/index.js'
import { createMqttFrontEnd, listenMqttTcp, mqttWebSocketBehavior, type MqttFrontEnd, type MqttListener, type MqttLimits } from './mqtt/index.js'
import { listenRotatingTls, registerHttpRoutes, type HttpApi, type HttpLimits, type RotatingTlsListener } from './http/index.js'
import { uws, type TemplatedApp, type us_listen_socket } from './uws.js'
import { FerryError } from '../common/errors.js'
import type { ReplicatedSubscriptions } from './dispatch/index.js' // replsubs hook
import { Ops, type AdminAuthorizer } from './ops/index.js'
import { GatewayCode } from './errors.js'
import { createSecurity, requireAdmin, type Security, type SecurityConfigFile, type ThrottleLimits } from './auth/index.js'
import { endpointsOf, schemeOfTransport, standaloneTopology, type TopologyProvider } from './topology-hook.js'

export interface TlsFiles { certFile: string, keyFile: string }

export interface GatewayConfig {
  siteId: string
  dataDir: string
  /** Dev mode: anonymous clients allowed (bound to `public/default`), plain listeners allowed. */
  dev: boolean
  /** Address to bind; dev mode defaults to 127.0.0.1. */
  host: string
  /** Plain MQTT over TCP (dev only); undefined = off, 0 = any free port. */
  mqttPort?: number
  /** MQTT over TLS TCP; needs tls. */
  mqttsPort?: number
  /** Plain HTTP + WebSocket (dev only). */
  httpPort?: number
  /** HTTPS + secure WebSocket; needs tls. */
  httpsPort?: number
  tls?: TlsFiles
  /** Namespaces and their policies from the config file; dev mode adds `public/default`. */
  namespaces?: Record<string, NamespacePolicyPatch>
  mqttLimits?: Partial<MqttLimits>
  /** Overrides of the HTTP front end's limits (gateway/http/constants.ts). */
  httpLimits?: Partial<HttpLimits>
  /**
   * Build the site's ledger (injection: tests, other storage); default the file
   * ledger in dataDir. Gets the policy lookup and the event sink; startGateway opens it.
   */
  createLedger?: (opts: { siteId: string, policyOf: LedgerOptions['policyOf'], onEvent: NonNullable<LedgerOptions['onEvent']> }) => Ledger
  /** The ledger's disk; defaults to the real one. Tests pass the store's simulated disk to inject faults (full disk). */
  disk?: Disk
  // Security (gateway/auth, pki helper).
  /** PKI directory (`ferry pki init`): required outside dev mode (tokens, client CA, revocation, at-rest keys). */
  pkiDir?: string
  /** CORS and quotas from the config file. */
  security?: Pick<SecurityConfigFile, 'cors' | 'quotas'>
  /** Tests: failure throttle limits and how often the PKI dir is polled. */
  authThrottle?: Partial<ThrottleLimits>
  pkiPollIntervalMs?: number
  logger?: Logger
  /** Check of the admin action for /v1/admin and the console (gateway/ops); default: dev mode allows, otherwise refused. */
  adminAuthorizer?: AdminAuthorizer
  /** Run the health detector (a probe through ferry/probe every few seconds). Default off; `ferry gateway` turns it on. */
  prober?: boolean | { intervalMs: number, timeoutMs: number }
}

/** What SIGHUP may change without a restart. */
export interface GatewayReload {
  namespaces?: Record<string, NamespacePolicyPatch>
  logLevel?: string
}

export interface GatewayPorts { mqtt?: number, mqtts?: number, http?: number, https?: number }

export interface Gateway {
  readonly ports: GatewayPorts
  readonly ledger: Ledger
  readonly dispatcher: Dispatcher
  /** Replicated subscriptions (replsubs hook): what the replicator's cursor sync lists, creates and acknowledges. */
  readonly replicatedSubscriptions: ReplicatedSubscriptions
  readonly policies: PolicyRegistry
  readonly recovery: RecoveryReport
  readonly security: Security
  /** Metrics, health, admin API (gateway/ops). */
  readonly ops: Ops
  /** Failover (gateway/topology-hook.ts): install what GET /v1/topology answers and MQTT steering asks (topology/site.ts does). */
  setTopology (provider: TopologyProvider): void
  /** Failover: send the connected MQTT clients the provider steers elsewhere to their Server Reference. Returns how many. */
  steerClients (): number
  /** Apply a changed configuration (SIGHUP): namespace policies and the log level. Certificates: security.refresh(). */
  reload (change: GatewayReload): Promise<void>
  close (): Promise<void>
}

const DEV_NAMESPACE = 'public/default'

export async function startGateway (config: GatewayConfig): Promise<Gateway> {
  const logger = config.logger ?? silentLogger
  if (!config.dev && (config.mqttPort !== undefined || config.httpPort !== undefined)) {
    throw new FerryError(GatewayCode.CONFIG, 'plain MQTT and HTTP listeners are for dev mode only; use --mqtts / --https')
  }
  if ((config.mqttsPort !== undefined || config.httpsPort !== undefined) && config.tls === undefined) {
    throw new FerryError(GatewayCode.CONFIG, 'TLS listeners need a certificate: --pki DIR (with --site NAME, from ferry pki site) or --cert and --key')
  }

  const seed: Record<string, NamespacePolicyPatch> = { ...(config.namespaces ?? {}) }
  if (config.dev && seed[DEV_NAMESPACE] === undefined) seed[DEV_NAMESPACE] = {}
  const policies = new PolicyRegistry(seed)
  const ops = new Ops({ siteId: config.siteId, dev: config.dev, logger: logger.child({ component: 'ops' }), authorize: config.adminAuthorizer ?? adminOfSecurity })
  // The admin API (gateway/ops) needs a network operator's admin grant (gateway/auth); dev mode lets everyone in.
  function adminOfSecurity (creds: { authorization: string | undefined, remoteAddress: string }): void {
    requireAdmin(security.http, { method: 'GET', headers: creds.authorization !== undefined ? [['authorization', creds.authorization]] : [], remoteAddress: creds.remoteAddress })
  }
  logger.info({ siteId: config.siteId, dev: config.dev, dataDir: config.dataDir }, 'starting: opening the ledger')

  const storeLogger = logger.child({ component: 'store' })
  const policyOf = (topic: string): ReturnType<PolicyRegistry['storePolicy']> => policies.storePolicy(topic)
  // The store reports events worth an operator's attention; damage is a warning, routine ones (checkpoint, recovered) info.
  const onEvent = (event: string, details: Record<string, unknown>): void => {
    if (/corrupt|fenc|fail|truncat|repair/i.test(event)) storeLogger.warn(details, event)
    else storeLogger.info(details, event)
  }
  const ledger = config.createLedger !== undefined
    ? config.createLedger({ siteId: config.siteId, policyOf, onEvent })
    : createFileLedger({
      dir: config.dataDir,
      siteId: config.siteId,
      policyOf,
      // Every fsync is timed for ferry_fsync_duration_seconds.
      disk: ops.instrumentDisk(config.disk ?? realDisk),
      // The instrumented disk is not `realDisk` by identity, so say it: lock the directory unless a test injected a simulated disk.
      lockDir: config.disk === undefined,
      onEvent
    })
  const recovery = await ledger.open()
  policies.attach(ledger)
  logger.info({ recovery }, `ledger open: ${recovery.topics} topics, ${recovery.recordsReplayed} records replayed in ${recovery.durationMs} ms` +
    (recovery.truncatedBytes > 0 || recovery.corruptRecords > 0 ? `, ${recovery.truncatedBytes} torn bytes cut, ${recovery.corruptRecords} corrupt records` : ''))

  // Front ends use the instrumented dispatcher: publish latency and counts, delivery lateness.
  const core = createDispatcher({ ledger, policies, siteId: config.siteId, logger: logger.child({ component: 'dispatch' }) })
  const dispatcher = ops.instrumentDispatcher(core)
  // Security (gateway/auth): credentials, ACLs, quotas, CORS, the at-rest codec; front ends use the guarded dispatcher.
  let security: Security
  try {
    security = await createSecurity({
      dev: config.dev, pkiDir: config.pkiDir, cors: config.security?.cors, quotas: config.security?.quotas, tls: config.tls,
      throttle: config.authThrottle, pollIntervalMs: config.pkiPollIntervalMs, ledger, policies, logger
    })
  } catch (err) {
    await dispatcher.close(); await ledger.close()
    throw err
  }
  const guarded = security.wrap(dispatcher)
  // Failover hook: standalone until topology/site.ts installs its provider (setTopology).
  const ports: GatewayPorts = {}
  let topology: TopologyProvider = standaloneTopology(config.siteId, () => endpointsOf(config.host, ports))
  const mqttLogger = logger.child({ component: 'mqtt' })
  const mqtt: MqttFrontEnd = await createMqttFrontEnd({
    // Refused credentials are counted and logged by ops; the check is gateway/auth's (dev: anonymous allowed).
    authenticate: ops.countAuthFailures(security.mqtt.authenticate ?? (async () => config.dev ? { namespace: DEV_NAMESPACE } : undefined)),
    ...(security.mqtt.authorizeSubscribe !== undefined ? { authorizeSubscribe: security.mqtt.authorizeSubscribe } : {}),
    metaSealer: security.mqtt.metaSealer, // retained copies and session records encrypted at rest per namespace policy
    dispatcher: guarded,
    ledger,
    policies,
    siteId: config.siteId,
    dev: config.dev,
    defaultNamespace: DEV_NAMESPACE,
    limits: config.mqttLimits,
    logger: mqttLogger,
    steer: (c) => topology.steer(c.namespace, schemeOfTransport(c.transport))
  })

  const tls = config.tls !== undefined
    ? { cert: await readFile(config.tls.certFile), key: await readFile(config.tls.keyFile), ...(security.clientCa !== undefined ? { ca: security.clientCa } : {}) }
    : undefined

  const mqttListeners: MqttListener[] = []
  const uwsApps: Array<{ app: TemplatedApp, socket: us_listen_socket }> = []
  const httpApis: HttpApi[] = []

  // The token routes issue and revoke in the PKI dir; a revocation applies here at once (other gateways: their poll of revoked.json, or etcd).
  const pki = config.pkiDir !== undefined ? { dir: config.pkiDir, revocationsChanged: async () => { await security.reloadRevocations() } } : undefined
  ops.attach({ ledger, dispatcher: guarded, policies, mqtt, httpStats: () => httpApis[0]?.stats(), ...(pki !== undefined ? { pki } : {}) })
  const deps = { dispatcher: guarded, ledger, policies, siteId: config.siteId, dev: config.dev, logger: logger.child({ component: 'http' }), limits: config.httpLimits, extraRoutes: ops.httpRoutes(), guard: security.http, topology: () => topology }
  const wsFront = { ws: ops.countConnections(mqtt, 'ws'), wss: ops.countConnections(mqtt, 'wss') }
  // Every route of the HTTP front end on one app; a certificate rotation builds the HTTPS app again (gateway/http/tls-listener.ts).
  function routesOn (app: TemplatedApp, secure: boolean): void {
    app.ws('/mqtt', mqttWebSocketBehavior(secure ? wsFront.wss : wsFront.ws, secure))
    app.ws('/v1/admin/live', ops.liveBehavior())
    httpApis.push(registerHttpRoutes(app, deps))
  }
  let https: RotatingTlsListener | undefined
  async function listenUws (app: TemplatedApp, port: number): Promise<number> {
    routesOn(app, false)
    return await new Promise<number>((resolve, reject) => {
      app.listen(config.host, port, (socket) => {
        if (socket === false) { reject(new FerryError(GatewayCode.LISTEN, `cannot listen on ${config.host}:${port}`)); return }
        uwsApps.push({ app, socket })
        resolve(uws.us_socket_local_port(socket))
      })
    })
  }

  try {
    if (config.mqttPort !== undefined) {
      const l = await listenMqttTcp(ops.countConnections(mqtt, 'mqtt'), { host: config.host, port: config.mqttPort })
      mqttListeners.push(l); ports.mqtt = l.port
    }
    if (config.mqttsPort !== undefined && tls !== undefined) {
      const l = await listenMqttTcp(ops.countConnections(mqtt, 'mqtts'), { host: config.host, port: config.mqttsPort, tls })
      mqttListeners.push(l); ports.mqtts = l.port
      security.onTlsChange((m) => { l.setTls?.(m) }) // certificate rotation without restart (setSecureContext)
    }
    if (config.httpPort !== undefined) ports.http = await listenUws(uws.App(), config.httpPort)
    if (config.httpsPort !== undefined && config.tls !== undefined) {
      // Certificate rotation without restart: a new SSLApp on the same port, the old one keeps its open connections.
      const l = await listenRotatingTls({ host: config.host, port: config.httpsPort, ...config.tls, build: (app) => { routesOn(app, true) }, logger: logger.child({ component: 'http' }) })
      https = l; ports.https = l.port
      security.onTlsChange(async () => { await l.rotate() })
    }
  } catch (err) {
    await closeAll()
    throw err
  }
  ops.ready()
  logger.info({ host: config.host, ports }, 'listeners up: ready')
  if (config.prober !== undefined && config.prober !== false) {
    // In the background: the site is ready without it; a failure is reported, not fatal.
    const p = config.prober === true ? undefined : config.prober
    ops.startProber(p?.intervalMs, p?.timeoutMs).catch((err: unknown) => { logger.warn({ err }, 'health detector did not start') })
  }

  let closed = false
  /**
   * Graceful close: readyz turns 503 and HTTP stops accepting; publishes in
   * flight get their acknowledgements (bounded wait); then MQTT connections
   * close (v5: 0x8B), sessions are written, pull consumers return their
   * messages, the dispatcher stops and the ledger checkpoints and closes.
   */
  async function closeAll (): Promise<void> {
    logger.info('shutdown: not ready any more, closing HTTP listeners')
    for (const { socket } of uwsApps) uws.us_listen_socket_close(socket)
    https?.close()
    const drained = await ops.drain()
    await security.close() // PKI watch; no certificate reload once the listeners are going
    logger.info({ drained, inFlight: ops.inFlight.count }, drained ? 'shutdown: in-flight publishes acknowledged' : 'shutdown: gave up waiting for in-flight publishes')
    await Promise.all(mqttListeners.map(async (l) => { await l.close() }))
    await mqtt.close()
    logger.info('shutdown: MQTT closed, sessions saved')
    for (const api of httpApis) await api.close()
    await dispatcher.close()
    logger.info('shutdown: dispatcher closed, flushing the ledger')
    await ledger.close()
    ops.closed()
    logger.info('shutdown: ledger closed')
  }

  return {
    ports,
    ledger,
    dispatcher,
    replicatedSubscriptions: core.replicated, // replsubs hook (replicator/cursor-sync.ts)
    policies,
    recovery,
    security,
    ops,
    setTopology (provider) { topology = provider },
    steerClients () { return mqtt.steerAway() },
    async reload (change) {
      if (change.logLevel !== undefined && change.logLevel !== logger.level) {
        logger.level = change.logLevel
        logger.info({ level: change.logLevel }, 'reload: log level changed')
      }
      for (const [ns, patch] of Object.entries(change.namespaces ?? {})) {
        try {
          await policies.put(ns, patch)
        } catch (err) {
          logger.warn({ err, namespace: ns }, 'reload: namespace policy refused')
          continue
        }
        logger.info({ namespace: ns }, 'reload: namespace policy applied')
      }
    },
    async close () {
      if (closed) return
      closed = true
      await closeAll()
    }
  }
}
