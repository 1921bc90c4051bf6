/**
 * Child of test/topology/service-reaper.test.ts: starts etcd and a nats-server through topology's dev services,
 * prints their pids, and leaves without stopping them, the way a test or `ferry dev` does when its runner times
 * it out (process.exit).
 */
import { etcdService, freePort, natsService } from '../../topology/dev-services.js'

const [dir] = process.argv.slice(2) as [string]
const etcd = await etcdService(`${dir}/etcd`, { clientPort: await freePort(), peerPort: await freePort() })
await etcd.start()
const region = { name: 'a', port: await freePort(), gatewayPort: await freePort() }
const nats = await natsService(`${dir}/nats`, region, [region])
await nats.start()
process.stdout.write(`${JSON.stringify([etcd.pid, nats.pid])}\n`)
process.exit(3)
