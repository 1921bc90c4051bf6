/** Run the `ferry` CLI (cli/ferry.ts through tsx) to completion as a child process, with its exit code and output. */
import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const CLI = join(ROOT, 'cli', 'ferry.ts')

export async function ferry (args: string[], opts: { timeoutMs?: number, env?: Record<string, string> } = {}): Promise<{ code: number, out: string, err: string }> {
  return await new Promise((resolve) => {
    const env = opts.env !== undefined ? { ...process.env, ...opts.env } : process.env
    execFile(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, timeout: opts.timeoutMs ?? 60_000, env }, (error, out, err) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, out, err })
    })
  })
}
