/**
 * NATS as `ferry dev` runs it: mutual TLS with the dev PKI's certificates on
 * client, gateway and leaf node connections, and an edge site whose
 * nats-server is a leaf node of its hub region's server (not a member of the
 * supercluster). Real nats-servers, real TLS.
 */
import t from 'tap'
import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import { silentLogger } from '../../common/log.js'
import { ensureDevCertificates } from '../../pki/index.js'
import { connectNats, startReplicator, staticPlan } from '../../replicator/index.js'
import { freePort, natsService, type NatsRegion, type NatsTls, type Service } from '../../topology/dev-services.js'
import { TEST_LINK_LIMITS } from '../helpers/network.js'
import { startTestGateway, type Teardownable, type TestGateway } from '../helpers/gateway.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const SITES = ['a', 'b', 'c']
const N = 20

/** a and b in the supercluster; c a leaf node of a. */
async function startNetwork (t: Teardownable, tls: NatsTls, dir: string): Promise<Record<string, Service>> {
  const regions: NatsRegion[] = [
    { name: 'a', port: await freePort(), gatewayPort: await freePort(), leafPort: await freePort() },
    { name: 'b', port: await freePort(), gatewayPort: await freePort() },
    { name: 'c', port: await freePort(), gatewayPort: await freePort(), leafOf: 'a' }
  ]
  const out: Record<string, Service> = {}
  t.teardown(async () => { await Promise.all(Object.values(out).map(async (s) => { await s.stop() })) })
  for (const r of regions) out[r.name] = await natsService(join(dir, 'nats'), r, regions, tls)
  await Promise.all(Object.values(out).map(async (s) => { await s.start() }))
  return out
}

async function site (t: Teardownable, id: string, url: string, tls: NatsTls): Promise<TestGateway> {
  const gw = await startTestGateway(t, { siteId: id })
  const transport = await connectNats({ servers: url, network: 'leaf', name: `leaf-${id}`, tls })
  const repl = await startReplicator({ siteId: id, ledger: gw.gateway.ledger, transport, plan: staticPlan({ 'public/default': SITES }), logger: silentLogger, limits: TEST_LINK_LIMITS })
  t.teardown(async () => { await repl.close(); await transport.close() })
  return gw
}

t.test('leaf node + mutual TLS - c\'s nats-server is a leaf of a\'s: publishes at c reach a and b, and theirs reach c', async (t) => {
  const tmp = await tmpDir('ferry-leaf-')
  t.teardown(tmp.cleanup)
  const certs = await ensureDevCertificates(join(tmp.dir, 'pki'))
  const tls: NatsTls = { caFile: certs.caFile, certFile: certs.certFile, keyFile: certs.keyFile }
  const nats = await startNetwork(t, tls, tmp.dir)

  // Mutual TLS: a client without a certificate of the CA is refused by every server.
  for (const id of SITES) {
    await t.rejects(connect({ servers: (nats[id] as Service).url, waitOnFirstConnect: false, reconnect: false, timeout: 5000, tls: { caFile: certs.caFile } }), `${id}'s server refuses a client without a certificate`)
  }

  const gws: Record<string, TestGateway> = {}
  for (const id of SITES) gws[id] = await site(t, id, (nats[id] as Service).url, tls)
  for (const id of SITES) {
    for (let i = 0; i < N; i++) await (gws[id] as TestGateway).gateway.dispatcher.publish({ topic: `public/default/from-${id}`, payload: Buffer.from(`${id}-${i}`) })
  }
  const payloads = async (at: string, from: string): Promise<string[]> =>
    (await (gws[at] as TestGateway).gateway.ledger.read(`public/default/from-${from}`, 0, { maxEntries: 1000 })).map((e) => e.payload.toString())
  for (const at of SITES) {
    for (const from of SITES.filter((s) => s !== at)) {
      await waitFor(async () => (await payloads(at, from)).length >= N, { timeoutMs: 60_000, what: `${from}'s messages reach ${at}` })
    }
  }
  for (const at of SITES) {
    for (const from of SITES.filter((s) => s !== at)) {
      t.same(await payloads(at, from), Array.from({ length: N }, (_, i) => `${from}-${i}`), `${at} holds ${from}'s messages once each, in order`)
    }
  }
})
