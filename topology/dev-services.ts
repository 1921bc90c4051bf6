/**
 * The external processes of a local network: etcd and one nats-server per
 * region, joined by NATS gateways (a supercluster). Used by `ferry dev` and
 * by the tests (test/helpers/services.ts). Loopback only.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { join } from 'node:path'
import { FerryError } from '../common/errors.js'
import { freePort } from '../common/free-port.js'
import { TopologyCode } from './errors.js'

export { freePort }

export const NATS_SERVER_BIN = process.env.FERRY_NATS_SERVER ?? '/usr/sbin/nats-server'
export const ETCD_BIN = process.env.FERRY_ETCD ?? '/usr/bin/etcd'
const HOST = '127.0.0.1'

/** How long a service may take to accept connections after its start (loaded 2-core machine). */
const SERVICE_START_MS_MAX = 30_000
/** Largest NATS message: one maximal ledger record (8 MiB) plus batch framing. */
const NATS_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
/** Time a stopping service gets before SIGKILL. */
const SERVICE_STOP_MS_MAX = 5_000

async function waitForPort (port: number, proc: ChildProcess, what: string, stderr: () => string): Promise<void> {
  const deadline = Date.now() + SERVICE_START_MS_MAX
  for (;;) {
    if (proc.exitCode !== null) throw new FerryError(TopologyCode.SERVICE, `${what} exited (${proc.exitCode}): ${stderr().slice(-2000)}`)
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect({ host: HOST, port }, () => { c.destroy(); resolve(true) })
      c.once('error', () => { resolve(false) })
    })
    if (ok) return
    if (Date.now() > deadline) throw new FerryError(TopologyCode.SERVICE, `${what} did not listen on ${port} within ${SERVICE_START_MS_MAX} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

export interface Service {
  readonly name: string
  readonly url: string
  readonly running: boolean
  /** The running process's id (undefined when stopped). */
  readonly pid: number | undefined
  /** Stop (SIGTERM, then SIGKILL after a grace period). */
  stop: () => Promise<void>
  /** Kill at once (SIGKILL). */
  kill: () => Promise<void>
  /** Start again with the same ports and data. */
  start: () => Promise<void>
}

/**
 * Services still running, killed when this process exits however it exits with 'exit' handlers (process.exit, the
 * end of the event loop, a test runner's timeout that reports and exits): an etcd or nats-server outliving its
 * test or `ferry dev` holds ports and data dirs and loads the machine for the next run.
 */
const liveServices = new Set<ChildProcess>()
process.once('exit', () => { for (const c of liveServices) c.kill('SIGKILL') })
function reapOnExit (p: ChildProcess): void {
  liveServices.add(p)
  p.once('exit', () => { liveServices.delete(p) })
}

function serviceOf (name: string, url: string, port: number, cmd: string, args: string[]): Service {
  let proc: ChildProcess | undefined
  let err = ''
  const start = async (): Promise<void> => {
    err = ''
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    proc = p
    reapOnExit(p)
    p.stderr?.on('data', (c: Buffer) => { err = (err + c.toString()).slice(-20_000) })
    await waitForPort(port, p, name, () => err)
  }
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    const p = proc
    proc = undefined
    if (p === undefined || p.exitCode !== null || p.signalCode !== null) return
    const exited = once(p, 'exit')
    p.kill(signal)
    const timer = setTimeout(() => { p.kill('SIGKILL') }, SERVICE_STOP_MS_MAX)
    await exited
    clearTimeout(timer)
  }
  return {
    name,
    url,
    get running () { return proc !== undefined && proc.exitCode === null },
    get pid () { return proc?.pid },
    stop: async () => { await end('SIGTERM') },
    kill: async () => { await end('SIGKILL') },
    start
  }
}

/**
 * One region's nats-server. `leafOf`: this server is not in the supercluster
 * but a leaf node of that region's server (an edge site joining its hub);
 * `leafPort`: where a hub listens for its leaf nodes (needed when some region
 * is a leaf of this one).
 */
export interface NatsRegion { name: string, port: number, gatewayPort: number, leafOf?: string, leafPort?: number }

/** PEM files for mutual TLS on client, gateway and leaf node connections (verify: both sides present a certificate of the CA). */
export interface NatsTls { caFile: string, certFile: string, keyFile: string }

function tlsBlock (indent: string, tls: NatsTls, verify = true): string[] {
  return [
    `${indent}tls {`,
    `${indent}  cert_file: "${tls.certFile}"`,
    `${indent}  key_file: "${tls.keyFile}"`,
    `${indent}  ca_file: "${tls.caFile}"`,
    ...(verify ? [`${indent}  verify: true`] : []),
    `${indent}  timeout: 5`,
    `${indent}}`
  ]
}

/**
 * The config of one region's nats-server: gateways to every other region of
 * the supercluster, or (leafOf) a leaf node connection to its hub; a hub of
 * leaf nodes also listens on its leafPort. Pure, so tests can read it.
 */
export function natsConfig (me: NatsRegion, all: readonly NatsRegion[], tls?: NatsTls): string {
  const lines = [
    `server_name: "${me.name}"`,
    `host: "${HOST}"`,
    `port: ${me.port}`,
    `max_payload: ${NATS_MAX_PAYLOAD_BYTES}`,
    // The server's own system account, named: nats-server requires one on a server with both gateways and leaf nodes.
    'accounts { SYS: {} }',
    'system_account: SYS',
    ...(tls !== undefined ? tlsBlock('', tls) : [])
  ]
  if (me.leafOf !== undefined) {
    const hub = all.find((r) => r.name === me.leafOf)
    if (hub?.leafPort === undefined) throw new FerryError(TopologyCode.SERVICE, `region ${me.name} is a leaf of ${me.leafOf}, which has no leaf node port`)
    if (hub.leafOf !== undefined) throw new FerryError(TopologyCode.SERVICE, `region ${me.name} is a leaf of ${hub.name}, itself a leaf: a leaf's hub must be in the supercluster`)
    // A leaf node is no part of the supercluster: no gateway block; its hub carries its interest to the other regions.
    lines.push(
      'leafnodes {',
      '  remotes: [',
      `    { url: "${tls !== undefined ? 'tls' : 'nats-leaf'}://${HOST}:${hub.leafPort}"`,
      ...(tls !== undefined ? tlsBlock('      ', tls, false) : []),
      '    }',
      '  ]',
      '}'
    )
  } else {
    const others = all.filter((r) => r.name !== me.name && r.leafOf === undefined)
    lines.push(
      'gateway {',
      `  name: "${me.name}"`,
      `  host: "${HOST}"`,
      `  port: ${me.gatewayPort}`,
      '  gateways: [',
      ...others.map((o) => `    { name: "${o.name}", urls: ["nats://${HOST}:${o.gatewayPort}"] }`),
      '  ]',
      ...(tls !== undefined ? tlsBlock('  ', tls) : []),
      '}'
    )
    if (all.some((r) => r.leafOf === me.name)) {
      if (me.leafPort === undefined) throw new FerryError(TopologyCode.SERVICE, `region ${me.name} has leaf nodes but no leaf node port`)
      lines.push(
        'leafnodes {',
        `  host: "${HOST}"`,
        `  port: ${me.leafPort}`,
        ...(tls !== undefined ? tlsBlock('  ', tls) : []),
        '}'
      )
    }
  }
  return lines.join('\n') + '\n'
}

/** Write the config of one region's nats-server and return the service (not started). */
export async function natsService (dir: string, me: NatsRegion, all: readonly NatsRegion[], tls?: NatsTls): Promise<Service> {
  await mkdir(dir, { recursive: true })
  const file = join(dir, `nats-${me.name}.conf`)
  await writeFile(file, natsConfig(me, all, tls))
  return serviceOf(`nats-server ${me.name}`, `nats://${HOST}:${me.port}`, me.port, NATS_SERVER_BIN, ['-c', file])
}

export interface EtcdPorts { clientPort: number, peerPort: number }

/** One-member etcd 3.4 on loopback with its data in dir (not started). */
export async function etcdService (dir: string, ports: EtcdPorts): Promise<Service> {
  await mkdir(dir, { recursive: true })
  const client = `http://${HOST}:${ports.clientPort}`
  const peer = `http://${HOST}:${ports.peerPort}`
  return serviceOf('etcd', client, ports.clientPort, ETCD_BIN, [
    '--name', 'ferry',
    '--data-dir', join(dir, 'data'),
    '--listen-client-urls', client,
    '--advertise-client-urls', client,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `ferry=${peer}`,
    '--log-level', 'warn'
  ])
}
