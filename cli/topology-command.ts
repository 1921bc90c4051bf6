/**
 * `ferry topology ...`: read and change the network's topology in etcd.
 *   ferry topology site add ID --region R [--nats URL] [--preference N]
 *   ferry topology site rm ID
 *   ferry topology site list [--json]
 *   ferry topology ns set TENANT/NS --replicate a,b,c [--mode all|interest] [--policy JSON]
 *   ferry topology ns list [--json]
 *   ferry topology route add 'edge_*' --via hub_eu      (refused when it makes a loop)
 *   ferry topology primary set TENANT/NS SITE | primary clear TENANT/NS   (active-passive)
 *   ferry topology route rm PATTERN
 *   ferry topology route list [--json]
 * `ferry site ...`: run a site of a network (gateway + topology + replicator; cli/site-run.ts).
 * Every topology command takes --etcd URL (default $FERRY_ETCD or http://127.0.0.1:2379)
 * and --network NAME (default $FERRY_NETWORK or "dev").
 */
import { type Command } from 'commander'
import { CommonCode, FerryError } from '../common/errors.js'
import type { NamespaceRecord, Topology, TopologyClient } from '../topology/index.js'
import type { SiteOptions } from './site-run.js'
import { addSiteOptions, DEFAULT_ETCD, DEFAULT_NETWORK, intArg } from './args.js'

// The etcd client (grpc, protobufs), the gateway and the replicator are imported when a command runs, not when the
// CLI starts: `ferry pub` or `ferry pki` should not pay ~0.4 s of module loading for `ferry topology`.

interface Common { etcd?: string, network?: string, json?: boolean }


async function clientOf (o: Common): Promise<TopologyClient> {
  const { TopologyClient } = await import('../topology/index.js')
  return new TopologyClient({ endpoints: (o.etcd ?? process.env.FERRY_ETCD ?? DEFAULT_ETCD).split(','), network: o.network ?? process.env.FERRY_NETWORK ?? DEFAULT_NETWORK })
}

/** Print rows as an aligned table (or JSON). */
function print (rows: Array<Record<string, string | number>>, json: boolean | undefined, columns: string[]): void {
  if (json === true) { process.stdout.write(JSON.stringify(rows) + '\n'); return }
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)))
  const line = (vals: string[]): string => vals.map((v, i) => v.padEnd(widths[i] as number)).join('  ').trimEnd() + '\n'
  process.stdout.write(line(columns.map((c) => c.toUpperCase())))
  for (const r of rows) process.stdout.write(line(columns.map((c) => String(r[c] ?? ''))))
}

function siteRows (t: Topology): Array<Record<string, string | number>> {
  return [...t.sites.values()].sort((a, b) => a.preference - b.preference || (a.id < b.id ? -1 : 1))
    .map((s) => ({ site: s.id, region: s.region, alive: t.alive.has(s.id) ? 'yes' : 'no', preference: s.preference, nats: s.nats ?? '', mqtt: s.endpoints.mqtt ?? s.endpoints.mqtts ?? '', http: s.endpoints.http ?? s.endpoints.https ?? '' }))
}

async function withClient (o: Common, f: (c: TopologyClient) => Promise<void>): Promise<void> {
  const c = await clientOf(o)
  try { await f(c) } finally { c.close() }
}

function sitesArg (v: string): string[] {
  return v.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
}

