/**
 * Start a real Ferry gateway for a test: `startGateway` (gateway/server.ts)
 * on a fresh temporary data dir, with throwaway dev certificates and all four
 * listeners (mqtt, mqtts, http, https) on port 0 of 127.0.0.1. Everything is
 * closed and removed in the test's teardown, whatever happens.
 *
 *   const gw = await startTestGateway(t)
 *   const client = await mqtt.connectAsync(gw.urls.mqtt)
 *   await gw.restart()   // same data dir, new ports: persistence tests
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startGateway, type Gateway, type GatewayConfig } from '../../gateway/server.js'
import { ensureDevCertificates } from '../../pki/index.js'
import { tmpDir } from './tmp.js'

/** What the helper needs from a tap test (kept minimal so any Test type fits). */
export interface Teardownable { teardown: (fn: () => unknown) => void }

export interface TestGatewayOptions {
  /** Dev mode (anonymous clients in `public/default`, plain listeners). Default true. */
  dev?: boolean
  siteId?: string
  namespaces?: GatewayConfig['namespaces']
  mqttLimits?: GatewayConfig['mqttLimits']
  logger?: GatewayConfig['logger']
  /** Reuse a data dir (it is then not removed by this helper). */
  dataDir?: string
}

export interface TestGatewayPorts { mqtt: number, mqtts: number, http: number, https: number }

export interface TestGatewayUrls {
  mqtt: string
  mqtts: string
  ws: string
  wss: string
  http: string
  https: string
}

export interface TestGateway {
  /** The running gateway (replaced by restart()). */
  readonly gateway: Gateway
  readonly ports: TestGatewayPorts
  readonly urls: TestGatewayUrls
  readonly dataDir: string
  /** PEM of the throwaway CA: pass as `ca` to TLS clients. */
  readonly caPem: string
  readonly caFile: string
  /** Close the gateway and start it again on the same data dir (ports change). */
  restart: () => Promise<void>
  /** Close now (teardown also closes; calling twice is fine). */
  close: () => Promise<void>
}

const HOST = '127.0.0.1'

function urlsOf (p: TestGatewayPorts): TestGatewayUrls {
  return {
    mqtt: `mqtt://${HOST}:${p.mqtt}`,
    mqtts: `mqtts://${HOST}:${p.mqtts}`,
    ws: `ws://${HOST}:${p.http}/mqtt`,
    wss: `wss://${HOST}:${p.https}/mqtt`,
    http: `http://${HOST}:${p.http}`,
    https: `https://${HOST}:${p.https}`
  }
}

export async function startTestGateway (t: Teardownable, opts: TestGatewayOptions = {}): Promise<TestGateway> {
  const tmp = opts.dataDir === undefined ? await tmpDir('ferry-gw-') : undefined
  const dataDir = opts.dataDir ?? (tmp as { dir: string }).dir
  const certs = await ensureDevCertificates(join(dataDir, 'certs'))
  const caPem = await readFile(certs.caFile, 'utf8')

  const config: GatewayConfig = {
    siteId: opts.siteId ?? 'test',
    dataDir: join(dataDir, 'ledger'),
    dev: opts.dev ?? true,
    host: HOST,
    mqttsPort: 0,
    httpsPort: 0,
    tls: { certFile: certs.certFile, keyFile: certs.keyFile },
    namespaces: opts.namespaces,
    mqttLimits: opts.mqttLimits,
    logger: opts.logger
  }
  // Plain listeners are refused outside dev mode by startGateway.
  if (config.dev) { config.mqttPort = 0; config.httpPort = 0 }

  let gateway: Gateway | undefined
  let ports: TestGatewayPorts = { mqtt: 0, mqtts: 0, http: 0, https: 0 }
  async function open (): Promise<void> {
    gateway = await startGateway(config)
    const p = gateway.ports
    ports = { mqtt: p.mqtt ?? 0, mqtts: p.mqtts ?? 0, http: p.http ?? 0, https: p.https ?? 0 }
  }
  async function close (): Promise<void> {
    const g = gateway
    gateway = undefined
    if (g !== undefined) await g.close()
  }

  await open()
  t.teardown(async () => {
    await close()
    if (tmp !== undefined) await tmp.cleanup()
  })

  return {
    get gateway () {
      if (gateway === undefined) throw new Error('test gateway is closed')
      return gateway
    },
    get ports () { return ports },
    get urls () { return urlsOf(ports) },
    dataDir,
    caPem,
    caFile: certs.caFile,
    async restart () { await close(); await open() },
    close
  }
}
