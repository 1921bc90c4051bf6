/**
 * `npm run bench:peers [-- --rounds 3 --seconds 5 --warmup 1 --only fanin-qos1-tcp,... --peers ferry,mosquitto --idle 10000 --out docs]`
 * `  [--placement split|shared] [--generator-cpus 0] [--system-cpus 1]`
 *
 * Ferry side by side with Mosquitto, NATS (JetStream + MQTT), Aedes and the
 * do-nothing Node broker (the ceiling), on loopback, with the same lean
 * generator and the same parameters. Rounds alternate the systems (the order
 * rotates every round) and every run starts its system fresh. Writes
 * OUT/peers.json (every run, the load average, medians and spreads),
 * OUT/PEERS.md (tables with durability beside each figure) and OUT/peers.svg.
 * A run that lost or duplicated an acknowledged message is reported and makes
 * the command exit 1.
 *
 * Placement (peers/placement.ts): each workload names where the generator and
 * the system run (the open-loop latency split: system on CPU 1, generator in
 * its own process on CPU 0; the rest shared); `--placement` sets one for every
 * workload. peers.json states each workload's placement and, for each split
 * run, the CPUs the system's process was allowed as the kernel reported them.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { loadavg, cpus } from 'node:os'
import { join } from 'node:path'
import { startPeer, PEER_DURABILITY, type PeerName } from './peers/launch.js'
import { WORKLOADS, type Workload, type Figures } from './peers/workloads.js'
import { renderMarkdown, renderSvg, type PeerReport, type WorkloadReport } from './peers/report.js'
import { PlacementKind, SHARED_PLACEMENT, allowedCpus, checkSplitPossible, describePlacement, pinProcess, splitPlacement, type Placement } from './peers/placement.js'
import { generatorFor } from './peers/generator.js'

function arg (name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m] as number : ((s[m - 1] as number) + (s[m] as number)) / 2
}

async function main (): Promise<void> {
  const rounds = Number(arg('rounds') ?? 3)
  const seconds = Number(arg('seconds') ?? 5)
  const idleConnections = Number(arg('idle') ?? 10_000)
  // Every MQTT run first loads the system for this long, unmeasured (JIT warm-up of the Node-hosted systems).
  const warmupSeconds = Number(arg('warmup') ?? 1)
  const only = arg('only')?.split(',')
  const peerFilter = arg('peers')?.split(',')
  const out = arg('out') ?? 'docs'
  const workloads = WORKLOADS.filter((w) => only === undefined || only.includes(w.id))
  const placementArg = arg('placement')
  if (placementArg !== undefined && placementArg !== PlacementKind.split && placementArg !== PlacementKind.shared) throw new Error(`--placement ${placementArg}: split or shared`)
  const split = splitPlacement(arg('generator-cpus'), arg('system-cpus'))
  const placementOf = (w: Workload): Placement => (placementArg ?? w.placement) === PlacementKind.split ? split : SHARED_PLACEMENT
  if (workloads.some((w) => placementOf(w).kind === PlacementKind.split)) checkSplitPossible()
  // Restored after a split workload, so a shared one's in-process generator may use every CPU again.
  const ownCpus = allowedCpus(process.pid)
  const startLoad = loadavg()[0] as number
  const reports: WorkloadReport[] = []
  let failed = false

  for (const w of workloads) {
    const peers = w.peers.filter((p) => peerFilter === undefined || peerFilter.includes(p))
    const runs = new Map<PeerName, RunRow[]>()
    const placement = placementOf(w)
    const lean = generatorFor(placement)
    // This process starts and stops the systems (and holds the idle connections): off the system's CPUs too.
    if (placement.generatorCpus !== undefined) pinProcess(process.pid, placement.generatorCpus)
    for (let r = 0; r < rounds; r++) {
      // Rotate the order each round so no system always runs first (cold caches) or last.
      const order = peers.map((_, i) => peers[(i + r) % peers.length] as PeerName)
      for (const name of order) {
        const peer = await startPeer(name, placement.systemCpus)
        try {
          const systemCpusAllowed = placement.systemCpus !== undefined ? { systemCpusAllowed: allowedCpus(peer.pid) } : {}
          const res = await w.run(peer, { seconds, idleConnections, warmupSeconds, lean })
          const row = { ...res, loadAverage1m: loadavg()[0] as number, ...systemCpusAllowed }
          if (!res.ok) { failed = true; process.stderr.write(`${w.id} ${name} round ${r + 1}: ${res.problems.join('; ')}\n`) }
          runs.set(name, [...(runs.get(name) ?? []), row])
          process.stderr.write(`${w.id} round ${r + 1} ${name}: ${w.headline}=${String(res.figures[w.headline])}\n`)
        } catch (err) {
          failed = true
          process.stderr.write(`${w.id} ${name} round ${r + 1} failed: ${String(err)}\n`)
          runs.set(name, [...(runs.get(name) ?? []), { figures: {}, ok: false, problems: [String(err)], loadAverage1m: loadavg()[0] as number }])
        } finally {
          await peer.stop()
        }
      }
    }
    if (placement.generatorCpus !== undefined) pinProcess(process.pid, ownCpus)
    reports.push(summarise(w, runs, placement))
  }

  const report = { when: new Date().toISOString(), cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, loadAverage1mAtStart: startLoad, loadAverage1mAtEnd: loadavg()[0], rounds, seconds, warmupSeconds, workloads: reports }
  await mkdir(out, { recursive: true })
  await writeFile(join(out, 'peers.json'), JSON.stringify(report, null, 2) + '\n')
  await writeFile(join(out, 'PEERS.md'), renderMarkdown(report))
  await writeFile(join(out, 'peers.svg'), renderSvg(reports))
  if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(report) + '\n')
  else process.stdout.write(renderMarkdown(report))
  process.exit(failed ? 1 : 0)
}

interface RunRow { figures: Figures, ok: boolean, problems: string[], loadAverage1m: number, systemCpusAllowed?: string }

function summarise (w: Workload, runs: Map<PeerName, RunRow[]>, placement: Placement): WorkloadReport {
  const peers: PeerReport[] = []
  for (const [name, rs] of runs) {
    const good = rs.filter((r) => r.figures[w.headline] !== undefined)
    const figureNames = new Set(good.flatMap((r) => Object.keys(r.figures)))
    const medians: Figures = {}
    const spread: Record<string, [number, number]> = {}
    for (const f of figureNames) {
      const xs = good.map((r) => r.figures[f] as number)
      medians[f] = median(xs)
      spread[f] = [Math.min(...xs), Math.max(...xs)]
    }
    peers.push({ name, durability: PEER_DURABILITY[name], median: medians, spread, runs: rs, ok: rs.every((r) => r.ok) })
  }
  return { id: w.id, title: w.title, headline: w.headline, higherIsBetter: w.higherIsBetter, ...(w.columns !== undefined ? { columns: w.columns } : {}), placement: { ...placement, description: describePlacement(placement) }, peers }
}

main().catch((err: unknown) => { process.stderr.write(`bench:peers: ${String(err)}\n`); process.exit(1) })
