/**
 * `ferry dev` picks its ports at the first start, and its sites listen seconds later (under load ~10 s): a port
 * another process took in between must not fail the start when this start picked it (cli/dev-command.ts).
 */
import t from 'tap'
import { readFile } from 'node:fs/promises'
import net from 'node:net'
import { join } from 'node:path'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor, within } from '../helpers/wait.js'
import { siteLogs } from '../helpers/dev-logs.js'
import { spawnFerry as ferry } from '../helpers/ferry-cli.js'

/** dev.json written with site a's picked ports (the first thing ferry dev does). */
const PICKS_MS_MAX = 20_000
/** ferry dev's READY line. */
const DEV_READY_MS_MAX = 60_000
/** ferry dev's exit after SIGTERM. */
const STOPPED_EXIT_MS_MAX = 20_000

interface Picked { sites?: Record<string, { mqtts: number }> }

t.test('cli - ferry dev: a port it picked, taken before the site listens, gets the site new ports and the start comes up', async (t) => {
  const tmp = await tmpDir('ferry-dev-ports-')
  t.teardown(tmp.cleanup)
  const run = ferry(['dev', '--sites', 'a,b', '--dir', tmp.dir])
  t.teardown(async () => { if (run.child.exitCode === null) { run.child.kill('SIGTERM'); await within(run.exit, STOPPED_EXIT_MS_MAX, 'ferry dev exits in teardown') } })
  // Take site a's MQTT/TLS port as soon as it is picked: the site starts after etcd and the nats-servers are up.
  const picked = await waitFor(async () => (JSON.parse(await readFile(join(tmp.dir, 'dev.json'), 'utf8')) as Picked).sites?.a?.mqtts, { timeoutMs: PICKS_MS_MAX, intervalMs: 2, what: 'dev.json with site a\'s ports' })
  const blocker = net.createServer()
  await new Promise<void>((resolve, reject) => { blocker.once('error', reject); blocker.listen(picked, '127.0.0.1', resolve) })
  t.teardown(() => { blocker.close() })
  // An exit before READY ends the wait at once (a throw from the check would be taken for "not yet").
  const line = await waitFor(() => /^READY (.*)$/m.exec(run.out())?.[1] ?? (run.child.exitCode !== null || run.child.signalCode !== null ? '' : undefined), { timeoutMs: DEV_READY_MS_MAX, what: 'READY line' })
    .then((l) => { if (l === '') throw new Error(`ferry dev exited ${run.child.exitCode ?? run.child.signalCode} before READY`); return l })
    .catch(async (err: Error) => { throw new Error(`${err.message}\nstderr: ${run.err()}\n${await siteLogs(tmp.dir)}`) })
  const ready = JSON.parse(line) as { sites: Record<string, { mqtts: string }> }
  t.not(ready.sites.a?.mqtts, `mqtts://127.0.0.1:${picked}`, 'site a listens on another MQTT/TLS port')
  t.match(run.err(), /site a: a port picked for it was taken before it listened/, 'ferry dev says why')
  const kept = JSON.parse(await readFile(join(tmp.dir, 'dev.json'), 'utf8')) as Picked
  t.equal(`mqtts://127.0.0.1:${kept.sites?.a?.mqtts}`, ready.sites.a?.mqtts, 'dev.json keeps the ports the site listens on')
  run.child.kill('SIGTERM')
  t.equal(await within(run.exit, STOPPED_EXIT_MS_MAX, 'ferry dev exits after SIGTERM'), 0)
})
