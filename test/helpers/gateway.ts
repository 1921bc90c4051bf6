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
import net from 'node:net'
import mqttPacket, { type Packet, type IConnectPacket } from 'mqtt-packet'
import mqtt, { type IClientOptions, type MqttClient, type IPublishPacket } from 'mqtt'
import { join } from 'node:path'
import { startGateway, type Gateway, type GatewayConfig } from '../../gateway/server.js'
import { ensureDevCertificates } from '../../pki/index.js'
import { tmpDir } from './tmp.js'
import { waitFor } from './wait.js'

/** What the helper needs from a tap test (kept minimal so any Test type fits). */
export interface Teardownable { teardown: (fn: () => unknown) => void }

export interface TestGatewayOptions {
  /** Dev mode (anonymous clients in `public/default`, plain listeners). Default true. */
  dev?: boolean
  siteId?: string
  namespaces?: GatewayConfig['namespaces']
  mqttLimits?: GatewayConfig['mqttLimits']
  httpLimits?: GatewayConfig['httpLimits']
  logger?: GatewayConfig['logger']
  /** Inject the store's simulated disk (fault tests). */
  disk?: GatewayConfig['disk']
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
    httpLimits: opts.httpLimits,
    logger: opts.logger,
    disk: opts.disk
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

// ---------------------------------------------------------------------------
// MQTT test clients


export type { MqttClient }

/**
 * Connect an `mqtt` npm client (no reconnects) and end it in teardown.
 * TLS URLs get the test CA. Resolves after CONNACK; rejects on a refused CONNECT.
 */
export async function connectMqtt (t: Teardownable, gw: TestGateway, url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, {
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ca: url.startsWith('mqtts:') || url.startsWith('wss:') ? gw.caPem : undefined,
    ...opts
  }, false)
  t.teardown(async () => { await client.endAsync(true).catch(() => undefined) })
  return client
}

export interface ReceivedMessage { topic: string, payload: Buffer, packet: IPublishPacket }

/** Collect every message a client receives, in order. */
export function collect (client: MqttClient): ReceivedMessage[] {
  const got: ReceivedMessage[] = []
  client.on('message', (topic, payload, packet) => { got.push({ topic, payload, packet }) })
  return got
}

// ---------------------------------------------------------------------------
// Raw MQTT over TCP: full control of the bytes (malformed input, ordering checks)

export interface RawMqtt {
  socket: net.Socket
  /** Parsed packets received, in order. */
  packets: Array<Packet & Record<string, unknown>>
  /** The same packets as raw bytes. */
  raw: Buffer[]
  readonly closed: boolean
  send: (packet: Packet) => void
  write: (bytes: Buffer) => void
  /** Wait for the next packet of a type (after `from` packets), return it. */
  next: (cmd: string, from?: number) => Promise<Packet & Record<string, unknown>>
  waitClosed: () => Promise<void>
}

export async function rawMqtt (t: Teardownable, port: number, protocolVersion: 3 | 4 | 5 = 4): Promise<RawMqtt> {
  const socket = net.connect({ host: HOST, port })
  t.teardown(() => { socket.destroy() })
  await new Promise<void>((resolve, reject) => { socket.once('connect', () => { resolve() }); socket.once('error', reject) })
  const parser = mqttPacket.parser({ protocolVersion })
  const packets: Array<Packet & Record<string, unknown>> = []
  const raw: Buffer[] = []
  let closed = false
  let buf = Buffer.alloc(0)
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d])
    // Split whole packets to keep their raw bytes too.
    for (;;) {
      if (buf.length < 2) break
      let len = 0; let mul = 1; let i = 1
      for (; i < buf.length && i < 5; i++) { const b = buf[i] as number; len += (b & 0x7f) * mul; mul *= 128; if ((b & 0x80) === 0) break }
      if (i >= buf.length) break
      const total = i + 1 + len
      if (buf.length < total) break
      const one = buf.subarray(0, total)
      raw.push(Buffer.from(one))
      parser.parse(one)
      buf = buf.subarray(total)
    }
  })
  parser.on('packet', (p) => { packets.push(p as Packet & Record<string, unknown>) })
  socket.on('error', () => undefined)
  const closedP = new Promise<void>((resolve) => { socket.once('close', () => { closed = true; resolve() }) })
  return {
    socket,
    packets,
    raw,
    get closed () { return closed },
    send (packet) { socket.write(mqttPacket.generate(packet, { protocolVersion })) },
    write (bytes) { socket.write(bytes) },
    async next (cmd, from = 0) {
      return await waitFor(() => packets.slice(from).find((p) => p.cmd === cmd), { what: `packet ${cmd}` })
    },
    async waitClosed () { await closedP }
  }
}

/** Raw connect: CONNECT + wait for CONNACK. */
export async function rawConnect (t: Teardownable, port: number, protocolVersion: 4 | 5, connect: Partial<IConnectPacket> = {}): Promise<RawMqtt> {
  const c = await rawMqtt(t, port, protocolVersion)
  c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion, clean: true, keepalive: 60, clientId: '', ...connect } as IConnectPacket)
  await c.next('connack')
  return c
}
