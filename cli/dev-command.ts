/**
 * `ferry dev --sites a,b,c --dir DIR`: a local network on loopback that keeps
 * running: etcd, one nats-server per region (site) joined by NATS gateways
 * (a supercluster), a dev PKI (DIR/pki: pki/dev-certs.ts), and one `ferry
 * site` process per site. Anonymous loopback clients land in
 * `public/default` at every site, and `public/default` replicates to all of
 * them. Once every site is up and replicating it prints one line
 *   READY {"sites":{"a":{"mqtt":...,"mqtts":...,"ws":...,"http":...,"https":...},...},"etcd":"http://...","ca":"DIR/pki/ca.pem"}
 * and stops everything on SIGINT/SIGTERM. Ports are chosen at the first start
 * and kept in DIR/dev.json, so later starts reuse DIR's data and addresses.
 * Site logs go to DIR/logs/<site>.log.
 *
 * `--leaf c:a` (comma separated pairs): site c's nats-server is not in the
 * supercluster but a leaf node of site a's server (an edge site joining its
 * hub), over the same mutual TLS; c's links travel through a's server.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createWriteStream, readFileSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { FerryError } from '../common/errors.js'
import { ensureDevCertificates } from '../pki/index.js'
import { findLeftovers, stopLeftovers } from './dev-leftovers.js'
import { GatewayCode, withGatewayNodeFlags } from '../gateway/index.js'
import { ReplicationMode } from '../replicator/index.js'
import { TopologyClient, TopologyCode, etcdService, freePort, natsService, type NatsRegion, type Service } from '../topology/index.js'

export interface DevOptions { sites: string, dir: string, network?: string, wellKnownPorts?: boolean, leaf?: string }

/**
 * With --well-known-ports the i-th site (from 0) listens on MQTT 1883+i, MQTT/TLS 8883+i,
 * HTTP+WS 8080+i and HTTPS+WSS 8443+i, so README's examples work as written (site a
 * on the standard ports); etcd and NATS still take free ports. Chosen at the first start only.
 */
const WELL_KNOWN_BASE = { mqtt: 1883, mqtts: 8883, http: 8080, https: 8443 } as const

interface SitePorts { mqtt: number, mqtts: number, http: number, https: number }
interface DevState {
  etcd: { clientPort: number, peerPort: number }
  nats: Record<string, { port: number, gatewayPort: number, leafPort?: number }>
  sites: Record<string, SitePorts>
}

const HOST = '127.0.0.1'
const DEV_NAMESPACE = 'public/default'
/** How long all sites may take to be up and replicating (three processes on a loaded 2-core machine). */
const DEV_READY_MS_MAX = 180_000
/**
 * Times a site whose ports this start picked gets new ones when one was taken before the site could listen. A pick
 * is not held, and under load a site listens ~10 s after it (etcd, nats-servers, the site's own start): another
 * process picking from the same range took one in 2 of 5 suite runs (the site exited with EADDRINUSE).
 */
const DEV_PORT_REPICKS_MAX = 3
/** A site's stderr kept in memory to tell why it exited (the log file has all of it). */
const SITE_STDERR_CHARS_MAX = 4_000
/** Time children get to close after SIGTERM before SIGKILL. */
const DEV_STOP_MS_MAX = 15_000
const SITE_ID = /^[A-Za-z0-9_.-]{1,64}$/

/** The last lines of a site's log for an error message (the log file stays for the rest). */
const LOG_TAIL_BYTES_MAX = 2_000
function logTail (file: string): string {
  try { return readFileSync(file, 'utf8').slice(-LOG_TAIL_BYTES_MAX).trim() } catch { return '(no log)' }
}

/** `--leaf c:a,d:a` -> leaf site -> hub site, checked against the site list. */
export function parseLeaves (spec: string | undefined, sites: readonly string[]): Map<string, string> {
  const out = new Map<string, string>()
  if (spec === undefined || spec.trim() === '') return out
  for (const pair of spec.split(',').map((p) => p.trim()).filter((p) => p.length > 0)) {
    const [leaf, hub, ...rest] = pair.split(':')
    if (leaf === undefined || hub === undefined || rest.length > 0 || leaf === '' || hub === '') throw new FerryError(GatewayCode.CONFIG, `--leaf '${pair}' must be SITE:HUB`)
    if (!sites.includes(leaf) || !sites.includes(hub)) throw new FerryError(GatewayCode.CONFIG, `--leaf '${pair}': both sites must be in --sites`)
    if (leaf === hub) throw new FerryError(GatewayCode.CONFIG, `--leaf '${pair}': a site cannot be its own hub`)
    if (out.has(leaf)) throw new FerryError(GatewayCode.CONFIG, `--leaf names site ${leaf} twice`)
    out.set(leaf, hub)
  }
  for (const [leaf, hub] of out) {
    if (out.has(hub)) throw new FerryError(GatewayCode.CONFIG, `--leaf: hub ${hub} of ${leaf} is itself a leaf (a hub must be in the supercluster)`)
  }
  if (out.size === sites.length) throw new FerryError(GatewayCode.CONFIG, '--leaf: at least one site must be in the supercluster')
  return out
}

