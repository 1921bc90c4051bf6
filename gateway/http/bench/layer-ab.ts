/**
 * What each layer of an HTTP publish costs in CPU, without sockets or disk,
 * for one or more compiled trees side by side:
 *
 *   npx tsx gateway/http/bench/layer-ab.ts [--dist dist] [--dist /other/dist ...] [--rounds 5] [--publishes 20000]
 *
 * Each tree's dev gateway runs in this process with `public/default` at
 * memory durability (no fsync: the CPU path alone), and each layer publishes
 * the same 256-byte message in waves of WAVE_PUBLISHES (the workload's 32
 * connections), measured with process.cpuUsage:
 *
 *   ledger     ledger.append
 *   dispatch   the instrumented dispatcher's publish (ops + dispatcher)
 *   guarded    the auth guard's publish on top (what the front ends use)
 *   http       HttpCore.plan + runTo of a single publish (route cache, headers, reply body), no uWS
 *
 * Rounds alternate the trees and the layers' order; the median per layer and
 * tree is printed with the load average. The difference between two lines is
 * what that layer adds.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

/** Publishes in flight at once: the ab-uws workload's connections. */
const WAVE_PUBLISHES = 32
const PAYLOAD_BYTES = 256
const PATH = '/v1/topics/public/default/bench/messages'
const TOPIC = 'public/default/bench'

function args (name: string): string[] {
  const out: string[] = []
  for (let i = 0; i < process.argv.length - 1; i++) if (process.argv[i] === `--${name}`) out.push(process.argv[i + 1] as string)
  return out
}
function num (name: string, dflt: number): number { const v = args(name)[0]; return v === undefined ? dflt : Number(v) }

const dists = (args('dist').length > 0 ? args('dist') : ['dist']).map((d) => resolve(d))
const rounds = num('rounds', 5)
const publishes = num('publishes', 20_000)

interface Result { topic: string, entryId: number, duplicate: boolean }
interface Sink { published: (r: Result) => void, failed: (err: unknown) => void }
interface Pub { publish: (req: Record<string, unknown>) => Promise<Result> }
interface Head { method: string, path: string, query: string, headers: Array<readonly [string, string]>, remoteAddress: string }
interface Plan { runTo?: (body: Buffer, sink: { reply: (r: { status: number }) => void, fail: (err: unknown) => void }) => void, run: (body: Buffer, signal: () => AbortSignal) => Promise<{ status: number }> }
interface GatewayLike {
  ledger: { append: (input: Record<string, unknown>) => Promise<unknown> }
  dispatcher: Pub & { publishTo?: (req: Record<string, unknown>, sink: Sink) => void }
  policies: unknown
  security: { wrap: (d: unknown) => Pub, http: unknown }
  close: () => Promise<void>
}

/** One layer: issue one publish, call done when it is acknowledged. */
type Layer = (done: () => void) => void

async function loadTree (dist: string): Promise<{ layers: Map<string, Layer>, close: () => Promise<void> }> {
  const gwMod = await import(pathToFileURL(join(dist, 'gateway', 'index.js')).href) as { startGateway: (c: Record<string, unknown>) => Promise<GatewayLike> }
  const apiMod = await import(pathToFileURL(join(dist, 'gateway', 'http', 'api.js')).href) as { HttpCore: new (deps: Record<string, unknown>) => { plan: (h: Head) => Plan } }
  const logMod = await import(pathToFileURL(join(dist, 'common', 'log.js')).href) as { silentLogger: unknown }
  const dir = await mkdtemp(join(tmpdir(), 'ferry-layer-ab-'))
  const gw = await gwMod.startGateway({ siteId: 'bench', dataDir: dir, dev: true, host: '127.0.0.1', namespaces: { 'public/default': { durability: 'memory' } }, logger: logMod.silentLogger })
  const guarded = gw.security.wrap(gw.dispatcher)
  const core = new apiMod.HttpCore({ dispatcher: guarded, ledger: gw.ledger, policies: gw.policies, siteId: 'bench', dev: true, logger: logMod.silentLogger, guard: gw.security.http })
  const payload = Buffer.alloc(PAYLOAD_BYTES, 0x61)
  const props = { contentType: 'application/octet-stream' }
  const headers: Array<readonly [string, string]> = [['host', '127.0.0.1'], ['content-type', 'application/octet-stream'], ['content-length', String(PAYLOAD_BYTES)]]
  const fail = (err: unknown): void => { throw err instanceof Error ? err : new Error(String(err)) }
  const layers = new Map<string, Layer>([
    ['ledger', (done) => { gw.ledger.append({ topic: TOPIC, payload, props }).then(done, fail) }],
    ['dispatch', (done) => { gw.dispatcher.publish({ topic: TOPIC, payload, props }).then(done, fail) }],
    ['guarded', (done) => { guarded.publish({ topic: TOPIC, payload, props }).then(done, fail) }],
    ['http', (done) => {
      const plan = core.plan({ method: 'POST', path: PATH, query: '', headers, remoteAddress: '127.0.0.1' })
      const sink = { reply: (r: { status: number }) => { if (r.status !== 201) fail(new Error(`status ${r.status}`)); done() }, fail }
      if (plan.runTo !== undefined) plan.runTo(payload, sink)
      else plan.run(payload, () => new AbortController().signal).then(sink.reply, fail)
    }]
  ])
  return { layers, close: async () => { await gw.close(); await rm(dir, { recursive: true, force: true }) } }
}

/** CPU µs per publish of `n` publishes through `layer`, WAVE_PUBLISHES in flight. */
async function measure (layer: Layer, n: number): Promise<number> {
  const cpu0 = process.cpuUsage()
  for (let sent = 0; sent < n; sent += WAVE_PUBLISHES) {
    await new Promise<void>((resolve) => {
      let left = WAVE_PUBLISHES
      const done = (): void => { if (--left === 0) resolve() }
      for (let i = 0; i < WAVE_PUBLISHES; i++) layer(done)
    })
  }
  const cpu = process.cpuUsage(cpu0)
  return (cpu.user + cpu.system) / n
}

function median (xs: number[]): number { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] as number }

async function main (): Promise<void> {
  const trees = []
  for (const d of dists) trees.push({ dist: d, ...(await loadTree(d)) })
  const names = [...(trees[0]?.layers.keys() ?? [])]
  const figures = new Map<string, number[]>()
  // Warm-up: every layer of every tree once, so the JIT has seen them all before anything counts.
  for (const t of trees) for (const l of t.layers.values()) await measure(l, publishes / 4)
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < trees.length; i++) {
      const t = trees[(i + r) % trees.length] as (typeof trees)[number]
      for (let j = 0; j < names.length; j++) {
        const name = names[(j + r) % names.length] as string
        const us = await measure(t.layers.get(name) as Layer, publishes)
        const key = `${name}\u0000${t.dist}`
        figures.set(key, [...(figures.get(key) ?? []), us])
      }
    }
  }
  for (const name of names) {
    for (const t of trees) {
      const xs = figures.get(`${name}\u0000${t.dist}`) ?? []
      process.stdout.write(`${name.padEnd(9)} ${median(xs).toFixed(2).padStart(6)} us CPU/publish (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})  ${t.dist}\n`)
    }
  }
  process.stdout.write(`load ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`)
  for (const t of trees) await t.close()
}

main().catch((err: unknown) => { process.stderr.write(`layer-ab: ${String(err)}\n`); process.exit(1) })
