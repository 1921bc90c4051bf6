/**
 * The network views of gateway/ops on a real two-site network (etcd, a
 * nats-server per region, sites in this process): replication lag and
 * etcd/NATS metrics, /readyz checks, GET /v1/admin/sites and /links, the
 * `ferry admin sites|links` tables, and the console's network map in
 * headless Chromium, with a link whose lag grows while its remote region is
 * down and returns to zero when it is back.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { TopologyClient, startNetworkSite, type NetworkSite } from '../../topology/index.js'
import { ReplicationMode } from '../../replicator/index.js'
import { startEtcd, startNatsSupercluster } from '../helpers/services.js'
import { TEST_LINK_LIMITS } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'
import { startTestGateway } from '../helpers/gateway.js'
import { httpRequest, topicPath } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'
import { ferry, ROOT as root } from './ferry-cli.js'

/** A network site in this process with a fast health detector (probes every 200 ms). */
async function startSite (t: { teardown: (f: () => unknown) => void }, id: string, nats: string, etcd: string): Promise<NetworkSite> {
  const tmp = await tmpDir(`ferry-opsnet-${id}-`)
  const site = await startNetworkSite({
    gateway: { siteId: id, dataDir: join(tmp.dir, 'ledger'), dev: true, host: '127.0.0.1', mqttPort: 0, httpPort: 0, prober: { intervalMs: 200, timeoutMs: 10_000 } },
    network: 'opsnet',
    etcd,
    nats,
    replicationLimits: TEST_LINK_LIMITS
  })
  t.teardown(async () => { await site.close(); await tmp.cleanup() })
  return site
}

function urlOf (s: NetworkSite): string { return `http://127.0.0.1:${s.gateway.ports.http ?? 0}` }

/** The value of one sample in a scrape (undefined when absent). */
function sample (text: string, series: string): number | undefined {
  for (const line of text.split('\n')) if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1))
  return undefined
}

async function linkTo (url: string, remote: string): Promise<{ lagEntries: number, lagSeconds: number, connected: boolean, state: string } | undefined> {
  const r = await httpRequest(url, 'GET', '/v1/admin/links')
  return (r.json.links as Array<{ remote: string, lagEntries: number, lagSeconds: number, connected: boolean, state: string }>).find((l) => l.remote === remote)
}

