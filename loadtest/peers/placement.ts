/**
 * Where the peer benchmark's processes run: which CPUs the system under test
 * gets and which the load generator gets.
 *
 *   shared  every process may run on every CPU (the arrangement up to session 7):
 *           the generator and the broker compete for the same cores, so a late
 *           generator's lateness lands in the broker's due-time latency.
 *   split   the system under test (every thread of it: a Node broker's GC and
 *           thread-pool threads too) on SYSTEM_CPUS, the generator in its own
 *           process on GENERATOR_CPUS, pinned with util-linux `taskset`. The
 *           same CPUs for every system, stated in peers.json.
 *
 * The benchmark's own process (it starts and stops peers, idle during a run)
 * is pinned to the generator's CPUs too, so nothing but the system runs on
 * SYSTEM_CPUS on its behalf.
 */
import { spawnSync } from 'node:child_process'
import { cpus } from 'node:os'

export const PlacementKind = { shared: 'shared', split: 'split' } as const
export type PlacementKind = typeof PlacementKind[keyof typeof PlacementKind]

export interface Placement {
  kind: PlacementKind
  /** taskset CPU list of the system under test (split only), e.g. `1`. */
  systemCpus?: string
  /** taskset CPU list of the load generator's process (split only), e.g. `0`. */
  generatorCpus?: string
}

/** Split placement on a 2-CPU host: the generator on CPU 0, the system under test on CPU 1. */
export const SPLIT_GENERATOR_CPUS_DEFAULT = '0'
export const SPLIT_SYSTEM_CPUS_DEFAULT = '1'
/** Fewest CPUs a split placement needs: one for each side. */
const SPLIT_CPUS_MIN = 2

export const SHARED_PLACEMENT: Placement = Object.freeze({ kind: PlacementKind.shared })

/** A taskset CPU list (`0`, `0,2`, `1-3`): digits, commas and ranges only. */
const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/

/** The CPUs a taskset list names, for checking that the two sides do not overlap. */
export function cpuListMembers (list: string): Set<number> {
  if (!CPU_LIST.test(list)) throw new Error(`not a CPU list: ${JSON.stringify(list)}`)
  const out = new Set<number>()
  for (const part of list.split(',')) {
    const [lo, hi] = part.split('-').map(Number) as [number, number | undefined]
    for (let c = lo; c <= (hi ?? lo); c++) out.add(c)
  }
  return out
}

/** A split placement, checked: valid lists, no CPU on both sides. */
export function splitPlacement (generatorCpus = SPLIT_GENERATOR_CPUS_DEFAULT, systemCpus = SPLIT_SYSTEM_CPUS_DEFAULT): Placement {
  const g = cpuListMembers(generatorCpus)
  for (const c of cpuListMembers(systemCpus)) {
    if (g.has(c)) throw new Error(`CPU ${c} is given to both the generator (${generatorCpus}) and the system (${systemCpus})`)
  }
  return { kind: PlacementKind.split, generatorCpus, systemCpus }
}

/** Throws unless a split placement can be honoured here: taskset present, enough CPUs. */
export function checkSplitPossible (): void {
  const n = cpus().length
  if (n < SPLIT_CPUS_MIN) throw new Error(`split placement needs ${SPLIT_CPUS_MIN} CPUs, this host has ${n}`)
  const r = spawnSync('taskset', ['--version'], { encoding: 'utf8' })
  if (r.error !== undefined || r.status !== 0) throw new Error('split placement needs util-linux taskset (not found)')
}

/** COMMAND ARGS as run on CPUS: through `taskset -c`, which execs the command (same pid, every thread it starts inherits the mask). */
export function pinnedCommand (cpuList: string | undefined, command: string, args: readonly string[]): { command: string, args: string[] } {
  if (cpuList === undefined) return { command, args: [...args] }
  return { command: 'taskset', args: ['-c', cpuList, command, ...args] }
}

/** Pins every thread of the running process (pid PID) to CPU_LIST. */
export function pinProcess (pid: number, cpuList: string): void {
  const r = spawnSync('taskset', ['-a', '-c', '-p', cpuList, String(pid)], { encoding: 'utf8' })
  if (r.error !== undefined || r.status !== 0) throw new Error(`taskset could not pin ${pid} to ${cpuList}: ${r.stderr ?? String(r.error)}`)
}

/** The CPUs a running process may use, as the kernel reports them (`Cpus_allowed_list`). */
export function allowedCpus (pid: number): string {
  const r = spawnSync('taskset', ['-c', '-p', String(pid)], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`taskset could not read ${pid}'s affinity`)
  // "pid 123's current affinity list: 0,1"
  return (r.stdout.split(':').pop() ?? '').trim()
}

/** A placement as peers.json and PEERS.md state it. */
export function describePlacement (p: Placement): string {
  if (p.kind === PlacementKind.shared) return 'shared: generator and system on every CPU'
  return `split (taskset): system under test on CPU ${p.systemCpus ?? '?'}, generator in its own process on CPU ${p.generatorCpus ?? '?'}`
}
