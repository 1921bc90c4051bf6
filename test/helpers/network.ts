/**
 * A site for network tests, in this process: a real gateway (startTestGateway)
 * with its replicator connected to its region's nats-server.
 */
import { silentLogger } from '../../common/log.js'
import { connectNats, startReplicator, type LinkLimits, type PlanSource, type Replicator } from '../../replicator/index.js'
import { startTestGateway, type Teardownable, type TestGateway } from './gateway.js'
import { startNetworkSite, type NetworkSite } from '../../topology/index.js'
import { tmpDir } from './tmp.js'
import { join } from 'node:path'

export interface TestSite {
  id: string
  gw: TestGateway
  replicator: Replicator
  /** Stop the replicator and the gateway (teardown does it too). */
  close: () => Promise<void>
}

/** Short timers so that tests see retries and advances quickly. */
export const TEST_LINK_LIMITS: Partial<LinkLimits> = {
  // Batches of 100: several are in flight on a busy link, so every network test (the SIGKILL ones too) runs the pipeline.
  REPL_BATCH_ENTRIES_MAX: 100,
  REPL_BACKOFF_MS_MIN: 50,
  REPL_BACKOFF_MS_MAX: 500,
  REPL_REQUEST_TIMEOUT_MS: 3000,
  REPL_SKIP_ADVANCE_INTERVAL_MS: 100,
  REPL_OUT_PERSIST_INTERVAL_MS: 100
}

export async function startTestSite (t: Teardownable, id: string, natsUrl: string, network: string, plan: PlanSource, dataDir?: string): Promise<TestSite> {
  const gw = await startTestGateway(t, { siteId: id, ...(dataDir !== undefined ? { dataDir } : {}) })
  const transport = await connectNats({ servers: natsUrl, network, name: `ferry-${id}` })
  const replicator = await startReplicator({ siteId: id, ledger: gw.gateway.ledger, transport, plan, logger: silentLogger, limits: TEST_LINK_LIMITS, subscriptions: gw.gateway.replicatedSubscriptions })
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    await replicator.close()
    await transport.close()
    await gw.close()
  }
  t.teardown(close)
  return { id, gw, replicator, close }
}

/** A site with its topology in etcd (topology/site.ts), in this process, on a fresh data dir. */
export async function startTestNetworkSite (t: Teardownable, id: string, natsUrl: string, etcdUrl: string, network: string): Promise<NetworkSite> {
  const tmp = await tmpDir(`ferry-site-${id}-`)
  const site = await startNetworkSite({
    gateway: { siteId: id, dataDir: join(tmp.dir, 'ledger'), dev: true, host: '127.0.0.1', mqttPort: 0, httpPort: 0 },
    network,
    etcd: etcdUrl,
    nats: natsUrl,
    replicationLimits: TEST_LINK_LIMITS
  })
  t.teardown(async () => { await site.close(); await tmp.cleanup() })
  return site
}
