/**
 * packaging/compose.yaml (the three-site network in containers) cannot be run
 * here (no Docker), so it is checked as data: every ferry command line in it
 * uses only commands, options and arguments the CLI really has (the real
 * commander definitions, values through their own parsers); the sites' etcd
 * and NATS URLs point at services of the file; each region's nats-server
 * config is valid for the real nats-server and joins every other region; the
 * site config files load and agree with the published ports and volumes;
 * host ports are unique; every volume used is declared and every declared
 * one used; every PKI certificate a site needs is issued by the PKI step.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { Command, type Option } from 'commander'
import { parse as parseYaml } from 'yaml'
import { loadSiteConfig } from '../../gateway/config.js'
import { GATEWAY_NODE_FLAGS } from '../../gateway/node-flags.js'
import { registerAdminCommand } from '../../cli/admin-command.js'
import { registerPkiCommand } from '../../cli/pki-command.js'
import { registerSiteCommand, registerTopologyCommands } from '../../cli/topology-command.js'
import { ROOT } from './ferry-cli.js'

const PACKAGING = join(ROOT, 'packaging')
const FERRY = ['node', 'dist/cli/ferry.js']

interface Service {
  image?: string
  entrypoint?: string[]
  command?: string[] | string
  ports?: string[]
  volumes?: string[]
  depends_on?: Record<string, { condition: string }>
  profiles?: string[]
}

/** The CLI as cli/ferry.ts assembles it (the commands compose uses). */
function cli (): Command {
  const program = new Command().name('ferry')
  const fail = (err: unknown): never => { throw err }
  registerPkiCommand(program)
  registerAdminCommand(program)
  registerTopologyCommands(program, fail)
  registerSiteCommand(program, fail)
  return program
}

/** Tokens of one shell command line (quotes; stops at a redirect or operator). */
function shellWords (line: string): string[] {
  const out: string[] = []
  let cur = ''
  let quote: string | undefined
  let any = false
  for (const ch of line) {
    if (quote !== undefined) { if (ch === quote) quote = undefined; else cur += ch; continue }
    if (ch === '\'' || ch === '"') { quote = ch; any = true; continue }
    if (ch === ' ' || ch === '\t') { if (any || cur.length > 0) out.push(cur); cur = ''; any = false; continue }
    if (ch === '>' || ch === '|' || ch === ';' || ch === '&') break
    cur += ch
  }
  if (quote !== undefined) throw new Error(`unclosed quote in: ${line}`)
  if (any || cur.length > 0) out.push(cur)
  return out
}

/** Every ferry argv of a service: exec form (entrypoint + command) or `node dist/cli/ferry.js ...` lines of an `sh -c` script. */
function ferryArgvs (s: Service): string[][] {
  const entry = s.entrypoint ?? []
  const command = typeof s.command === 'string' ? [s.command] : s.command ?? []
  // `node [node flags] dist/cli/ferry.js ...`: gateways start with GATEWAY_NODE_FLAGS before the script.
  const scriptAt = entry.indexOf(FERRY[1] as string)
  if (entry[0] === FERRY[0] && scriptAt > 0 && entry.slice(1, scriptAt).every((f) => f.startsWith('--'))) return [[...entry.slice(scriptAt + 1), ...command]]
  if (entry[0] === 'sh' && entry[1] === '-c') {
    const script = [...entry.slice(2), ...command].join('\n')
    const out: string[][] = []
    for (const line of script.split('\n')) {
      const at = line.indexOf(FERRY.join(' '))
      if (at >= 0) out.push(shellWords(line.slice(at + FERRY.join(' ').length).trim()))
    }
    return out
  }
  return []
}

/** Check one argv against the commander tree; returns the command path and its options' values. */
function check (program: Command, argv: string[]): { path: string[], opts: Map<string, string | true>, args: string[] } {
  let cmd = program
  const path: string[] = []
  let i = 0
  const opts = new Map<string, string | true>()
  const args: string[] = []
  const optionOf = (c: Command, long: string): Option | undefined => {
    for (let p: Command | null = c; p !== null; p = p.parent) {
      const o = p.options.find((x) => x.long === long)
      if (o !== undefined) return o
    }
    return undefined
  }
  for (; i < argv.length; i++) {
    const a = argv[i] as string
    if (a.startsWith('--')) {
      const [long, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined]
      const o = optionOf(cmd, long)
      if (o === undefined) throw new Error(`ferry ${[...path, ''].join(' ')}has no option ${long}`)
      if (o.required || o.optional) {
        const v = inline ?? argv[++i]
        if (v === undefined) throw new Error(`${long} needs a value`)
        if (o.parseArg !== undefined) o.parseArg(v, undefined as never) // throws InvalidArgumentError on a bad value
        opts.set(long, v)
      } else {
        opts.set(long, true)
      }
      continue
    }
    const sub = args.length === 0 ? cmd.commands.find((c) => c.name() === a) : undefined
    if (sub !== undefined) { cmd = sub; path.push(a); continue }
    args.push(a)
  }
  if (path.length === 0) throw new Error(`no ferry command in ${argv.join(' ')}`)
  if (cmd.commands.length > 0) throw new Error(`ferry ${path.join(' ')} needs a subcommand`)
  const required = cmd.registeredArguments.filter((x) => x.required).length
  if (args.length < required || (args.length > cmd.registeredArguments.length && !cmd.registeredArguments.some((x) => x.variadic))) {
    throw new Error(`ferry ${path.join(' ')} takes ${cmd.registeredArguments.length} arguments, got ${args.length}: ${args.join(' ')}`)
  }
  for (const o of cmd.options) if (o.mandatory && !opts.has(o.long as string)) throw new Error(`ferry ${path.join(' ')} needs ${o.long}`)
  return { path, opts, args }
}

