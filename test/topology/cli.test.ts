/**
 * The network commands as a user runs them: `ferry topology ...` against a
 * real etcd, and `ferry dev` bringing up a three-site network.
 */
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import mqtt from 'mqtt'
import { startEtcd } from '../helpers/services.js'
import { TopologyClient } from '../../topology/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'
import { cliArgs } from '../helpers/cli-build.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

interface Run { child: ChildProcess, out: () => string, err: () => string, exit: Promise<number | null> }

function ferry (args: string[]): Run {
  const child = spawn(process.execPath, cliArgs([...args]), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_LOG_LEVEL: 'warn' } })
  let out = ''
  let err = ''
  child.stdout?.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { err += c.toString() })
  const exit = once(child, 'exit').then(([code]) => code as number | null)
  return { child, out: () => out, err: () => err, exit }
}

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

interface Ready { sites: Record<string, Record<string, string>>, etcd: string, ca: string }

t.test('cli - ferry dev --sites a,b,c: one READY line, public/default replicates to all, SIGTERM stops everything, a second start reuses DIR', async (t) => {
  const tmp = await tmpDir('ferry-dev-')
  t.teardown(tmp.cleanup)
  const start = async (): Promise<{ run: Run, ready: Ready }> => {
    const run = ferry(['dev', '--sites', 'a,b,c', '--dir', tmp.dir])
    t.teardown(() => { if (run.child.exitCode === null) run.child.kill('SIGKILL') })
    const line = await waitFor(() => /^READY (.*)$/m.exec(run.out())?.[1], { timeoutMs: 180_000, what: `READY line (stderr: ${run.err()})` })
    return { run, ready: JSON.parse(line) as Ready }
  }
  const first = await start()
  t.same(Object.keys(first.ready.sites), ['a', 'b', 'c'])
  t.match(first.ready.sites.a, { mqtt: /^mqtt:\/\/127\.0\.0\.1:\d+$/, mqtts: /^mqtts:/, ws: /^ws:\/\/.*\/mqtt$/, http: /^http:/, https: /^https:/ })
  t.equal(first.ready.ca, join(tmp.dir, 'pki', 'ca.pem'))
  t.equal(first.run.out().split('\n').filter((l) => l.startsWith('READY')).length, 1, 'exactly one READY line')

  const pub = await mqtt.connectAsync(first.ready.sites.a?.mqtt as string, { reconnectPeriod: 0 })
  const sub = await mqtt.connectAsync(first.ready.sites.c?.mqtt as string, { reconnectPeriod: 0 })
  const got: string[] = []
  sub.on('message', (_topic, payload) => { got.push(payload.toString()) })
  await sub.subscribeAsync('dev/#', { qos: 1 })
  await pub.publishAsync('dev/hello', 'from-a', { qos: 1, retain: true })
  await waitFor(() => got.includes('from-a'), { timeoutMs: 30_000, what: 'a publish at a reaches a subscriber at c' })
  await pub.endAsync()
  await sub.endAsync()

  first.run.child.kill('SIGTERM')
  t.equal(await first.run.exit, 0, 'SIGTERM: exit 0')
  t.match(first.run.out(), /ferry dev stopped/)

  const second = await start()
  t.same(second.ready.sites, first.ready.sites, 'same addresses on the second start')
  const again = await mqtt.connectAsync(second.ready.sites.b?.mqtt as string, { reconnectPeriod: 0 })
  const retained: string[] = []
  again.on('message', (_topic, payload) => { retained.push(payload.toString()) })
  await again.subscribeAsync('dev/#', { qos: 1 })
  await waitFor(() => retained.includes('from-a'), { timeoutMs: 30_000, what: 'the retained message of the first run is still there at b' })
  await again.endAsync()
  second.run.child.kill('SIGTERM')
  t.equal(await second.run.exit, 0)
})
