/** Run the `ferry` CLI (cli/ferry.ts, transpiled once by cli-build.ts) as a child process: to completion, or running (a handle on its output and exit). */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { cliArgs, ROOT } from './cli-build.js'

export { ROOT }

export async function ferry (args: string[], opts: { timeoutMs?: number, env?: Record<string, string> } = {}): Promise<{ code: number, out: string, err: string }> {
  return await new Promise((resolve) => {
    const env = opts.env !== undefined ? { ...process.env, ...opts.env } : process.env
    execFile(process.execPath, cliArgs(args), { cwd: ROOT, timeout: opts.timeoutMs ?? 60_000, env }, (error, out, err) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, out, err })
    })
  })
}

/** A running child: its output so far, and its exit code once it exits. */
export interface Run { child: ChildProcess, out: () => string, err: () => string, exit: Promise<number | null> }

/** Start CMD in the project root with FERRY_LOG_LEVEL=warn (plus ENV), collecting stdout and stderr. */
export function spawnRun (cmd: string, args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_LOG_LEVEL: 'warn', ...env } })
  let out = ''
  let err = ''
  child.stdout?.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { err += c.toString() })
  const exit = once(child, 'exit').then(([code]) => code as number | null)
  return { child, out: () => out, err: () => err, exit }
}

/** Start the CLI with ARGS (see spawnRun). */
export function spawnFerry (args: string[], env: Record<string, string> = {}): Run {
  return spawnRun(process.execPath, cliArgs(args), env)
}
