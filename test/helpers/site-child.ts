/**
 * A site in a child process, for kill tests: a gateway on argv's data dir
 * with its replicator (static plan) on argv's nats-server. Optionally
 * publishes `publish` messages to `topic`, printing "published <n>" after
 * each acknowledged one. Prints "ready" once started. Never exits by itself;
 * SIGTERM closes it cleanly ("closed"), SIGKILL is what the tests use.
 */
import { silentLogger } from '../../common/log.js'
import { startGateway } from '../../gateway/index.js'
import { connectNats, startReplicator, staticPlan } from '../../replicator/index.js'
import { TEST_LINK_LIMITS } from './network.js'

interface ChildConfig { siteId: string, dataDir: string, nats: string, network: string, sites: string[], publish?: number, topic?: string }
const cfg = JSON.parse(process.argv[2] as string) as ChildConfig

const gateway = await startGateway({ siteId: cfg.siteId, dataDir: cfg.dataDir, dev: true, host: '127.0.0.1', logger: silentLogger })
const transport = await connectNats({ servers: cfg.nats, network: cfg.network, name: `child-${cfg.siteId}` })
const replicator = await startReplicator({ siteId: cfg.siteId, ledger: gateway.ledger, transport, plan: staticPlan({ 'public/default': cfg.sites }), logger: silentLogger, limits: TEST_LINK_LIMITS })
process.stdout.write('ready\n')

process.on('SIGTERM', () => {
  void (async () => {
    await replicator.close()
    await transport.close()
    await gateway.close()
    process.stdout.write('closed\n')
    process.exit(0)
  })()
})

const n = cfg.publish ?? 0
/** Publishes in flight at once: enough to fill group commits, few enough that a SIGKILL lands mid-stream. */
const PUBLISH_CONCURRENCY = 20
for (let i = 0; i < n; i += PUBLISH_CONCURRENCY) {
  const burst: Array<Promise<unknown>> = []
  for (let j = i; j < Math.min(n, i + PUBLISH_CONCURRENCY); j++) {
    burst.push(gateway.dispatcher.publish({ topic: cfg.topic ?? 'public/default/kill', payload: Buffer.from(`${cfg.siteId}-${j}`), props: {} }))
  }
  await Promise.all(burst)
  process.stdout.write(`published ${Math.min(n, i + PUBLISH_CONCURRENCY)}\n`)
}
setInterval(() => {}, 1000)
