/**
 * The gateway process's policy for errors nobody caught (issue 7): log,
 * count, keep serving; exit non-zero only when a store invariant fails.
 * Each case runs a real gateway child process and talks HTTP to it.
 */
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'
import { builtScript } from '../helpers/cli-build.js'

// Each case starts Node processes (each loads the whole CLI); a loaded 2-core machine makes that slow.
t.setTimeout(300_000)

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const CHILD = join(root, 'test', 'helpers', 'fault-child.ts')

interface Child { child: ChildProcess, base: string, err: () => string, exit: Promise<number | null> }

async function startChild (t: { teardown: (fn: () => unknown) => void }): Promise<Child> {
  const tmp = await tmpDir('ferry-faults-')
  t.teardown(tmp.cleanup)
  const child = spawn(process.execPath, [builtScript(CHILD), '--data', tmp.dir, '--site', 'faults', '--http', '0'], {
    cwd: root, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, FERRY_LOG_LEVEL: 'info' }
  })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let out = ''
  let err = ''
  child.stdout?.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { err += c.toString() })
  const exit = once(child, 'exit').then(([code]) => code as number | null)
  const ready = await waitFor(() => /^ferry ready .*$/m.exec(out)?.[0], { timeoutMs: 90_000, what: `ready line (stderr: ${err})` })
  return { child, base: `http://127.0.0.1:${Number(/ http=(\d+)/.exec(ready)?.[1])}`, err: () => err, exit }
}

async function faults (base: string): Promise<{ unhandledRejections: number, uncaughtExceptions: number }> {
  return ((await (await fetch(`${base}/v1/admin/stats`)).json()) as { process: { unhandledRejections: number, uncaughtExceptions: number } }).process
}

t.test('process faults - an unhandled rejection and an uncaught exception are logged, counted, and the gateway keeps serving', async (t) => {
  const c = await startChild(t)
  c.child.stdin?.write('reject\n')
  await waitFor(async () => (await faults(c.base)).unhandledRejections === 1, { what: 'rejection counted' })
  c.child.stdin?.write('throw\n')
  await waitFor(async () => (await faults(c.base)).uncaughtExceptions === 1, { what: 'exception counted' })
  const pub = await fetch(`${c.base}/v1/topics/public/default/faults/messages`, { method: 'POST', body: 'still here' })
  t.equal(pub.status, 201, 'publishes still acknowledged')
  t.equal((await fetch(`${c.base}/healthz`)).status, 200)
  t.match(c.err(), /unhandled promise rejection; still serving/)
  t.match(c.err(), /injected rejection/)
  t.match(c.err(), /uncaught exception; still serving/)
  t.equal(c.child.exitCode, null, 'still running')
  c.child.kill('SIGTERM')
  t.equal(await c.exit, 0, 'and closes cleanly')
})

t.test('process faults - a failed store invariant (AssertionError) exits non-zero', async (t) => {
  const c = await startChild(t)
  c.child.stdin?.write('assert\n')
  t.equal(await c.exit, 70, 'EX_SOFTWARE')
  t.match(c.err(), /store invariant failed/)
  t.match(c.err(), /injected invariant failure/)
})

t.test('process faults - a FerryError the store marks fatal exits non-zero', async (t) => {
  const c = await startChild(t)
  c.child.stdin?.write('fatal\n')
  t.equal(await c.exit, 70)
  t.match(c.err(), /E_STORE_CORRUPT/)
})
