/**
 * Real etcd and nats-server processes for tests, on free loopback ports with
 * temporary data dirs; stopped (and the dirs removed) in the test's teardown.
 *
 *   const nats = await startNatsSupercluster(t, ['a', 'b', 'c'])
 *   nats.regions.a.url            // nats://127.0.0.1:P
 *   await nats.regions.a.kill()   // and .start() again, same ports
 *   const etcd = await startEtcd(t)
 *
 * A free port can be taken by another process between its choice and the
 * server's bind (tests run in parallel): a start that fails is retried with
 * fresh ports, a bounded number of times.
 */
import { etcdService, freePort, natsService, type NatsRegion, type Service } from '../../topology/dev-services.js'
import { tmpDir } from './tmp.js'
import type { Teardownable } from './gateway.js'

export interface Supercluster { regions: Record<string, Service> }

/** Starts of a set of services tried with fresh ports before giving up. */
const SERVICE_START_ATTEMPTS_MAX = 4

export async function startNatsSupercluster (t: Teardownable, names: readonly string[]): Promise<Supercluster> {
  const tmp = await tmpDir('ferry-nats-')
  let out: Record<string, Service> = {}
  t.teardown(async () => {
    await Promise.all(Object.values(out).map(async (s) => { await s.stop() }))
    await tmp.cleanup()
  })
  for (let attempt = 1; ; attempt++) {
    const regions: NatsRegion[] = []
    for (const name of names) regions.push({ name, port: await freePort(), gatewayPort: await freePort() })
    out = {}
    for (const r of regions) out[r.name] = await natsService(tmp.dir, r, regions)
    try {
      await Promise.all(Object.values(out).map(async (s) => { await s.start() }))
      return { regions: out }
    } catch (err) {
      await Promise.all(Object.values(out).map(async (s) => { await s.stop() }))
      if (attempt >= SERVICE_START_ATTEMPTS_MAX) throw err
    }
  }
}

export async function startEtcd (t: Teardownable): Promise<Service> {
  const tmp = await tmpDir('ferry-etcd-')
  let s: Service | undefined
  t.teardown(async () => { await s?.stop(); await tmp.cleanup() })
  for (let attempt = 1; ; attempt++) {
    s = await etcdService(`${tmp.dir}/${attempt}`, { clientPort: await freePort(), peerPort: await freePort() })
    try {
      await s.start()
      return s
    } catch (err) {
      await s.stop()
      if (attempt >= SERVICE_START_ATTEMPTS_MAX) throw err
    }
  }
}
