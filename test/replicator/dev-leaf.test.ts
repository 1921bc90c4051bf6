/**
 * `ferry dev --leaf c:a`: site c's nats-server joins site a's as a leaf node
 * (mutual TLS), not the supercluster; replication still reaches every site.
 */
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import mqtt from 'mqtt'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor, within } from '../helpers/wait.js'
import { cliArgs } from '../helpers/cli-build.js'

/** ferry dev's READY line (x3 stretch: inside tap's 240 s, so a stuck start names itself). */
const DEV_READY_MS_MAX = 60_000
/** ferry dev's exit: after a refused --leaf, or after SIGTERM (its sites get 15 s each, its services 5 s each). */
const DEV_EXIT_MS_MAX = 20_000

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

interface Run { child: ChildProcess, out: () => string, err: () => string, exit: Promise<number | null> }

function ferry (t: { teardown: (f: () => unknown) => void }, args: string[]): Run {
  const child = spawn(process.execPath, cliArgs([...args]), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_LOG_LEVEL: 'warn' } })
  let out = ''
  let err = ''
  child.stdout?.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { err += c.toString() })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  const exit = once(child, 'exit').then(([code]) => code as number | null)
  return { child, out: () => out, err: () => err, exit }
}

t.test('dev --leaf - a bad pair is refused with a clear error', async (t) => {
  const tmp = await tmpDir('ferry-devleaf-bad-')
  t.teardown(tmp.cleanup)
  for (const [leaf, why] of [['c:c', /own hub/], ['c:x', /must be in --sites/], ['c:a,a:b', /itself a leaf/], ['c', /SITE:HUB/]] as const) {
    const r = ferry(t, ['dev', '--sites', 'a,b,c', '--dir', tmp.dir, '--leaf', leaf])
    t.equal(await within(r.exit, DEV_EXIT_MS_MAX, `ferry dev --leaf ${leaf} exits`), 1, `--leaf ${leaf}: exit 1`)
    t.match(r.err(), why, `--leaf ${leaf}: says why`)
  }
})

t.test('dev --leaf c:a - c\'s nats-server is a leaf of a\'s; publishes at c reach b and back', async (t) => {
  const tmp = await tmpDir('ferry-devleaf-')
  t.teardown(tmp.cleanup)
  const run = ferry(t, ['dev', '--sites', 'a,b,c', '--leaf', 'c:a', '--dir', tmp.dir])
  // An exit before READY ends the wait at once; the message carries ferry dev's stderr as it is then.
  const line = await waitFor(() => /^READY (.*)$/m.exec(run.out())?.[1] ?? (run.child.exitCode !== null ? '' : undefined), { timeoutMs: DEV_READY_MS_MAX, what: 'READY line' })
    .then((l) => { if (l === '') throw new Error(`ferry dev exited ${run.child.exitCode} before READY`); return l })
    .catch((err: Error) => { throw new Error(`${err.message}\nstderr: ${run.err()}`) })
  const ready = JSON.parse(line) as { sites: Record<string, Record<string, string>> }
  const conf = await readFile(join(tmp.dir, 'nats', 'nats-c.conf'), 'utf8')
  t.match(conf, /leafnodes \{\s+remotes: \[\s+\{ url: "tls:\/\/127\.0\.0\.1:\d+"/, 'c\'s server connects to its hub as a leaf node over TLS')
  t.notMatch(conf, /gateway \{/, 'c\'s server is not in the supercluster')
  t.match(await readFile(join(tmp.dir, 'nats', 'nats-a.conf'), 'utf8'), /leafnodes \{\s+host: "127\.0\.0\.1"\s+port: \d+\s+tls \{/, 'a listens for leaf nodes with TLS')

  const atB = await mqtt.connectAsync(ready.sites.b?.mqtt as string, { reconnectPeriod: 0 })
  const atC = await mqtt.connectAsync(ready.sites.c?.mqtt as string, { reconnectPeriod: 0 })
  t.teardown(async () => { await atB.endAsync(); await atC.endAsync() })
  const gotB: string[] = []
  const gotC: string[] = []
  atB.on('message', (_topic, payload) => { gotB.push(payload.toString()) })
  atC.on('message', (_topic, payload) => { gotC.push(payload.toString()) })
  await atB.subscribeAsync('leaf/#', { qos: 1 })
  await atC.subscribeAsync('leaf/#', { qos: 1 })
  await atC.publishAsync('leaf/up', 'from-c', { qos: 1 })
  await atB.publishAsync('leaf/down', 'from-b', { qos: 1 })
  await waitFor(() => gotB.includes('from-c'), { timeoutMs: 60_000, what: 'a publish at the leaf site c reaches b' })
  await waitFor(() => gotC.includes('from-b'), { timeoutMs: 60_000, what: 'a publish at b reaches the leaf site c' })
  run.child.kill('SIGTERM')
  t.equal(await within(run.exit, DEV_EXIT_MS_MAX, 'ferry dev exits after SIGTERM'), 0, 'SIGTERM: exit 0')
})