/** The state, and the sites whose ports were picked by this start (not yet promised to anyone: they may be picked again). */
async function loadState (file: string, sites: string[], wellKnown: boolean): Promise<{ state: DevState, fresh: Set<string> }> {
  let s: DevState = { etcd: { clientPort: 0, peerPort: 0 }, nats: {}, sites: {} }
  try { s = JSON.parse(await readFile(file, 'utf8')) as DevState } catch { /* first start */ }
  if (s.etcd.clientPort === 0) s.etcd = { clientPort: await freePort(), peerPort: await freePort() }
  const fresh = new Set<string>()
  for (const id of sites) {
    s.nats[id] ??= { port: await freePort(), gatewayPort: await freePort() }
    const i = sites.indexOf(id)
    if (s.sites[id] === undefined && !wellKnown) fresh.add(id)
    s.sites[id] ??= wellKnown
      ? { mqtt: WELL_KNOWN_BASE.mqtt + i, mqtts: WELL_KNOWN_BASE.mqtts + i, http: WELL_KNOWN_BASE.http + i, https: WELL_KNOWN_BASE.https + i }
      : await freeSitePorts()
  }
  await writeFile(file, JSON.stringify(s, null, 2) + '\n')
  return { state: s, fresh }
}

async function freeSitePorts (): Promise<SitePorts> {
  return { mqtt: await freePort(), mqtts: await freePort(), http: await freePort(), https: await freePort() }
}

