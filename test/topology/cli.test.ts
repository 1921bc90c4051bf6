/**
 * The network commands as a user runs them: `ferry topology ...` against a
 * real etcd (`ferry dev` is in dev-cli.test.ts).
 */
import t from 'tap'
import { startEtcd } from '../helpers/services.js'
import { TopologyClient } from '../../topology/index.js'
import { spawnFerry as ferry } from '../helpers/ferry-cli.js'

async function ok (args: string[]): Promise<string> {
  const r = ferry(args)
  const code = await r.exit
  if (code !== 0) throw new Error(`ferry ${args.join(' ')} exited ${String(code)}: ${r.err()}`)
  return r.out()
}

t.test('cli - ferry topology: sites, namespaces and routes, tables and --json, a loop refused with a clear error', async (t) => {
  const etcd = await startEtcd(t)
  const base = ['--etcd', etcd.url, '--network', 'clinet']
  for (const id of ['edge_1', 'hub_eu']) await ok(['topology', 'site', 'add', id, '--region', 'eu', ...base])
  const direct = new TopologyClient({ endpoints: etcd.url, network: 'clinet' })
  t.teardown(() => { direct.close() })
  await direct.putSite({ id: 'edge_2', region: 'eu', endpoints: {}, preference: 100 })
  const list = JSON.parse(await ok(['topology', 'site', 'list', '--json', ...base])) as Array<{ site: string, region: string }>
  t.same(list.map((s) => s.site).sort(), ['edge_1', 'edge_2', 'hub_eu'])
  t.match(await ok(['topology', 'site', 'list', ...base]), /^SITE\s+REGION\s+ALIVE/m, 'a table with a header')
  t.match(await ok(['topology', 'ns', 'set', 'acme/orders', '--replicate', 'edge_1,hub_eu', ...base]), /replicates to edge_1,hub_eu/)
  const ns = JSON.parse(await ok(['topology', 'ns', 'list', '--json', ...base])) as Array<{ namespace: string, replicate: string }>
  t.same(ns, [{ namespace: 'acme/orders', replicate: 'edge_1,hub_eu', mode: 'all', policy: '{}' }])
  await ok(['topology', 'route', 'add', 'edge_*', '--via', 'hub_eu', ...base])
  // hub_eu -> edge_2 would go through edge_1, and edge_1 -> edge_2 through hub_eu.
  const loop = ferry(['topology', 'route', 'add', 'edge_?', '--via', 'edge_1', ...base])
  t.equal(await loop.exit, 1, 'a route that makes a loop exits 1')
  t.match(loop.err(), /loop/, 'and says why')
  t.same(JSON.parse(await ok(['topology', 'route', 'list', '--json', ...base])), [{ pattern: 'edge_*', via: 'hub_eu' }])
  const bad = ferry(['topology', 'ns', 'set', 'acme/orders', '--policy', '{"nope":1}', ...base])
  t.equal(await bad.exit, 1)
  t.match(bad.err(), /unknown field/)
})
