/**
 * Revocations through etcd with two real network sites (real etcd, real
 * nats-servers, TLS listeners, credentials required). Each site has its own
 * copy of the PKI files, made before the revocation: only etcd can tell
 * them, as on separate hosts.
 */
import t from 'tap'
import { cp, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { issueClientCert, issueSiteCert, issueToken, loadCa, pkiLayout, siteCertFiles } from '../../pki/index.js'
import { startNetworkSite, type NetworkSite } from '../../topology/index.js'
import { ensureTestPki, type TestGateway } from '../helpers/gateway.js'
import { httpRequest, topicPath } from '../helpers/http.js'
import { TEST_LINK_LIMITS } from '../helpers/network.js'
import { startEtcd, startNatsSupercluster } from '../helpers/services.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'
import { ferry } from '../helpers/ferry-cli.js'
import { NO_THROTTLE, tryMqtt } from './helpers.js'
import type { TapTest } from '../helpers/tap-test.js'

t.setTimeout(300_000)



interface Site { site: NetworkSite, gw: TestGateway }

/** A production-mode network site on its own PKI copy and data dir; `tryMqtt` needs only ports, urls and caPem of it. */
async function startSite (t: TapTest, id: string, pkiDir: string, dataDir: string, natsUrl: string, etcdUrl: string, network: string, caPem: string): Promise<Site> {
  const site = await startNetworkSite({
    gateway: {
      siteId: id, dataDir, dev: false, host: '127.0.0.1', mqttsPort: 0, httpsPort: 0,
      tls: siteCertFiles(pkiLayout(pkiDir), id), pkiDir, namespaces: { 'acme/orders': {} }, authThrottle: NO_THROTTLE, pkiPollIntervalMs: 100
    },
    network,
    etcd: etcdUrl,
    nats: natsUrl,
    replicationLimits: TEST_LINK_LIMITS
  })
  t.teardown(async () => { await site.close() })
  const p = site.gateway.ports
  const gw = {
    gateway: site.gateway,
    ports: { mqtt: 0, http: 0, mqtts: p.mqtts ?? 0, https: p.https ?? 0 },
    urls: { mqtt: '', http: '', ws: '', mqtts: `mqtts://127.0.0.1:${p.mqtts ?? 0}`, wss: `wss://127.0.0.1:${p.https ?? 0}/mqtt`, https: `https://127.0.0.1:${p.https ?? 0}` },
    caPem
  } as unknown as TestGateway
  return { site, gw }
}

t.test('security revocation etcd - ferry pki revoke --etcd: both sites refuse the token and the certificate and close their connections (v5 DISCONNECT 0x87)', async (t) => {
  const tmp = await tmpDir('ferry-revoke-etcd-')
  t.teardown(tmp.cleanup)
  const etcd = await startEtcd(t)
  const nats = await startNatsSupercluster(t, ['a', 'b'])
  const network = 'rv'
  // The operator's PKI dir; each site gets a copy of the files it needs, made now.
  const master = join(tmp.dir, 'pki')
  await ensureTestPki(master, 'a')
  const ca = await loadCa(master)
  await issueSiteCert(ca, 'b')
  const caPem = await readFile(pkiLayout(master).caCert, 'utf8')
  const tok = await issueToken(master, { tenant: 'acme', namespaces: ['orders'], actions: ['produce', 'consume'], ttlSec: 3600 })
  const keep = await issueToken(master, { tenant: 'acme', namespaces: ['orders'], actions: ['produce', 'consume'], ttlSec: 3600 })
  const device = await issueClientCert(ca, 'acme/dev-1')
  const cert = await readFile(device.certFile)
  const key = await readFile(device.keyFile)
  const copies: Record<string, string> = {}
  for (const id of ['a', 'b']) { copies[id] = join(tmp.dir, `pki-${id}`); await cp(master, copies[id] as string, { recursive: true }) }

  const sites: Record<string, Site> = {}
  for (const id of ['a', 'b']) {
    sites[id] = await startSite(t, id, copies[id] as string, join(tmp.dir, `data-${id}`), (nats.regions[id] as { url: string }).url, etcd.url, network, caPem)
  }
  const open: Record<string, { byToken: Awaited<ReturnType<typeof tryMqtt>>, byCert: Awaited<ReturnType<typeof tryMqtt>>, other: Awaited<ReturnType<typeof tryMqtt>>, reasons: number[] }> = {}
  for (const [id, s] of Object.entries(sites)) {
    const byToken = await tryMqtt(t, s.gw, s.gw.urls.mqtts, { protocolVersion: 5, clientId: `tok-${id}`, password: tok.token })
    const byCert = await tryMqtt(t, s.gw, s.gw.urls.mqtts, { protocolVersion: 5, clientId: `cert-${id}`, cert, key, username: 'acme/orders' })
    const other = await tryMqtt(t, s.gw, s.gw.urls.mqtts, { protocolVersion: 5, clientId: `keep-${id}`, password: keep.token })
    if (!byToken.ok || !byCert.ok || !other.ok) throw new Error(`site ${id}: every client must connect before the revocation`)
    const reasons: number[] = []
    byToken.client.on('disconnect', (p) => { reasons.push(p.reasonCode ?? -1) })
    open[id] = { byToken, byCert, other, reasons }
  }

  // The operator revokes on their machine, with etcd.
  const r1 = await ferry(['pki', 'revoke', '--dir', master, tok.claims.id, '--etcd', etcd.url, '--network', network])
  t.equal(r1.code, 0, r1.err)
  t.match(r1.out, new RegExp(`^revoked token ${tok.claims.id} .*\\nwritten to etcd network=${network} key=/ferry/${network}/revocations/${tok.claims.id}\\n$`))
  const r2 = await ferry(['pki', 'revoke', '--dir', master, device.serial, '--etcd', etcd.url, '--network', network])
  t.equal(r2.code, 0, r2.err)

  for (const [id, s] of Object.entries(sites)) {
    const o = open[id] as (typeof open)[string]
    if (!o.byToken.ok || !o.byCert.ok || !o.other.ok) throw new Error('unreachable')
    const byCert = o.byCert.client
    await waitFor(() => o.reasons.length > 0, { what: `site ${id}: the token's connection closed`, timeoutMs: 20_000 })
    t.same(o.reasons, [0x87], `site ${id}: MQTT 5 DISCONNECT 0x87`)
    await waitFor(() => !byCert.connected, { what: `site ${id}: the certificate's connection closed`, timeoutMs: 20_000 })
    t.equal(o.other.client.connected, true, `site ${id}: a connection with another credential stays`)
    const again = await tryMqtt(t, s.gw, s.gw.urls.mqtts, { protocolVersion: 5, clientId: `tok2-${id}`, password: tok.token })
    t.same(again.ok ? 'connected' : again.code, 0x86, `site ${id}: a new connection with the token is refused`)
    const againCert = await tryMqtt(t, s.gw, s.gw.urls.mqtts, { protocolVersion: 5, clientId: `cert2-${id}`, cert, key, username: 'acme/orders' })
    t.same(againCert.ok ? 'connected' : againCert.code, 0x86, `site ${id}: a new connection with the certificate is refused`)
    const http = await httpRequest(s.gw.urls.https, 'POST', `${topicPath('acme/orders/x')}/messages`, { headers: { authorization: `Bearer ${tok.token}` }, body: 'x', ca: caPem })
    t.equal(http.status, 401, `site ${id}: HTTPS refuses the token`)
    const revokedFile = await readFile(pkiLayout(copies[id] as string).revoked, 'utf8').catch(() => '')
    t.notOk(revokedFile.includes(tok.claims.id), `site ${id}: its PKI copy never heard of it (etcd told it)`)
  }

  // A site that starts after the revocation loads it from etcd before it is up.
  await (sites.b as Site).site.close()
  const b2 = await startSite(t, 'b', copies.b as string, join(tmp.dir, 'data-b'), (nats.regions.b as { url: string }).url, etcd.url, network, caPem)
  const late = await tryMqtt(t, b2.gw, b2.gw.urls.mqtts, { protocolVersion: 5, clientId: 'late', password: tok.token })
  t.same(late.ok ? 'connected' : late.code, 0x86, 'a restarted site refuses the token at once')
  const fine = await tryMqtt(t, b2.gw, b2.gw.urls.mqtts, { protocolVersion: 5, clientId: 'fine', password: keep.token })
  t.equal(fine.ok, true, 'and accepts the other')

  // --etcd without --network is refused before anything is revoked.
  const bad = await ferry(['pki', 'revoke', '--dir', master, keep.claims.id, '--etcd', etcd.url])
  t.equal(bad.code, 1)
  t.match(bad.err, /--etcd and --network go together/)
})
