/**
 * Assembles one site's gateway: ledger → policies → dispatcher → front ends
 * (MQTT over TCP/TLS and WebSocket, HTTP) → listeners. The order of start and
 * the reverse order of close are the only logic here.
 */
import { readFile } from 'node:fs/promises'
import type { Logger } from '../common/log.js'
import { silentLogger } from '../common/log.js'
import { createFileLedger, type Disk, type Ledger, type LedgerOptions, type RecoveryReport } from '../store/index.js'
import { PolicyRegistry, type NamespacePolicyPatch } from './policy/index.js'
import { createDispatcher, type Dispatcher } from './dispatch/index.js'
import { createMqttFrontEnd, listenMqttTcp, mqttWebSocketBehavior, type MqttFrontEnd, type MqttListener, type MqttLimits } from './mqtt/index.js'
import { registerHttpRoutes, type HttpApi, type HttpLimits } from './http/index.js'
import { uws, type TemplatedApp, type us_listen_socket } from './uws.js'
import { FerryError } from '../common/errors.js'
import { GatewayCode } from './errors.js'

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
  logger?: Logger
}

export interface GatewayPorts { mqtt?: number, mqtts?: number, http?: number, https?: number }

export interface Gateway {
  readonly ports: GatewayPorts
  readonly ledger: Ledger
  readonly dispatcher: Dispatcher
  readonly policies: PolicyRegistry
  readonly recovery: RecoveryReport
  close (): Promise<void>
}

const DEV_NAMESPACE = 'public/default'

export async function startGateway (config: GatewayConfig): Promise<Gateway> {
  const logger = config.logger ?? silentLogger
  if (!config.dev && (config.mqttPort !== undefined || config.httpPort !== undefined)) {
    throw new FerryError(GatewayCode.CONFIG, 'plain MQTT and HTTP listeners are for dev mode only; use --mqtts / --https')
  }
  if ((config.mqttsPort !== undefined || config.httpsPort !== undefined) && config.tls === undefined) {
    throw new FerryError(GatewayCode.CONFIG, 'TLS listeners need --cert and --key')
  }

  const seed: Record<string, NamespacePolicyPatch> = { ...(config.namespaces ?? {}) }
  if (config.dev && seed[DEV_NAMESPACE] === undefined) seed[DEV_NAMESPACE] = {}
  const policies = new PolicyRegistry(seed)

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
      ...(config.disk !== undefined ? { disk: config.disk } : {}),
      onEvent
    })
  const recovery = await ledger.open()
  policies.attach(ledger)
  logger.info({ recovery }, 'ledger open')

  const dispatcher = createDispatcher({ ledger, policies, siteId: config.siteId, logger: logger.child({ component: 'dispatch' }) })
  const mqtt: MqttFrontEnd = await createMqttFrontEnd({
    dispatcher,
    ledger,
    policies,
    siteId: config.siteId,
    dev: config.dev,
    defaultNamespace: DEV_NAMESPACE,
    limits: config.mqttLimits,
    logger: logger.child({ component: 'mqtt' })
  })

  const tls = config.tls !== undefined
    ? { cert: await readFile(config.tls.certFile), key: await readFile(config.tls.keyFile) }
    : undefined

  const ports: GatewayPorts = {}
  const mqttListeners: MqttListener[] = []
  const uwsApps: Array<{ app: TemplatedApp, socket: us_listen_socket }> = []
  const httpApis: HttpApi[] = []

  const deps = { dispatcher, ledger, policies, siteId: config.siteId, dev: config.dev, logger: logger.child({ component: 'http' }), limits: config.httpLimits }
  async function listenUws (app: TemplatedApp, port: number): Promise<number> {
    app.ws('/mqtt', mqttWebSocketBehavior(mqtt))
    httpApis.push(registerHttpRoutes(app, deps))
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
      const l = await listenMqttTcp(mqtt, { host: config.host, port: config.mqttPort })
      mqttListeners.push(l); ports.mqtt = l.port
    }
    if (config.mqttsPort !== undefined && tls !== undefined) {
      const l = await listenMqttTcp(mqtt, { host: config.host, port: config.mqttsPort, tls })
      mqttListeners.push(l); ports.mqtts = l.port
    }
    if (config.httpPort !== undefined) ports.http = await listenUws(uws.App(), config.httpPort)
    if (config.httpsPort !== undefined && config.tls !== undefined) {
      ports.https = await listenUws(uws.SSLApp({ cert_file_name: config.tls.certFile, key_file_name: config.tls.keyFile }), config.httpsPort)
    }
  } catch (err) {
    await closeAll()
    throw err
  }

  let closed = false
  async function closeAll (): Promise<void> {
    for (const { socket } of uwsApps) uws.us_listen_socket_close(socket)
    await Promise.all(mqttListeners.map(async (l) => { await l.close() }))
    await mqtt.close()
    for (const api of httpApis) await api.close()
    await dispatcher.close()
    await ledger.close()
  }

  return {
    ports,
    ledger,
    dispatcher,
    policies,
    recovery,
    async close () {
      if (closed) return
      closed = true
      await closeAll()
    }
  }
}