const urlHost = (u: string): { host: string, port: number } => { const x = new URL(u); return { host: x.hostname, port: Number(x.port) } }

t.test('ops compose - every ferry command line uses only options the CLI has; URLs, ports, volumes and files agree', async (t) => {
  const doc = parseYaml(await readFile(join(PACKAGING, 'compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, Service>, volumes: Record<string, unknown> }
  const services = doc.services
  const program = cli()
  const sites = Object.keys(services).filter((n) => n.startsWith('site-'))
  t.same(sites.sort(), ['site-ap', 'site-eu', 'site-us'], 'three sites')

  // The checker itself refuses what it should (so a pass means something).
  t.throws(() => check(program, ['site', '--nats-url', 'x']), /has no option --nats-url/)
  t.throws(() => check(program, ['site', '--https', 'port']), /port number/)
  t.throws(() => check(program, ['pki', 'site', '--dir', '/p']), /takes 1 arguments/)
  t.throws(() => check(program, ['pki', 'token', '--dir', '/p']), /needs --tenant/)

  const invocations: Array<{ service: string, path: string[], opts: Map<string, string | true>, args: string[] }> = []
  for (const [name, s] of Object.entries(services)) {
    for (const argv of ferryArgvs(s)) {
      try { invocations.push({ service: name, ...check(program, argv) }) } catch (err) { t.fail(`${name}: ${(err as Error).message}`) }
    }
  }
  for (const name of ['site-eu', 'site-us', 'site-ap']) {
    const entry = services[name]?.entrypoint ?? []
    t.same(entry.slice(1, entry.indexOf(FERRY[1] as string)), GATEWAY_NODE_FLAGS, `${name}: node runs the gateway with GATEWAY_NODE_FLAGS`)
  }
  const kinds = new Set(invocations.map((i) => i.path.join(' ')))
  for (const k of ['site', 'pki init', 'pki site', 'pki token', 'topology ns set', 'admin overview']) t.ok(kinds.has(k), `ferry ${k} is used and checked`)
  t.ok(services.pki?.image === 'ferry' && services['site-eu']?.image === 'ferry', 'ferry services run the image the Dockerfile builds')
  const docker = await readFile(join(PACKAGING, 'Dockerfile'), 'utf8')
  t.match(docker, /^WORKDIR \/opt\/ferry$/m)
  t.match(docker, /^COPY --from=build \/src\/dist \.\/dist$/m, 'dist/cli/ferry.js is in the image')

  // A fresh named volume takes the ownership of the image's directory: every one a ferry service mounts must be the ferry user's there.
  const owned = (/chown ferry:ferry ([^\n&]+)/.exec(docker)?.[1] ?? '').trim().split(/\s+/)
  for (const [name, s] of Object.entries(services)) {
    if (s.image !== 'ferry') continue
    for (const v of s.volumes ?? []) {
      const [src, dst] = v.split(':') as [string, string]
      if (!src.startsWith('./')) t.ok(owned.includes(dst), `${name}: ${dst} (volume ${src}) is owned by the ferry user in the image`)
    }
  }

  const etcdCmd = (services.etcd?.command as string[]).join(' ')
  const etcdPort = Number(/--listen-client-urls=http:\/\/0\.0\.0\.0:(\d+)/.exec(etcdCmd)?.[1])
  const issued = invocations.filter((i) => i.path.join(' ') === 'pki site').map((i) => i.args[0])
  const hostPorts: string[] = []
  const usedVolumes = new Set<string>()
  for (const [name, s] of Object.entries(services)) {
    for (const v of s.volumes ?? []) {
      const src = v.split(':')[0] as string
      if (src.startsWith('./')) t.ok(existsSync(join(PACKAGING, src)), `${name}: bind-mounted ${src} exists`)
      else { usedVolumes.add(src); t.ok(Object.hasOwn(doc.volumes, src), `${name}: volume ${src} is declared`) }
    }
    for (const p of s.ports ?? []) hostPorts.push(p.split(':')[0] as string)
    for (const dep of Object.keys(s.depends_on ?? {})) t.ok(services[dep] !== undefined, `${name} depends on an existing service ${dep}`)
  }
  t.same([...usedVolumes].sort(), Object.keys(doc.volumes).sort(), 'every declared volume is used')
  t.equal(new Set(hostPorts).size, hostPorts.length, 'host ports are unique')

  const dataVolumes = new Set<string>()
  for (const name of sites) {
    const s = services[name] as Service
    const inv = invocations.find((i) => i.service === name)
    if (inv === undefined) { t.fail(`${name} runs ferry`); continue }
    t.same(inv.path, ['site'], `${name} runs ferry site`)
    const region = inv.opts.get('--region') as string
    t.equal(name, `site-${region}`)
    // etcd and NATS are services of this file, on the ports they listen on.
    const etcd = urlHost(inv.opts.get('--etcd') as string)
    t.same(etcd, { host: 'etcd', port: etcdPort }, `${name}: --etcd is the etcd service`)
    const nats = urlHost(inv.opts.get('--nats') as string)
    t.equal(nats.host, `nats-${region}`, `${name}: its region's nats-server`)
    const natsSvc = services[nats.host] as Service
    const confSrc = (natsSvc.volumes ?? [])[0]?.split(':')[0] as string
    const conf = await readFile(join(PACKAGING, confSrc), 'utf8')
    t.match(conf, new RegExp(`^port: ${nats.port}$`, 'm'), `${nats.host} listens on ${nats.port}`)
    t.match(conf, new RegExp(`^\\s+name: "${region}"$`, 'm'), 'its gateway is named after the region')
    for (const other of sites.filter((x) => x !== name).map((x) => x.slice(5))) {
      const gw = new RegExp(`\\{ name: "${other}", urls: \\["nats://nats-${other}:(\\d+)"\\] \\}`).exec(conf)
      t.ok(gw !== null, `${nats.host} joins region ${other}`)
      const otherConf = await readFile(join(PACKAGING, 'compose', `nats-${other}.conf`), 'utf8')
      t.match(otherConf, new RegExp(`gateway \\{\\n  name: "${other}"\\n  port: ${gw?.[1] ?? 'x'}$`, 'm'), `nats-${other} has its gateway on ${gw?.[1] ?? '?'}`)
    }
    await promisify(execFile)('/usr/sbin/nats-server', ['-t', '-c', join(PACKAGING, confSrc)])
    t.pass(`${confSrc} is valid for nats-server`)

    // The site config: it loads, its id is the region, its listeners are the published container ports, its data is its own volume.
    const mounts = new Map((s.volumes ?? []).map((v) => { const [src, dst] = v.split(':'); return [dst as string, src as string] }))
    const cfgPath = inv.opts.get('--config') as string
    const cfgSrc = mounts.get(cfgPath)
    if (cfgSrc === undefined) { t.fail(`${name}: ${cfgPath} is mounted`); continue }
    const cfg = await loadSiteConfig(join(PACKAGING, cfgSrc))
    t.equal(cfg.siteId, region)
    t.equal(cfg.host, '0.0.0.0', 'binds every interface of the container')
    const published = (s.ports ?? []).map((p) => Number(p.split(':')[1]))
    t.same(published.sort(), [cfg.listeners?.mqtts, cfg.listeners?.https].sort(), `${name}: published ports are its listeners`)
    t.match(docker, new RegExp(`https://127\\.0\\.0\\.1:${String(cfg.listeners?.https)}/healthz`), `${name}: the image's HEALTHCHECK asks its HTTPS listener`)
    const data = mounts.get(cfg.dataDir as string)
    t.ok(data !== undefined && Object.hasOwn(doc.volumes, data), `${name}: dataDir ${String(cfg.dataDir)} is a named volume`)
    t.notOk(dataVolumes.has(data as string), 'each site has its own data volume')
    dataVolumes.add(data as string)
    t.equal(mounts.get(cfg.security?.pki as string), 'pki', `${name}: the PKI dir is the pki volume`)
    t.ok(issued.includes(region), `the PKI step issues the certificate of site ${region}`)
    t.equal(s.depends_on?.pki?.condition, 'service_completed_successfully', 'starts after the PKI step')
    t.equal(s.depends_on?.topology?.condition, 'service_completed_successfully', 'starts after the topology step')
    t.ok(s.depends_on?.[nats.host] !== undefined, `starts after ${nats.host}`)
  }
  const pkiDirs = invocations.filter((i) => i.path[0] === 'pki').map((i) => i.opts.get('--dir'))
  t.same([...new Set(pkiDirs)], ['/etc/ferry/pki'], 'every PKI step writes the pki volume')
  const nsSets = invocations.filter((i) => i.path.join(' ') === 'topology ns set')
  t.same(nsSets.map((i) => i.args[0]).sort(), ['acme/orders', 'ferry/probe'], 'a tenant namespace, and the probe namespace for replication probes')
  for (const ns of nsSets) t.same((ns.opts.get('--replicate') as string).split(',').sort(), sites.map((x) => x.slice(5)).sort(), `${String(ns.args[0])} replicates to the three sites`)
  const policy = nsSets.find((i) => i.args[0] === 'acme/orders')?.opts.get('--policy') as string
  t.same(JSON.parse(policy), { maxRedeliveries: 5 }, 'the --policy JSON survives the shell quoting')
  t.same(new Set(invocations.filter((i) => i.opts.has('--network')).map((i) => i.opts.get('--network'))).size, 1, 'one network name everywhere')
})