t.test('ops network - lag, etcd/NATS up, sites and links in the API, CLI and console map on a real two-site network', async (t) => {
  await promisify(execFile)(process.execPath, [join(root, 'console', 'build.mjs')], { cwd: root })
  const etcd = await startEtcd(t)
  const nats = await startNatsSupercluster(t, ['a', 'b'])
  const c = new TopologyClient({ endpoints: etcd.url, network: 'opsnet' })
  t.teardown(() => { c.close() })
  await c.putNamespace({ name: 'acme/net', policy: {}, replication: { sites: ['a', 'b'], mode: ReplicationMode.all } })
  // The health detector's namespace replicates too: each site measures replication from the other.
  await c.putNamespace({ name: 'ferry/probe', policy: {}, replication: { sites: ['a', 'b'], mode: ReplicationMode.all } })
  const regionUrl = (id: string): string => (nats.regions[id] as { url: string }).url
  const a = await startSite(t, 'a', regionUrl('a'), etcd.url)
  const b = await startSite(t, 'b', regionUrl('b'), etcd.url)
  const ua = urlOf(a)
  const ub = urlOf(b)
  await waitFor(async () => (await c.load()).topology.alive.size === 2, { timeoutMs: 30_000, what: 'both sites alive in etcd' })

  for (let i = 0; i < 5; i++) await httpRequest(ua, 'POST', `${topicPath('acme/net/t')}/messages`, { body: `m${i}` })
  await waitFor(async () => (await b.gateway.ledger.read('acme/net/t', 0, { maxEntries: 100 })).length === 5, { timeoutMs: 30_000, what: 'b receives' })
  await waitFor(async () => { const l = await linkTo(ua, 'b'); return l?.connected === true && l.lagEntries === 0 }, { timeoutMs: 30_000, what: 'a -> b caught up' })

  // Metrics: per-link lag, etcd and NATS up. Probe messages keep replicating, so a scrape can land while one is
  // in flight: wait for a scrape that shows the link caught up, then check that scrape's series.
  const scrape = await waitFor(async () => {
    const text = (await httpRequest(ua, 'GET', '/metrics')).text
    return sample(text, 'ferry_replication_backlog_entries{remote="b"}') === 0 && sample(text, 'ferry_replication_lag_seconds{remote="b"}') === 0 ? text : undefined
  }, { timeoutMs: 30_000, what: 'a scrape with a -> b caught up' })
  t.equal(sample(scrape, 'ferry_replication_lag_seconds{remote="b"}'), 0, 'lag seconds per link')
  t.equal(sample(scrape, 'ferry_replication_backlog_entries{remote="b"}'), 0, 'backlog entries per link')
  t.equal(sample(scrape, 'ferry_replication_backlog_bytes{remote="b"}'), 0, 'backlog bytes per link')
  t.equal(sample(scrape, 'ferry_replication_link_connected{remote="b"}'), 1)
  t.equal(sample(scrape, 'ferry_etcd_up'), 1)
  t.equal(sample(scrape, 'ferry_nats_up'), 1)

  // Replication probes: a receives b's probes (one-way latency by origin), and its own still come back.
  const probes = await waitFor(async () => {
    const text = (await httpRequest(ua, 'GET', '/metrics')).text
    return (sample(text, 'ferry_probe_replication_seconds_count{origin="b"}') ?? 0) >= 3 ? text : undefined
  }, { timeoutMs: 60_000, what: 'probes of b received at a' })
  t.ok((sample(probes, 'ferry_probe_duration_seconds_count') ?? 0) >= 1, 'local probes still measured')
  t.ok((sample(probes, 'ferry_probe_replication_last_timestamp_seconds{origin="b"}') ?? 0) > 0)
  t.equal(sample(probes, 'ferry_probe_replication_seconds_count{origin="a"}'), undefined, 'its own probes are not replication probes')
  const ov = (await httpRequest(ua, 'GET', '/v1/admin/overview')).json
  t.equal(ov.probe.replication[0].origin, 'b')
  t.type(ov.probe.replication[0].p99Ms, 'number')

  // /readyz reports etcd and NATS.
  const ready = await httpRequest(ua, 'GET', '/readyz')
  t.equal(ready.status, 200)
  t.equal(ready.json.checks.etcd, 'up')
  t.equal(ready.json.checks.nats, 'up')
  t.equal(ready.json.degraded, false)

  // Admin API: sites and links.
  const sites = (await httpRequest(ua, 'GET', '/v1/admin/sites')).json
  t.equal(sites.networked, true)
  t.equal(sites.network, 'opsnet')
  t.equal(sites.etcd.up, true)
  t.same(sites.sites.map((s: { id: string }) => s.id).sort(), ['a', 'b'])
  const siteA = sites.sites.find((s: { id: string }) => s.id === 'a')
  t.equal(siteA.self, true)
  t.equal(siteA.alive, true)
  t.equal(siteA.endpoints.http, ua, 'endpoints as registered')
  t.equal(typeof siteA.preference, 'number')
  t.equal(sites.sites.find((s: { id: string }) => s.id === 'b').alive, true)
  const links = (await httpRequest(ua, 'GET', '/v1/admin/links')).json
  t.same(links.links.map((l: { remote: string }) => l.remote), ['b'])
  t.ok(links.links[0].entriesShipped >= 5, 'entries shipped counted')

  // CLI tables and --json.
  const cliSites = await ferry(['admin', '--url', ua, 'sites'])
  t.equal(cliSites.code, 0, cliSites.err)
  t.match(cliSites.out, /network opsnet\s+etcd up\s+nats up/)
  t.match(cliSites.out, /^SITE\s+REGION\s+ALIVE\s+PREFERENCE/m)
  t.match(cliSites.out, /^a \*\s+a\s+yes/m, 'this site marked')
  t.match(cliSites.out, /^b\s+b\s+yes/m)
  const cliLinks = await ferry(['admin', '--url', ua, 'links'])
  t.equal(cliLinks.code, 0, cliLinks.err)
  t.match(cliLinks.out, /^REMOTE\s+STATE\s+CONNECTED\s+LAGENTRIES/m)
  // The lag column is a count; probes keep publishing, so its value at this instant is not pinned (caught up is, above).
  t.match(cliLinks.out, /^b\s+\S+\s+yes\s+\d+\s/m)
  const cliJson = await ferry(['admin', '--url', ua, '--json', 'links'])
  t.equal(JSON.parse(cliJson.out).links[0].remote, 'b')

  // The console's network map, fed live.
  const browser: Browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] })
  t.teardown(async () => { await browser.close() })
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  const errors: string[] = []
  page.on('pageerror', (e) => { errors.push(e.message) })
  await page.goto(`${ua}/console#/network`)
  await page.getByTestId('network-map').waitFor({ timeout: 30_000 })
  await page.getByTestId('network-sites').filter({ hasText: 'b' }).waitFor({ timeout: 30_000 })
  t.equal(await page.getByTestId('network-site-count').textContent(), '2')
  t.equal(await page.getByTestId('network-nats').textContent(), 'up')
  await waitFor(async () => Number(await page.getByTestId('probe-from-b').textContent()) > 0, { timeoutMs: 30_000, what: 'console shows the replication probe from b' })
  await waitFor(async () => (await page.getByTestId('lag-entries-b').textContent()) === '0', { timeoutMs: 30_000, what: 'console shows the link caught up' })

  // Region b down: a's link to b falls behind, the map shows the lag; b reports NATS down but stays ready.
  await nats.regions.b?.kill()
  for (let i = 0; i < 20; i++) await httpRequest(ua, 'POST', `${topicPath('acme/net/t')}/messages`, { body: `late${i}` })
  await waitFor(async () => ((await linkTo(ua, 'b'))?.lagEntries ?? 0) > 0, { timeoutMs: 60_000, what: 'a -> b lag in the API' })
  // All 20 waiting (probes replicate too, so there may be more): the screenshot shows the outage, not its first moment.
  await waitFor(async () => Number((await page.getByTestId('lag-entries-b').textContent())?.replace('+', '')) >= 20, { timeoutMs: 60_000, what: 'console shows the lag' })
  await page.screenshot({ path: join(root, 'docs', 'console-network.png') })
  await waitFor(async () => (sample((await httpRequest(ua, 'GET', '/metrics')).text, 'ferry_replication_backlog_entries{remote="b"}') ?? 0) > 0, { timeoutMs: 30_000, what: 'backlog in the metrics' })
  const readyB = await waitFor(async () => { const r = await httpRequest(ub, 'GET', '/readyz'); return r.json.checks.nats === 'down' ? r : undefined }, { timeoutMs: 60_000, what: 'b: NATS down in /readyz' })
  t.equal(readyB.status, 200, 'NATS down does not take the site out (it serves locally)')
  t.equal(readyB.json.degraded, true)
  t.equal(sample((await httpRequest(ub, 'GET', '/metrics')).text, 'ferry_nats_up'), 0)

  // Back: the backlog ships and the lag returns to zero.
  await nats.regions.b?.start()
  await waitFor(async () => (await b.gateway.ledger.read('acme/net/t', 0, { maxEntries: 100 })).length === 25, { timeoutMs: 60_000, what: 'b receives the backlog' })
  await waitFor(async () => (await linkTo(ua, 'b'))?.lagEntries === 0, { timeoutMs: 60_000, what: 'lag back to 0' })
  await waitFor(async () => (await page.getByTestId('lag-entries-b').textContent()) === '0', { timeoutMs: 30_000, what: 'console shows it caught up again' })
  t.same(errors, [], 'no page errors')
})

