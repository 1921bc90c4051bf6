/**
 * Real etcd and nats-server processes for tests, on free loopback ports with
 * temporary data dirs; stopped (and the dirs removed) in the test's teardown.
 *
 *   const nats = await startNatsSupercluster(t, ['a', 'b', 'c'])
 *   nats.regions.a.url            // nats://127.0.0.1:P
 *   await nats.regions.a.kill()   // and .start() again, same ports
 *   const etcd = await startEtcd(t)
 */
import { etcdService, freePort, natsService, type NatsRegion, type Service } from '../../topology/dev-services.js'
import { tmpDir } from './tmp.js'
import type { Teardownable } from './gateway.js'

export interface Supercluster { regions: Record<string, Service> }

export async function startNatsSupercluster (t: Teardownable, names: readonly string[]): Promise<Supercluster> {
  const tmp = await tmpDir('ferry-nats-')
  const regions: NatsRegion[] = []
  for (const name of names) regions.push({ name, port: await freePort(), gatewayPort: await freePort() })
  const out: Record<string, Service> = {}
  for (const r of regions) out[r.name] = await natsService(tmp.dir, r, regions)
  t.teardown(async () => {
    await Promise.all(Object.values(out).map(async (s) => { await s.stop() }))
    await tmp.cleanup()
  })
  await Promise.all(Object.values(out).map(async (s) => { await s.start() }))
  return { regions: out }
}

export async function startEtcd (t: Teardownable): Promise<Service> {
  const tmp = await tmpDir('ferry-etcd-')
  const s = await etcdService(tmp.dir, { clientPort: await freePort(), peerPort: await freePort() })
  t.teardown(async () => { await s.stop(); await tmp.cleanup() })
  await s.start()
  return s
}
