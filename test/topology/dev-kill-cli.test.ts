/**
 * `ferry dev` killed with SIGKILL: what it started must not block the next
 * start (cli/dev-leftovers.ts, the sites' parent watch in cli/site-run.ts).
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor, within } from '../helpers/wait.js'
import { siteLogs } from '../helpers/dev-logs.js'
import { spawnFerry as ferry, type Run } from '../helpers/ferry-cli.js'

// Each wait has its own bound (x WAIT_DEADLINE_SCALE), so a stuck step fails naming itself before tap's 240 s
// timeout, which names none. A quiet start takes ~5 s, ~25 s at a load average of 20.
/** ferry dev's READY line (its own deadline for the sites is longer: this one is for the test's budget). */
const DEV_READY_MS_MAX = 60_000
/** ferry dev's exit after SIGKILL. */
const KILLED_EXIT_MS_MAX = 10_000
/** The killed ferry dev's sites notice (they poll their parent each second) and close. */
const SITES_GONE_MS_MAX = 20_000
/** ferry dev's exit after SIGTERM (its children get 15 s each, then its services 5 s each). */
const STOPPED_EXIT_MS_MAX = 20_000

t.test('cli - ferry dev after a kill -9: its sites stop by themselves, the next start stops the leftover etcd and nats-servers and comes up', async (t) => {
  const tmp = await tmpDir('ferry-dev-kill-')
  t.teardown(tmp.cleanup)
  const running = async (): Promise<string[]> => await new Promise((resolve) => {
    execFile('pgrep', ['-af', tmp.dir], (_err, out) => { resolve(out.split('\n').filter((l) => l.trim() !== '' && !l.includes('pgrep'))) })
  })
  t.teardown(async () => { for (const l of await running()) { try { process.kill(Number(l.split(' ')[0]), 'SIGKILL') } catch {} } })
  const startDev = async (which: string): Promise<Run> => {
    const run = ferry(['dev', '--sites', 'a,b', '--dir', tmp.dir])
    // An exit before READY ends the wait at once (a throw from the check would be taken for "not yet"); either way
    // the message carries ferry dev's stderr and the site logs (where a site that could not start says why).
    const readyOrExited = (): boolean => /^READY /m.test(run.out()) || run.child.exitCode !== null || run.child.signalCode !== null
    await waitFor(readyOrExited, { timeoutMs: DEV_READY_MS_MAX, what: `READY line of the ${which} start` })
      .then(() => { if (!/^READY /m.test(run.out())) throw new Error(`ferry dev exited ${run.child.exitCode ?? run.child.signalCode} before READY`) })
      .catch(async (err: Error) => { throw new Error(`${which} start: ${err.message}\nstderr: ${run.err()}\n${await siteLogs(tmp.dir)}`) })
    return run
  }
  const first = await startDev('first')
  first.child.kill('SIGKILL')
  await within(first.exit, KILLED_EXIT_MS_MAX, 'the exit of ferry dev after SIGKILL')
  await waitFor(async () => (await running()).every((l) => !/ site --dev /.test(l)), { timeoutMs: SITES_GONE_MS_MAX, what: 'the sites of the killed ferry dev exit' })
  t.pass('the sites closed when ferry dev was gone')
  t.ok((await running()).some((l) => /nats-server|etcd/.test(l)), 'its etcd and nats-servers are still running (they cannot watch their parent)')
  const second = await startDev('second')
  t.match(second.err(), /stopping what an earlier run .* left running: .*(etcd|nats-server)/, 'the next start says what it stopped')
  second.child.kill('SIGTERM')
  t.equal(await within(second.exit, STOPPED_EXIT_MS_MAX, 'the exit of the second ferry dev after SIGTERM'), 0)
  t.same(await running(), [], 'nothing of DIR is left after a clean stop')
})