t.test('ops network - a gateway outside a network: sites and links say so, readyz reports etcd and NATS off', async (t) => {
  const gw = await startTestGateway(t)
  const sites = await httpRequest(gw.urls.http, 'GET', '/v1/admin/sites')
  t.equal(sites.status, 200)
  t.same(sites.json, { siteId: 'test', networked: false, sites: [] })
  const links = await httpRequest(gw.urls.http, 'GET', '/v1/admin/links')
  t.same(links.json, { siteId: 'test', networked: false, links: [] })
  const ready = await httpRequest(gw.urls.http, 'GET', '/readyz')
  t.equal(ready.json.checks.etcd, 'off')
  t.equal(ready.json.checks.nats, 'off')
  t.equal(ready.json.degraded, false)
  const scrape = (await httpRequest(gw.urls.http, 'GET', '/metrics')).text
  t.match(scrape, /^# TYPE ferry_replication_lag_seconds gauge$/m, 'the series exists (no samples) for alert rules')
  t.equal(sample(scrape, 'ferry_etcd_up'), undefined, 'no etcd sample outside a network')
  const ov = await httpRequest(gw.urls.http, 'GET', '/v1/admin/overview')
  t.equal(ov.json.network, null)
  const cli = await ferry(['admin', '--url', gw.urls.http, 'sites'])
  t.match(cli.out, /not part of a network/)
})
