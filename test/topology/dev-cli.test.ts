/**
 * `ferry dev` as a user runs it: a three-site network (etcd, three
 * nats-servers, three sites) from one command, stopped and started again.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor, within } from '../helpers/wait.js'
import { spawnFerry as ferry, type Run } from '../helpers/ferry-cli.js'
import { freePort } from '../../common/free-port.js'

/** ferry dev's exit: after SIGTERM (its sites get 15 s each, its services 5 s each), or after a site failed its start. */
const DEV_EXIT_MS_MAX = 20_000

/** The tail of every site log under DIR/logs, for a failure message. */
async function siteLogs (dir: string): Promise<string> {
  const files = await readdir(join(dir, 'logs')).catch(() => [] as string[])
  const parts = await Promise.all(files.map(async (f) => `--- ${f}\n${(await readFile(join(dir, 'logs', f), 'utf8').catch(() => '')).slice(-3000)}`))
  return parts.join('\n')
}

/** What a fresh subscriber to dev/# at URL gets as retained messages (a short grace after the SUBACK; callers poll). */
async function retainedAt (url: string): Promise<string[]> {
  const c = await mqtt.connectAsync(url, { reconnectPeriod: 0 })
  const got: string[] = []
  c.on('message', (_topic, payload, packet) => { if (packet.retain) got.push(payload.toString()) })
  await c.subscribeAsync('dev/#', { qos: 1 })
  await new Promise((resolve) => setTimeout(resolve, 200))
  await c.endAsync()
  return got
}

interface Ready { sites: Record<string, Record<string, string>>, etcd: string, ca: string }

t.test('cli - ferry dev --sites a,b,c: one READY line, public/default replicates to all, SIGTERM stops everything, a second start reuses DIR', async (t) => {
  const tmp = await tmpDir('ferry-dev-')
  t.teardown(tmp.cleanup)
  const start = async (): Promise<{ run: Run, ready: Ready }> => {
    const run = ferry(['dev', '--sites', 'a,b,c', '--dir', tmp.dir])
    // SIGTERM first: ferry dev stops its sites, nats-servers and etcd (a SIGKILL would leave them running).
    t.teardown(async () => {
      if (run.child.exitCode !== null) return
      run.child.kill('SIGTERM')
      const timer = setTimeout(() => { run.child.kill('SIGKILL') }, 20_000)
      await run.exit
      clearTimeout(timer)
    })
    // ferry dev fails at once when a site dies; 60 s (x3 stretch) stays inside tap's 240 s, so a stuck start names itself.
    // An exit before READY ends the wait at once (a throw from the check is taken for "not yet" and polls on).
    const line = await waitFor(() => /^READY (.*)$/m.exec(run.out())?.[1] ?? (run.child.exitCode !== null ? '' : undefined), { timeoutMs: 60_000, what: 'READY line' })
      .then((l) => { if (l === '') throw new Error(`ferry dev exited ${run.child.exitCode} before READY`); return l })
      .catch(async (err: Error) => { throw new Error(`${err.message}\nstderr: ${run.err()}\n${await siteLogs(tmp.dir)}`) })
    return { run, ready: JSON.parse(line) as Ready }
  }
  const first = await start()
  t.same(Object.keys(first.ready.sites), ['a', 'b', 'c'])
  t.match(first.ready.sites.a, { mqtt: /^mqtt:\/\/127\.0\.0\.1:\d+$/, mqtts: /^mqtts:/, ws: /^ws:\/\/.*\/mqtt$/, http: /^http:/, https: /^https:/ })
  t.equal(first.ready.ca, join(tmp.dir, 'pki', 'ca.pem'))
  t.equal(first.run.out().split('\n').filter((l) => l.startsWith('READY')).length, 1, 'exactly one READY line')

  const pub = await mqtt.connectAsync(first.ready.sites.a?.mqtt as string, { reconnectPeriod: 0 })
  const sub = await mqtt.connectAsync(first.ready.sites.c?.mqtt as string, { reconnectPeriod: 0 })
  const got: string[] = []
  sub.on('message', (_topic, payload) => { got.push(payload.toString()) })
  await sub.subscribeAsync('dev/#', { qos: 1 })
  await pub.publishAsync('dev/hello', 'from-a', { qos: 1, retain: true })
  await waitFor(() => got.includes('from-a'), { timeoutMs: 30_000, what: 'a publish at a reaches a subscriber at c' })
  await pub.endAsync()
  await sub.endAsync()
  // Retained values travel in the links' control lane, after the data: b holds it once a fresh subscriber there gets it.
  await waitFor(async () => (await retainedAt(first.ready.sites.b?.mqtt as string)).includes('from-a'), { timeoutMs: 30_000, what: 'the retained message reaches b' })
    .catch(async (err: Error) => { throw new Error(`${err.message}\n${await siteLogs(tmp.dir)}`) })

  first.run.child.kill('SIGTERM')
  t.equal(await within(first.run.exit, DEV_EXIT_MS_MAX, 'the first ferry dev exits after SIGTERM'), 0, 'SIGTERM: exit 0')
  t.match(first.run.out(), /ferry dev stopped/)

  const second = await start()
  t.same(second.ready.sites, first.ready.sites, 'same addresses on the second start')
  await waitFor(async () => (await retainedAt(second.ready.sites.b?.mqtt as string)).includes('from-a'), { timeoutMs: 30_000, what: 'the retained message of the first run is still there at b' })
    .catch(async (err: Error) => { throw new Error(`${err.message}\n${await siteLogs(tmp.dir)}`) })
  t.pass('the retained message of the first run is still there at b')
  second.run.child.kill('SIGTERM')
  t.equal(await within(second.run.exit, DEV_EXIT_MS_MAX, 'the second ferry dev exits after SIGTERM'), 0)
})

t.test('cli - ferry dev: a site that cannot start fails the start at once, with its log, and leaves nothing running', async (t) => {
  const tmp = await tmpDir('ferry-dev-fail-')
  t.teardown(tmp.cleanup)
  // dev.json keeps the ports between starts: site a's MQTT port is held by someone else this time.
  const blocker = net.createServer()
  await new Promise<void>((resolve) => { blocker.listen(0, '127.0.0.1', resolve) })
  t.teardown(() => { blocker.close() })
  const taken = (blocker.address() as net.AddressInfo).port
  const state = { etcd: { clientPort: 0, peerPort: 0 }, nats: {}, sites: { a: { mqtt: taken, mqtts: await freePort(), http: await freePort(), https: await freePort() } } }
  await writeFile(join(tmp.dir, 'dev.json'), JSON.stringify(state))
  const run = ferry(['dev', '--sites', 'a,b', '--dir', tmp.dir])
  t.teardown(() => { if (run.child.exitCode === null) run.child.kill('SIGKILL') })
  t.equal(await within(run.exit, DEV_EXIT_MS_MAX, 'ferry dev exits after its site failed'), 1, 'ferry dev exits 1 (not after its 180 s READY deadline)')
  t.match(run.err(), /site a exited \(1\)/, 'names the site')
  t.match(run.err(), /EADDRINUSE|in use/, 'and says why, from the site log')
  t.notMatch(run.out(), /READY/)
  const left = await new Promise<string>((resolve) => { execFile('pgrep', ['-f', tmp.dir], (_err, out) => { resolve(out.trim()) }) })
  t.equal(left, '', 'no site, nats-server or etcd of this DIR still running')
})
