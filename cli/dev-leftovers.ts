/**
 * `ferry dev` after a `kill -9` (or a crash) of an earlier `ferry dev` on the
 * same DIR: its etcd, nats-servers and sites may still run, holding the
 * ports in DIR/dev.json and the sites' data directory locks, so the new start
 * would fail. Before starting, stop every such leftover: a process of ours
 * (etcd, nats-server, or a `ferry site`) whose command line names DIR.
 * Linux only (/proc); elsewhere nothing is swept.
 */
import { readFileSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { basename } from 'node:path'

/** Time a leftover gets after SIGTERM before SIGKILL. */
const LEFTOVER_STOP_MS_MAX = 5_000
const LEFTOVER_POLL_MS = 50

export interface Leftover { pid: number, what: string }

async function cmdlineOf (pid: number): Promise<string[] | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8')
    return raw.split('\0').filter((a) => a.length > 0)
  } catch { return undefined }
}

/** What kind of leftover ARGV is when it names DIR, or undefined when it is not one of ours. */
export function leftoverKind (argv: readonly string[], dir: string): string | undefined {
  const prefix = dir.endsWith('/') ? dir : dir + '/'
  if (!argv.some((a) => a.startsWith(prefix) || a.includes('=' + prefix))) return undefined
  const exe = basename(argv[0] ?? '')
  if (exe === 'etcd') return 'etcd'
  if (exe === 'nats-server') return 'nats-server'
  const i = argv.indexOf('site')
  if (exe.startsWith('node') && i > 0 && argv.includes('--dev')) return `ferry site ${argv[argv.indexOf('--site') + 1] ?? ''}`.trim()
  return undefined
}

export async function findLeftovers (dir: string): Promise<Leftover[]> {
  let pids: number[]
  try { pids = (await readdir('/proc')).filter((n) => /^\d+$/.test(n)).map(Number) } catch { return [] }
  const out: Leftover[] = []
  for (const pid of pids) {
    if (pid === process.pid) continue
    const argv = await cmdlineOf(pid)
    const what = argv === undefined ? undefined : leftoverKind(argv, dir)
    if (what !== undefined) out.push({ pid, what })
  }
  return out
}

/** Running, and not a zombie (an orphan's zombie stays until pid 1 reaps it, which a container's pid 1 may never do). */
function alive (pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch { return false }
}

/** SIGTERM each leftover, SIGKILL what is still there after LEFTOVER_STOP_MS_MAX. */
export async function stopLeftovers (found: readonly Leftover[]): Promise<void> {
  for (const l of found) { try { process.kill(l.pid, 'SIGTERM') } catch { /* gone already */ } }
  const deadline = Date.now() + LEFTOVER_STOP_MS_MAX
  while (found.some((l) => alive(l.pid)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, LEFTOVER_POLL_MS))
  for (const l of found) { if (alive(l.pid)) { try { process.kill(l.pid, 'SIGKILL') } catch { /* gone */ } } }
  const killDeadline = Date.now() + LEFTOVER_STOP_MS_MAX
  while (found.some((l) => alive(l.pid)) && Date.now() < killDeadline) await new Promise((resolve) => setTimeout(resolve, LEFTOVER_POLL_MS))
}
