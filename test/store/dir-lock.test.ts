/**
 * The data directory lock (store/dir-lock.ts): a second opener, in this
 * process or another, is refused with E_STORE_LOCKED naming the holder; a
 * holder killed with SIGKILL does not block the next open. Also through the
 * real CLI: a second `ferry gateway --data D` exits with that message.
 */
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { hostname } from 'node:os'
import { createFileLedger, StoreCode, type Ledger } from '../../store/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { builtScript } from '../helpers/cli-build.js'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..')

function ledgerAt (dir: string): Ledger {
  return createFileLedger({ siteId: 's', dir, policyOf: () => ({ durability: 'sync', retentionMs: -1, retentionBytes: -1, ttlMs: 0 }), checkpointIntervalMs: 0, retentionIntervalMs: 0 })
}

/** Spawn a process and collect its output; `line` resolves with the first stdout line matching. */
function run (args: string[]): { child: ChildProcess, line: (re: RegExp) => Promise<string>, exited: Promise<number | null>, stderr: () => string } {
  const child = spawn(process.execPath, [builtScript(args[0] ?? ''), ...args.slice(1)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  const waiters: Array<() => void> = []
  child.stdout?.on('data', (c: Buffer) => { out += c.toString(); for (const w of waiters.splice(0)) w() })
  child.stderr?.on('data', (c: Buffer) => { err += c.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { for (const w of waiters.splice(0)) w(); resolve(code) }))
  const line = async (re: RegExp): Promise<string> => {
    for (;;) {
      const m = out.split('\n').find((l) => re.test(l))
      if (m !== undefined) return m
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`process exited (${String(child.exitCode ?? child.signalCode)}) without printing ${String(re)}; stdout: ${out} stderr: ${err}`)
      await new Promise<void>((resolve) => waiters.push(resolve))
    }
  }
  return { child, line, exited, stderr: () => err }
}

async function kill9 (p: ReturnType<typeof run>): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL')
  await p.exited
}

t.test('store - dir lock - a second ledger on the same directory in this process is refused, close releases it', async (t) => {
  const { dir, cleanup } = await tmpDir('ferry-lock-')
  t.teardown(cleanup)
  const a = ledgerAt(dir)
  await a.open()
  const b = ledgerAt(dir)
  const err = await b.open().then(() => undefined, (e: unknown) => e) as { code?: string, message?: string, details?: { holder?: { pid: number, host: string } } }
  t.equal(err?.code, StoreCode.STORE_LOCKED, 'E_STORE_LOCKED')
  t.equal(err.details?.holder?.pid, process.pid, 'names the holder pid')
  t.equal(err.details?.holder?.host, hostname(), 'and its host')
  t.match(err.message, new RegExp(`pid ${process.pid} on `), 'the message names the holder')
  await a.close()
  const c = ledgerAt(dir)
  await c.open()
  t.pass('reopens after close')
  await c.close()
})

t.test('store - dir lock - two processes: the second is refused naming the first; SIGKILL of the holder frees the directory', async (t) => {
  const { dir, cleanup } = await tmpDir('ferry-lock-')
  const procs: Array<ReturnType<typeof run>> = []
  t.teardown(async () => { for (const p of procs) await kill9(p); await cleanup() })
  const child = join(here, 'lock-child.ts')
  const first = run([child, dir]); procs.push(first)
  const opened = await first.line(/^OPEN /)
  const holderPid = Number(opened.split(' ')[1])
  t.equal(holderPid, first.child.pid, 'first process holds the directory')

  const second = run([child, dir]); procs.push(second)
  const refused = await second.line(/^REFUSED /)
  t.match(refused, /^REFUSED E_STORE_LOCKED /, 'second opener refused with E_STORE_LOCKED')
  t.match(refused, new RegExp(`pid ${holderPid} on ${hostname()} \\(started `), 'names pid, host and start time of the holder')

  first.child.kill('SIGKILL')
  await first.exited
  const third = run([child, dir]); procs.push(third)
  t.match(await third.line(/^(OPEN|REFUSED) /), /^OPEN /, 'a SIGKILLed holder does not block the next open')
  await kill9(third)
  const l = ledgerAt(dir)
  await l.open()
  t.same((await l.read('t', 0, { maxEntries: 10 })).map((e) => e.payload.toString()), [`from ${holderPid}`, `from ${third.child.pid as number}`], 'both holders wrote, nobody else')
  await l.close()
})

t.test('store - dir lock - a second `ferry gateway --data D` exits with the holder named', async (t) => {
  const { dir, cleanup } = await tmpDir('ferry-lock-gw-')
  const procs: Array<ReturnType<typeof run>> = []
  t.teardown(async () => { for (const p of procs) await kill9(p); await cleanup() })
  const args = [join(root, 'cli', 'ferry.ts'), 'gateway', '--dev', '--data', dir, '--http', '0', '--log-level', 'warn']
  const first = run(args); procs.push(first)
  t.match(await first.line(/^ferry ready /), /data=/, 'first gateway is up')
  const second = run(args); procs.push(second)
  const code = await second.exited
  t.equal(code, 1, 'second gateway exits 1')
  t.match(second.stderr(), new RegExp(`in use by pid ${first.child.pid as number} on `), `stderr names the holder: ${second.stderr().trim()}`)
  t.equal(await second.line(/^ferry ready/).then(() => 'ready', () => 'not ready'), 'not ready', 'never became ready')

  first.child.kill('SIGKILL')
  await first.exited
  const third = run(args); procs.push(third)
  t.match(await third.line(/^ferry ready /), /data=/, 'starts again after the holder was killed')
  third.child.kill('SIGTERM')
  t.equal(await third.exited, 0, 'stops cleanly')
})
