/** Run the `ferry` CLI (cli/ferry.ts, transpiled once by cli-build.ts) to completion as a child process, with its exit code and output. */
import { execFile } from 'node:child_process'
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
