/**
 * A site's advertised endpoints (what etcd holds and failover steering hands
 * to clients): --advertise-host wins; a wildcard bind address, which no client
 * can dial, becomes the machine's host name; otherwise the bind host.
 */
import t from 'tap'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { advertisedHostOf, startNetworkSite, TopologyClient } from '../../topology/index.js'
import { startEtcd, startNatsSupercluster } from '../helpers/services.js'
import { TEST_LINK_LIMITS } from '../helpers/network.js'
import { httpRequest } from '../helpers/http.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

t.setTimeout(300_000)

t.test('topology advertise - which host a site advertises', async (t) => {
  t.equal(advertisedHostOf('edge-1.example', '127.0.0.1'), 'edge-1.example', '--advertise-host wins')
  t.equal(advertisedHostOf(undefined, '0.0.0.0'), hostname(), '0.0.0.0 is not dialable: the host name')
  t.equal(advertisedHostOf(undefined, '::'), hostname(), ':: likewise')
  t.equal(advertisedHostOf('', '10.1.2.3'), '10.1.2.3', 'empty means unset')
  t.equal(advertisedHostOf(undefined, '127.0.0.1'), '127.0.0.1', 'a concrete bind host is kept')
})

t.test('topology advertise - a site started with advertiseHost puts that host into etcd and GET /v1/topology', async (t) => {
  const etcd = await startEtcd(t)
  const nats = await startNatsSupercluster(t, ['a'])
  const tmp = await tmpDir('ferry-adv-')
  t.teardown(tmp.cleanup)
  const site = await startNetworkSite({
    gateway: { siteId: 'a', dataDir: join(tmp.dir, 'ledger'), dev: true, host: '127.0.0.1', mqttPort: 0, httpPort: 0 },
    network: 'adv',
    etcd: etcd.url,
    nats: nats.regions.a?.url as string,
    advertiseHost: 'a.edge.example',
    replicationLimits: TEST_LINK_LIMITS
  })
  t.teardown(async () => { await site.close() })
  const ports = site.gateway.ports
  const c = new TopologyClient({ endpoints: etcd.url, network: 'adv' })
  t.teardown(() => { c.close() })
  await waitFor(async () => (await c.load()).topology.sites.has('a'), { timeoutMs: 30_000 })
  const rec = (await c.load()).topology.sites.get('a')
  t.equal(rec?.endpoints.mqtt, `mqtt://a.edge.example:${ports.mqtt as number}`, 'etcd holds the advertised MQTT endpoint')
  t.equal(rec?.endpoints.http, `http://a.edge.example:${ports.http as number}`, 'and the HTTP one')
  const r = await httpRequest(`http://127.0.0.1:${ports.http as number}`, 'GET', '/v1/topology')
  t.equal(r.status, 200)
  t.equal(r.json.sites.find((s: { id: string }) => s.id === 'a')?.endpoints.mqtt, `mqtt://a.edge.example:${ports.mqtt as number}`, 'clients are told the advertised host')
})