export function registerTopologyCommands (program: Command, fail: (err: unknown) => never): void {
  const topo = program.command('topology').description('the network topology in etcd: sites, namespaces, routes')
  const common = (c: Command): Command => c.option('--etcd <urls>', 'etcd endpoints, comma separated').option('--network <name>', 'network name').option('--json', 'JSON output')
  const run = (f: (o: Common & Record<string, unknown>, ...args: string[]) => Promise<void>) => async (...args: unknown[]): Promise<void> => {
    const cmd = args[args.length - 1] as Command
    const positional = args.slice(0, -2) as string[]
    try { await f(cmd.opts(), ...positional) } catch (err) { fail(err) }
  }

  const site = topo.command('site').description('sites of the network')
  common(site.command('add <id>').description('add or update a site'))
    .option('--region <region>', 'region (default: the site id)')
    .option('--nats <url>', 'nats:// URL of the region server')
    .option('--preference <n>', 'lower is preferred for failover', '100')
    .action(run(async (o, id) => {
      await withClient(o, async (c) => {
        await c.putSite({ id: id as string, region: (o.region as string | undefined) ?? (id as string), ...(o.nats !== undefined ? { nats: o.nats as string } : {}), endpoints: {}, preference: Number(o.preference) })
        process.stdout.write(o.json === true ? JSON.stringify({ added: id }) + '\n' : `site ${id as string} added\n`)
      })
    }))
  common(site.command('rm <id>').description('remove a site (its data stays where it is)'))
    .action(run(async (o, id) => {
      await withClient(o, async (c) => {
        const removed = await c.removeSite(id as string)
        if (!removed) throw new FerryError(CommonCode.NOT_FOUND, `no site ${id as string}`)
        process.stdout.write(o.json === true ? JSON.stringify({ removed: id }) + '\n' : `site ${id as string} removed\n`)
      })
    }))
  common(site.command('list').description('list sites'))
    .action(run(async (o) => {
      await withClient(o, async (c) => { print(siteRows((await c.load()).topology), o.json, ['site', 'region', 'alive', 'preference', 'nats', 'mqtt', 'http']) })
    }))

  const ns = topo.command('ns').description('namespaces and their replication')
  common(ns.command('set <tenantNs>').description('create or update a namespace'))
    .option('--replicate <sites>', 'sites the namespace replicates to, comma separated', sitesArg)
    .option('--mode <mode>', 'replication mode: all or interest', 'all')
    .option('--policy <json>', 'namespace policy fields (JSON object)')
    .action(run(async (o, name) => {
      await withClient(o, async (c) => {
        const { ReplicationMode } = await import('../replicator/index.js')
        const { validatePolicyPatch } = await import('../gateway/index.js')
        const prev = await c.getNamespace(name as string)
        const mode = o.mode === 'interest' ? ReplicationMode.interest : ReplicationMode.all
        if (o.mode !== 'all' && o.mode !== 'interest') throw new FerryError(CommonCode.BAD_REQUEST, '--mode must be all or interest')
        let policy = prev?.policy ?? {}
        if (o.policy !== undefined) {
          let parsed: unknown
          try { parsed = JSON.parse(o.policy as string) } catch { throw new FerryError(CommonCode.BAD_REQUEST, '--policy must be a JSON object') }
          policy = { ...policy, ...validatePolicyPatch(parsed) }
        }
        const rec: NamespaceRecord = { name: name as string, policy, replication: { sites: (o.replicate as string[] | undefined) ?? prev?.replication.sites ?? [], mode } }
        await c.putNamespace(rec)
        process.stdout.write(o.json === true ? JSON.stringify(rec) + '\n' : `namespace ${rec.name} replicates to ${rec.replication.sites.join(',') || '(no sites)'}\n`)
      })
    }))
  common(ns.command('list').description('list namespaces'))
    .action(run(async (o) => {
      await withClient(o, async (c) => {
        const t = (await c.load()).topology
        print([...t.namespaces.values()].map((n) => ({ namespace: n.name, replicate: n.replication.sites.join(','), mode: n.replication.mode, policy: JSON.stringify(n.policy) })), o.json, ['namespace', 'replicate', 'mode', 'policy'])
      })
    }))

  const primary = topo.command('primary').description('active-passive namespaces: the one site that accepts writes')
  common(primary.command('set <tenantNs> <site>').description('make SITE the primary of a namespace (fenced by the key revision)'))
    .action(run(async (o, name, siteId) => {
      await withClient(o, async (c) => {
        await c.setPrimary(name as string, siteId as string)
        process.stdout.write(o.json === true ? JSON.stringify({ namespace: name, primary: siteId }) + '\n' : `namespace ${name as string}: primary ${siteId as string}\n`)
      })
    }))
  common(primary.command('clear <tenantNs>').description('make a namespace active-active again'))
    .action(run(async (o, name) => {
      await withClient(o, async (c) => {
        if (!await c.clearPrimary(name as string)) throw new FerryError(CommonCode.NOT_FOUND, `namespace ${name as string} has no primary`)
        process.stdout.write(o.json === true ? JSON.stringify({ namespace: name, primary: null }) + '\n' : `namespace ${name as string}: active-active\n`)
      })
    }))

  const route = topo.command('route').description('static routes through hub sites')
  common(route.command('add <pattern>').description("route sites matching PATTERN (* rest of the name, ? one character) through --via"))
    .requiredOption('--via <site>', 'the hub site')
    .action(run(async (o, pattern) => {
      await withClient(o, async (c) => {
        await c.addRoute({ pattern: pattern as string, via: o.via as string })
        process.stdout.write(o.json === true ? JSON.stringify({ pattern, via: o.via }) + '\n' : `route ${pattern as string} via ${o.via as string} added\n`)
      })
    }))
  common(route.command('rm <pattern>').description('remove a route'))
    .action(run(async (o, pattern) => {
      await withClient(o, async (c) => {
        if (!await c.removeRoute(pattern as string)) throw new FerryError(CommonCode.NOT_FOUND, `no route ${pattern as string}`)
        process.stdout.write(o.json === true ? JSON.stringify({ removed: pattern }) + '\n' : `route ${pattern as string} removed\n`)
      })
    }))
  common(route.command('list').description('list routes in matching order'))
    .action(run(async (o) => {
      await withClient(o, async (c) => { print((await c.load()).topology.routes.map((r) => ({ pattern: r.pattern, via: r.via })), o.json, ['pattern', 'via']) })
    }))
}

export function registerSiteCommand (program: Command, fail: (err: unknown) => never): void {
  addSiteOptions(program.command('site')
    .description('run a site of a network: gateway + topology (etcd) + replicator (NATS)'))
    .option('--etcd <urls>', 'etcd endpoints, comma separated')
    .option('--network <name>', 'network name')
    .option('--nats <url>', 'nats:// URL of the region server')
    .option('--nats-ca <file>', 'CA (PEM) of the region server: mutual TLS with --cert/--key')
    .option('--region <region>', 'region of this site')
    .option('--preference <n>', 'failover preference (lower first)')
    .option('--advertise-host <name>', 'host name in this site\'s endpoints, where failover steers clients (default: --host, or the machine\'s host name when binding 0.0.0.0)')
    .option('--log-level <level>', 'pino log level')
    // Security (issue 9): production sites take their PKI dir like `ferry gateway` (certificate DIR/sites/SITE.pem, tokens, revocations).
    .option('--pki <dir>', 'PKI directory (ferry pki init): tokens, client CA, revocation, site certificate DIR/sites/SITE.pem')
    .option('--no-probe', 'do not run the health detector (probe messages through ferry/probe)')
    .option('--repl-compress-bytes <n>', 'deflate replication batches larger than N bytes (thin edge links; default never)', intArg)
    .option('--no-repl-plain', 'ship this site\'s own messages decoded, not as its log holds them (while receivers older than session 15 remain)')
    .action(async (opts: SiteOptions) => {
      try { await (await import('./site-run.js')).runSite(opts) } catch (err) { fail(err) }
    })
}
