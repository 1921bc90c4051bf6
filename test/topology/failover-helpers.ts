/**
 * Helpers of the failover tests: a TCP proxy in front of etcd that a test can
 * cut (one site loses etcd while the others keep it), a network site with
 * its own etcd address and preference, and a stock `mqtt` client that
 * follows MQTT 5 steering (reason 0x9C Use Another Server, Server Reference).
 */
import net from 'node:net'
import { join } from 'node:path'
import mqtt, { type IClientOptions, type MqttClient, type Packet } from 'mqtt'
import { startNetworkSite, type NetworkSite, type NetworkSiteConfig } from '../../topology/index.js'
import { TEST_LINK_LIMITS } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'
import type { Teardownable } from '../helpers/gateway.js'

export interface CutProxy {
  url: string
  /** Drop every connection and refuse new ones. */
  cut: () => void
  restore: () => void
}

/** A loopback TCP proxy to `target` (host:port URL); closed in teardown. */
export async function startCutProxy (t: Teardownable, targetUrl: string): Promise<CutProxy> {
  const target = new URL(targetUrl)
  const sockets = new Set<net.Socket>()
  let down = false
  const server = net.createServer((client) => {
    if (down) { client.destroy(); return }
    const upstream = net.connect(Number(target.port), target.hostname)
    sockets.add(client); sockets.add(upstream)
    const drop = (): void => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream) }
    client.on('error', drop); upstream.on('error', drop); client.on('close', drop); upstream.on('close', drop)
    client.pipe(upstream); upstream.pipe(client)
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  const port = (server.address() as net.AddressInfo).port
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  })
  return {
    url: `http://127.0.0.1:${port}`,
    cut: () => { down = true; for (const s of sockets) s.destroy(); sockets.clear() },
    restore: () => { down = false }
  }
}

export interface FailoverSiteOptions {
  preference?: number
  /** Extra site config (catch-up timeout and the like). */
  extra?: Partial<NetworkSiteConfig>
}

/** A network site in this process on a fresh data dir (closed in teardown; close() earlier is fine). */
export async function startFailoverSite (t: Teardownable, id: string, natsUrl: string, etcdUrl: string, network: string, opts: FailoverSiteOptions = {}): Promise<NetworkSite> {
  const tmp = await tmpDir(`ferry-fo-${id}-`)
  const site = await startNetworkSite({
    gateway: { siteId: id, dataDir: join(tmp.dir, 'ledger'), dev: true, host: '127.0.0.1', mqttPort: 0, httpPort: 0 },
    network,
    etcd: etcdUrl,
    nats: natsUrl,
    replicationLimits: TEST_LINK_LIMITS,
    ...(opts.preference !== undefined ? { preference: opts.preference } : {}),
    ...(opts.extra ?? {})
  })
  t.teardown(async () => { await site.close(); await tmp.cleanup() })
  return site
}

/**
 * How a user's client follows steering with the stock `mqtt` package: a
 * CONNACK or DISCONNECT with reason 0x9C (Use Another Server) carries the
 * Server Reference; end this client and connect there. `current()` is the
 * client in use; `urls` every server it was on, in order.
 */
export interface SteeredClient {
  current: () => MqttClient
  urls: string[]
  /** Each steering packet seen (reason code and reference). */
  steered: Array<{ cmd: string, reasonCode: number | undefined, serverReference: string | undefined }>
  end: () => Promise<void>
}

const USE_ANOTHER_SERVER = 0x9c

export function followSteering (t: Teardownable, url: string, opts: IClientOptions): SteeredClient {
  const urls: string[] = []
  const steered: SteeredClient['steered'] = []
  let client: MqttClient
  let ended = false
  const open = (to: string): void => {
    urls.push(to)
    const c = mqtt.connect(to, { protocolVersion: 5, reconnectPeriod: 500, connectTimeout: 10_000, ...opts })
    client = c
    c.on('error', () => {}) // refusals (0x9C included) arrive as packets too; the client keeps retrying otherwise
    c.on('packetreceive', (p: Packet) => {
      if (p.cmd !== 'connack' && p.cmd !== 'disconnect') return
      const reasonCode = (p as { reasonCode?: number }).reasonCode
      if (reasonCode !== USE_ANOTHER_SERVER) return
      const ref = (p as { properties?: { serverReference?: string } }).properties?.serverReference
      steered.push({ cmd: p.cmd, reasonCode, serverReference: ref })
      if (ref === undefined || ended) return
      c.end(true)
      open(ref)
    })
  }
  open(url)
  const end = async (): Promise<void> => { ended = true; await client.endAsync(true) }
  t.teardown(end)
  return { current: () => client, urls, steered, end }
}
