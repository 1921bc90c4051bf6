/**
 * Runs a lean scenario where the placement says (placement.ts): in this
 * process (shared), or in a generator process of its own pinned to the
 * generator's CPUs (split, loadtest/lean/child.ts).
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runLean, type LeanHooks, type LeanResult, type LeanScenario } from '../lean/run.js'
import { PlacementKind, pinnedCommand, type Placement } from './placement.js'

export type RunLean = (sc: LeanScenario, hooks?: LeanHooks) => Promise<LeanResult>

/** A generator process's stderr kept for a failure's message, characters. */
const CHILD_STDERR_CHARS_MAX = 4_000

/** The generator child's command: compiled under dist/ (as `npm run bench:*` runs it), else through tsx (tests). */
function childEntry (): string[] {
  const here = dirname(fileURLToPath(import.meta.url))
  const compiled = import.meta.url.endsWith('.js')
  return compiled ? [join(here, '..', 'lean', 'child.js')] : ['--import', 'tsx', join(here, '..', 'lean', 'child.ts')]
}

/** Runs SC in a fresh generator process on CPU_LIST (every CPU when undefined). */
export async function runLeanInChild (sc: LeanScenario, cpuList: string | undefined, hooks: LeanHooks = {}): Promise<LeanResult> {
  const { command, args } = pinnedCommand(cpuList, process.execPath, childEntry())
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  // Progress lines pass through; the tail is kept for a failure's message.
  child.stderr.on('data', (b: Buffer) => { process.stderr.write(b); stderr = (stderr + b.toString()).slice(-CHILD_STDERR_CHARS_MAX) })
  const lines = createInterface({ input: child.stdout })
  const result = new Promise<LeanResult>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line === '{"measuring":true}') hooks.measuring?.()
      if (line === '{"measured":true}') hooks.measured?.()
      if (!line.startsWith('{"result"')) return
      resolve((JSON.parse(line) as { result: LeanResult }).result)
    })
    // 'close' comes after stdout has ended, so a result line is always read before it (a no-op reject then).
    child.once('close', (code) => { reject(new Error(`generator process exited with ${String(code)} before answering: ${stderr.trim()}`)) })
    child.once('error', reject)
  })
  child.stdin.end(JSON.stringify(sc) + '\n')
  return await result
}

/** The generator a placement asks for. */
export function generatorFor (p: Placement): RunLean {
  if (p.kind === PlacementKind.shared) return runLean
  return async (sc, hooks) => await runLeanInChild(sc, p.generatorCpus, hooks)
}
