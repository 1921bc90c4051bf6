/**
 * Failures of a real network: a region's nats-server killed and restarted,
 * a receiving and a sending site SIGKILLed mid-stream. The promise in each
 * case: everything the origin stored arrives at the other site, once, in order.
 */
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { createFileLedger, type Ledger } from '../../store/index.js'
import { staticPlan } from '../../replicator/index.js'
import { startNatsSupercluster } from '../helpers/services.js'
import { startTestSite } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'
import { builtScript } from '../helpers/cli-build.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const CHILD = join(root, 'test', 'helpers', 'site-child.ts')
const TOPIC = 'public/default/kill'
const policyOf = (): { durability: 'sync', retentionMs: number, retentionBytes: number, ttlMs: number } => ({ durability: 'sync', retentionMs: -1, retentionBytes: -1, ttlMs: 0 })

interface Child { proc: ChildProcess, out: () => string }

function startChild (t: { teardown: (f: () => unknown) => void }, cfg: Record<string, unknown>): Child {
  const proc = spawn(process.execPath, [builtScript(CHILD), JSON.stringify(cfg)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  proc.stdout?.on('data', (c: Buffer) => { out += c.toString() })
  proc.stderr?.on('data', (c: Buffer) => { err = (err + c.toString()).slice(-4000) })
  t.teardown(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') })
  return { proc, out: () => out + (err.length > 0 ? `\n[stderr] ${err}` : '') }
}

async function kill (c: Child): Promise<void> {
  const exited = once(c.proc, 'exit')
  c.proc.kill('SIGKILL')
  await exited
}

async function stopChild (c: Child): Promise<void> {
  const exited = once(c.proc, 'exit')
  c.proc.kill('SIGTERM')
  await exited
}

/** Payloads of the topic in a (closed) site's data dir. */
async function payloadsIn (dataDir: string): Promise<string[]> {
  const l: Ledger = createFileLedger({ dir: dataDir, siteId: 'check', policyOf, checkpointIntervalMs: 0, retentionIntervalMs: 0 })
  await l.open()
  try {
    const out: string[] = []
    for (let from = 0; ;) {
      const batch = await l.read(TOPIC, from, { maxEntries: 5000 })
      if (batch.length === 0) break
      out.push(...batch.map((e) => e.payload.toString()))
      from = (batch[batch.length - 1]?.entryId ?? from) + 1
    }
    return out
  } finally {
    await l.close()
  }
}

function seq (site: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${site}-${i}`)
}

t.test('failures - a region\'s nats-server killed and restarted: everything arrives, nothing twice', async (t) => {
  const nats = await startNatsSupercluster(t, ['a', 'b'])
  const plan = staticPlan({ 'public/default': ['a', 'b'] })
  const a = await startTestSite(t, 'a', (nats.regions.a as { url: string }).url, 'test', plan)
  const b = await startTestSite(t, 'b', (nats.regions.b as { url: string }).url, 'test', plan)
  const count = async (site: typeof a, topic: string): Promise<string[]> => (await site.gw.gateway.ledger.read(topic, 0, { maxEntries: 10_000 })).map((e) => e.payload.toString())
  await waitFor(() => a.replicator.stats().links[0]?.connected, { timeoutMs: 30_000, what: 'link a->b up' })
  await (nats.regions.b as { kill: () => Promise<void> }).kill()
  // Both sites keep accepting publishes while their link is down.
  for (let i = 0; i < 200; i++) await a.gw.gateway.dispatcher.publish({ topic: 'public/default/n', payload: Buffer.from(`a-${i}`) })
  for (let i = 0; i < 50; i++) await b.gw.gateway.dispatcher.publish({ topic: 'public/default/m', payload: Buffer.from(`b-${i}`) })
  await waitFor(() => a.replicator.stats().links[0]?.state === 'paused', { timeoutMs: 30_000, what: 'link a->b paused while b\'s region is down' })
  t.equal((await count(b, 'public/default/n')).length, 0, 'nothing crossed during the outage')
  await (nats.regions.b as { start: () => Promise<void> }).start()
  await waitFor(async () => (await count(b, 'public/default/n')).length >= 200 && (await count(a, 'public/default/m')).length >= 50, { timeoutMs: 60_000, what: 'both directions catch up' })
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.same(await count(b, 'public/default/n'), seq('a', 200), 'a\'s messages at b: all, once, in order')
  t.same(await count(a, 'public/default/m'), seq('b', 50), 'b\'s messages at a: all, once, in order')
})

t.test('failures - a receiving site SIGKILLed mid-stream, then restarted: everything once', async (t) => {
  const nats = await startNatsSupercluster(t, ['a', 'b'])
  const plan = staticPlan({ 'public/default': ['a', 'b'] })
  const tmp = await tmpDir('ferry-kill-')
  t.teardown(tmp.cleanup)
  const a = await startTestSite(t, 'a', (nats.regions.a as { url: string }).url, 'test', plan)
  const bCfg = { siteId: 'b', dataDir: join(tmp.dir, 'b'), nats: (nats.regions.b as { url: string }).url, network: 'test', sites: ['a', 'b'] }
  let b = startChild(t, bCfg)
  await waitFor(() => b.out().includes('ready'), { timeoutMs: 30_000, what: `child b ready (${b.out()})` })
  const N = 3000
  const publishing = (async () => {
    for (let i = 0; i < N; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, N - i) }, async (_, j) => await a.gw.gateway.dispatcher.publish({ topic: TOPIC, payload: Buffer.from(`a-${i + j}`) })))
    }
  })()
  await waitFor(() => (a.replicator.stats().links[0]?.entriesShipped ?? 0) > 100, { timeoutMs: 60_000, what: 'some batches applied at b' })
  await kill(b)
  await publishing
  b = startChild(t, bCfg)
  await waitFor(() => b.out().includes('ready'), { timeoutMs: 30_000, what: 'child b ready again' })
  // Caught up: the remote acknowledged the lane through the last message (the link's own position records come after it).
  const lastLsn = ((await a.gw.gateway.ledger.read(TOPIC, N - 1, { maxEntries: 1 }))[0] as { lsn: number }).lsn
  await waitFor(() => { const l = a.replicator.stats().links[0]; return l !== undefined && l.connected && l.position >= lastLsn && l.lagEntries === 0 }, { timeoutMs: 60_000, what: 'a\'s link caught up after b\'s restart' })
  await stopChild(b)
  t.same(await payloadsIn(bCfg.dataDir), seq('a', N), 'b holds every message once, in order')
})

t.test('failures - a sending site SIGKILLed mid-stream, then restarted: what it stored arrives once', async (t) => {
  const nats = await startNatsSupercluster(t, ['a', 'b'])
  const plan = staticPlan({ 'public/default': ['a', 'b'] })
  const tmp = await tmpDir('ferry-kill-')
  t.teardown(tmp.cleanup)
  const b = await startTestSite(t, 'b', (nats.regions.b as { url: string }).url, 'test', plan)
  const aCfg = { siteId: 'a', dataDir: join(tmp.dir, 'a'), nats: (nats.regions.a as { url: string }).url, network: 'test', sites: ['a', 'b'], publish: 3000, topic: TOPIC }
  let a = startChild(t, aCfg)
  const atB = async (): Promise<number> => (b.gw.gateway.ledger.topicInfo(TOPIC)?.nextEntryId ?? 0)
  await waitFor(async () => await atB() > 100, { timeoutMs: 60_000, what: `b receives while a publishes (${a.out().slice(-200)})` })
  await kill(a)
  const acked = Number(/published (\d+)\n(?![\s\S]*published)/.exec(a.out())?.[1] ?? 0)
  a = startChild(t, { ...aCfg, publish: 0 })
  await waitFor(() => a.out().includes('ready'), { timeoutMs: 30_000, what: 'child a ready again' })
  // Converged: b's position for a stops moving and matches a's log.
  let stored: string[] = []
  await waitFor(async () => {
    const n = await atB()
    return n >= acked && n === (await atB())
  }, { timeoutMs: 60_000, what: 'b has at least every acknowledged message' })
  await stopChild(a)
  stored = await payloadsIn(aCfg.dataDir)
  t.ok(stored.length >= acked, `a kept every acknowledged publish (${acked} acknowledged, ${stored.length} stored)`)
  // Entries a stored but had not acknowledged before the kill may still have been on the link when it stopped:
  // a starts once more, with nothing to publish, and ships whatever b still lacks.
  a = startChild(t, { ...aCfg, publish: 0 })
  await waitFor(() => a.out().includes('ready'), { timeoutMs: 30_000, what: 'child a ready a third time' })
  await waitFor(async () => await atB() === stored.length, { timeoutMs: 60_000, what: 'b has exactly what a stored' })
  await stopChild(a)
  const got = (await b.gw.gateway.ledger.read(TOPIC, 0, { maxEntries: 10_000 })).map((e) => e.payload.toString())
  t.same(got, stored, 'b holds what a stored: once each, in order')
})

t.test('failures - priority on the link after an outage: a priority-9 message crosses ahead of a priority-0 backlog, which still arrives in order', async (t) => {
  const nats = await startNatsSupercluster(t, ['a', 'b'])
  const plan = staticPlan({ 'public/default': ['a', 'b'] })
  const a = await startTestSite(t, 'a', (nats.regions.a as { url: string }).url, 'test', plan)
  const b = await startTestSite(t, 'b', (nats.regions.b as { url: string }).url, 'test', plan)
  await waitFor(() => a.replicator.stats().links[0]?.connected, { timeoutMs: 30_000, what: 'link up' })
  await (nats.regions.b as { kill: () => Promise<void> }).kill()
  const N = 3000
  for (let i = 0; i < N; i += 100) {
    await Promise.all(Array.from({ length: 100 }, async (_, j) => await a.gw.gateway.dispatcher.publish({ topic: 'public/default/p', payload: Buffer.from(`low-${i + j}`), props: { priority: 0 } })))
  }
  await a.gw.gateway.dispatcher.publish({ topic: 'public/default/p', payload: Buffer.from('urgent'), props: { priority: 9 } })
  await (nats.regions.b as { start: () => Promise<void> }).start()
  const arrived = async (): Promise<string[]> => (await b.gw.gateway.ledger.read('public/default/p', 0, { maxEntries: 10_000 })).map((e) => e.payload.toString())
  await waitFor(async () => (await arrived()).length === N + 1, { timeoutMs: 120_000, what: 'the whole backlog arrives' })
  const got = await arrived()
  const at = got.indexOf('urgent')
  t.ok(at >= 0 && at < N / 2, `the priority-9 message arrived ahead of most of the backlog (position ${at} of ${N + 1})`)
  t.same(got.filter((p) => p !== 'urgent'), Array.from({ length: N }, (_, i) => `low-${i}`), 'the priority-0 backlog arrives complete, once, in order')
})