export async function runDev (opts: DevOptions): Promise<void> {
  const sites = opts.sites.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
  if (sites.length === 0) throw new FerryError(GatewayCode.CONFIG, '--sites needs at least one site id')
  for (const s of sites) if (!SITE_ID.test(s)) throw new FerryError(GatewayCode.CONFIG, `site id '${s}' must be 1..64 characters of A-Z a-z 0-9 _ . -`)
  if (new Set(sites).size !== sites.length) throw new FerryError(GatewayCode.CONFIG, '--sites lists a site twice')
  const dir = resolve(opts.dir)
  const network = opts.network ?? 'dev'
  await mkdir(join(dir, 'logs'), { recursive: true })
  const leaves = parseLeaves(opts.leaf, sites)
  const { state, fresh } = await loadState(join(dir, 'dev.json'), sites, opts.wellKnownPorts === true)
  // Hubs listen for their leaf nodes on a port of their own (kept in dev.json like the others).
  for (const hub of new Set(leaves.values())) {
    const n = state.nats[hub] as { port: number, gatewayPort: number, leafPort?: number }
    if (n.leafPort === undefined) { n.leafPort = await freePort(); await writeFile(join(dir, 'dev.json'), JSON.stringify(state, null, 2) + '\n') }
  }
  const leftovers = await findLeftovers(dir)
  if (leftovers.length > 0) {
    process.stderr.write(`ferry dev: stopping what an earlier run in ${dir} left running: ${leftovers.map((l) => `${l.what} (pid ${l.pid})`).join(', ')}\n`)
    await stopLeftovers(leftovers)
  }
  const certs = await ensureDevCertificates(join(dir, 'pki'))

  const services: Service[] = []
  const children = new Map<string, ChildProcess>()
  let stopping = false
  const stopAll = async (): Promise<void> => {
    await Promise.all([...children.values()].map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return
      const exited = once(c, 'exit')
      c.kill('SIGTERM')
      const timer = setTimeout(() => { c.kill('SIGKILL') }, DEV_STOP_MS_MAX)
      await exited
      clearTimeout(timer)
    }))
    for (const s of services.reverse()) await s.stop().catch(() => {})
  }
  const onSignal = (signal: string): void => {
    if (stopping) return
    stopping = true
    process.stderr.write(`ferry dev: ${signal}, stopping\n`)
    stopAll().then(() => { process.stdout.write('ferry dev stopped\n'); process.exit(0) }, () => { process.exit(1) })
  }
  process.on('SIGINT', () => { onSignal('SIGINT') })
  process.on('SIGTERM', () => { onSignal('SIGTERM') })
  // A closed terminal: stop the network too (the sites take SIGHUP as "reload the PKI" and would run on).
  process.on('SIGHUP', () => { onSignal('SIGHUP') })

  try {
    const etcd = await etcdService(join(dir, 'etcd'), state.etcd)
    services.push(etcd)
    const regions: NatsRegion[] = sites.map((name) => {
      const leafOf = leaves.get(name)
      return { name, ...(state.nats[name] as { port: number, gatewayPort: number, leafPort?: number }), ...(leafOf !== undefined ? { leafOf } : {}) }
    })
    const nats: Record<string, Service> = {}
    // Links run over mutual TLS with the dev PKI's certificates (client, gateway and leaf node connections).
    const natsTls = { caFile: certs.caFile, certFile: certs.certFile, keyFile: certs.keyFile }
    for (const r of regions) { nats[r.name] = await natsService(join(dir, 'nats'), r, regions, natsTls); services.push(nats[r.name] as Service) }
    await Promise.all([etcd.start(), ...Object.values(nats).map(async (s) => { await s.start() })])

    // public/default replicates to every site (added to what an earlier start configured).
    const client = new TopologyClient({ endpoints: etcd.url, network })
    try {
      const prev = await client.getNamespace(DEV_NAMESPACE)
      const all = [...new Set([...(prev?.replication.sites ?? []), ...sites])]
      await client.putNamespace({ name: DEV_NAMESPACE, policy: prev?.policy ?? {}, replication: { sites: all, mode: ReplicationMode.all } })
    } finally {
      client.close()
    }

    const ready = new Map<string, boolean>()
    let allReady: () => void = () => {}
    let siteFailed: (err: Error) => void = () => {}
    const whenReady = new Promise<void>((resolve, reject) => { allReady = resolve; siteFailed = reject })
    const repicks = new Map<string, number>()
    const startSite = (id: string): void => {
      const p = state.sites[id] as SitePorts
      const args = [
        // GATEWAY_NODE_FLAGS even when this `ferry dev` itself was started without them (node dist/cli/ferry.js dev).
        ...withGatewayNodeFlags(process.execArgv), process.argv[1] as string, 'site', '--dev', '--site', id, '--data', join(dir, 'sites', id), '--host', HOST,
        '--mqtt', String(p.mqtt), '--mqtts', String(p.mqtts), '--http', String(p.http), '--https', String(p.https),
        '--cert', certs.certFile, '--key', certs.keyFile,
        '--etcd', etcd.url, '--network', network, '--nats', (nats[id] as Service).url, '--nats-ca', certs.caFile, '--region', id
      ]
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_DEV_PARENT_PID: String(process.pid) } })
      children.set(id, child)
      const log = createWriteStream(join(dir, 'logs', `${id}.log`), { flags: 'a' })
      child.stderr?.pipe(log)
      let err = ''
      child.stderr?.on('data', (c: Buffer) => { err = (err + c.toString()).slice(-SITE_STDERR_CHARS_MAX) })
      let out = ''
      child.stdout?.on('data', (c: Buffer) => {
        out += c.toString()
        if (!ready.has(id) && /^ferry replicating /m.test(out)) {
          ready.set(id, true)
          if (ready.size === sites.length) allReady()
        }
        if (out.length > 64 * 1024) out = out.slice(-1024)
      })
      child.on('exit', (code, signal) => {
        if (stopping) return
        const why = `site ${id} exited (${code ?? signal ?? ''}); see ${join(dir, 'logs', `${id}.log`)}`
        process.stderr.write(`ferry dev: ${why}\n`)
        if (ready.size >= sites.length) return
        // Ports this start picked are promised to no one yet: one taken since the pick gets the site new ones. Ports
        // kept in dev.json from an earlier start stay (the addresses are the promise); a taken one fails the start.
        const n = repicks.get(id) ?? 0
        if (fresh.has(id) && !ready.has(id) && n < DEV_PORT_REPICKS_MAX && /EADDRINUSE/.test(err)) {
          repicks.set(id, n + 1)
          freeSitePorts().then(async (ports) => {
            state.sites[id] = ports
            await writeFile(join(dir, 'dev.json'), JSON.stringify(state, null, 2) + '\n')
            process.stderr.write(`ferry dev: site ${id}: a port picked for it was taken before it listened; starting it on new ports\n`)
            if (!stopping) startSite(id)
          }).catch((e: unknown) => { siteFailed(e instanceof Error ? e : new Error(String(e))) })
          return
        }
        // Before READY a dead site fails the start at once instead of after DEV_READY_MS_MAX.
        siteFailed(new FerryError(TopologyCode.DEV_SITE_EXITED, `${why}: ${logTail(join(dir, 'logs', `${id}.log`))}`))
      })
    }
    for (const id of sites) startSite(id)
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      whenReady,
      new Promise((_resolve, reject) => { timer = setTimeout(() => { reject(new FerryError(TopologyCode.DEV_TIMEOUT, `sites not replicating within ${DEV_READY_MS_MAX} ms: ${sites.filter((s) => !ready.has(s)).join(',')} (logs in ${join(dir, 'logs')})`)) }, DEV_READY_MS_MAX) })
    ])
    clearTimeout(timer)
    const out: Record<string, Record<string, string>> = {}
    for (const id of sites) {
      const p = state.sites[id] as SitePorts
      out[id] = { mqtt: `mqtt://${HOST}:${p.mqtt}`, mqtts: `mqtts://${HOST}:${p.mqtts}`, ws: `ws://${HOST}:${p.http}/mqtt`, http: `http://${HOST}:${p.http}`, https: `https://${HOST}:${p.https}` }
    }
    process.stdout.write(`READY ${JSON.stringify({ sites: out, etcd: etcd.url, ca: certs.caFile })}\n`)
  } catch (err) {
    stopping = true
    await stopAll()
    throw err
  }
}
