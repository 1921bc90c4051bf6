/**
 * A transpiled copy of the sources for tests that spawn the `ferry` CLI.
 *
 * `node --import tsx cli/ferry.ts` compiles TypeScript in every child process
 * (~0.7 s of CPU more than plain JavaScript per start); the CLI tests start
 * ~120 such processes, minutes of CPU on a 2-core machine. esbuild transpiles
 * the source folders file by file (same layout, so paths found from
 * import.meta.url still work) into .build-test/<hash>/ in under a second, once
 * per change of the sources: the hash covers every source file's path, size
 * and mtime, so a test never runs a stale build. Concurrent tap workers build
 * into private temporary folders and rename; the first rename wins.
 */
import { buildSync } from 'esbuild'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** The folders tsconfig.json compiles (its "include"), and test/ for the child scripts tests spawn. */
const SOURCE_DIRS = ['common', 'store', 'gateway', 'replicator', 'topology', 'pki', 'loadtest', 'cli', 'test']
/** Under the repository root, beside dist/ (ignored by git). */
const BUILD_ROOT = join(ROOT, '.build-test')
/** Older builds are removed after this long (another worktree state may still use a recent one). */
const STALE_BUILD_AGE_MS = 60 * 60_000

function sourceFiles (): string[] {
  const out: string[] = []
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) { if (entry.name !== 'node_modules' && entry.name !== 'dist') walk(path) } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path)
    }
  }
  for (const dir of SOURCE_DIRS) walk(join(ROOT, dir))
  return out.sort()
}

let built: string | undefined

/** Root of an up-to-date transpiled tree (built on first use). */
function builtTree (): string {
  if (built !== undefined && existsSync(join(built, '.done'))) return built
  const files = sourceFiles()
  const hash = createHash('sha256')
  for (const f of files) { const s = statSync(f); hash.update(`${relative(ROOT, f)}\0${s.size}\0${s.mtimeMs}\n`) }
  const id = hash.digest('hex').slice(0, 16)
  const dir = join(BUILD_ROOT, id)
  if (!existsSync(join(dir, '.done'))) {
    mkdirSync(BUILD_ROOT, { recursive: true })
    const tmp = join(BUILD_ROOT, `${id}.tmp-${process.pid}`)
    buildSync({ entryPoints: files, outdir: tmp, outbase: ROOT, format: 'esm', platform: 'node', target: 'node20', sourcemap: 'inline', logLevel: 'error' })
    writeFileSync(join(tmp, '.done'), '')
    try { renameSync(tmp, dir) } catch { rmSync(tmp, { recursive: true, force: true }) } // another worker won
    pruneOld(id)
  }
  built = dir
  return dir
}

/** The transpiled twin of a .ts file under the repository (e.g. a test's child script). */
export function builtScript (tsPath: string): string {
  const rel = relative(ROOT, tsPath)
  if (rel.startsWith('..') || !rel.endsWith('.ts')) throw new Error(`not a source file of this repository: ${tsPath}`)
  return join(builtTree(), rel.slice(0, -'.ts'.length) + '.js')
}

/** Path of cli/ferry.js in the transpiled tree. */
function builtCli (): string {
  return join(builtTree(), 'cli', 'ferry.js')
}

function pruneOld (keep: string): void {
  const now = Date.now()
  for (const name of readdirSync(BUILD_ROOT)) {
    if (name === keep) continue
    const path = join(BUILD_ROOT, name)
    try { if (now - statSync(path).mtimeMs > STALE_BUILD_AGE_MS) rmSync(path, { recursive: true, force: true }) } catch { /* raced with another worker */ }
  }
}

/** argv (after process.execPath) that runs `ferry ARGS` from the transpiled tree. */
export function cliArgs (args: string[]): string[] {
  return [builtCli(), ...args]
}
