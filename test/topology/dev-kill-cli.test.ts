/**
 * `ferry dev` killed with SIGKILL: what it started must not block the next
 * start (cli/dev-leftovers.ts, the sites' parent watch in cli/site-run.ts).
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'
import { spawnFerry as ferry, type Run } from '../helpers/ferry-cli.js'

t.test('cli - ferry dev after a kill -9: its sites stop by themselves, the next start stops the leftover etcd and nats-servers and comes up', async (t) => {
  const tmp = await tmpDir('ferry-dev-kill-')
  t.teardown(tmp.cleanup)
  const running = async (): Promise<string[]> => await new Promise((resolve) => {
    execFile('pgrep', ['-af', tmp.dir], (_err, out) => { resolve(out.split('\n').filter((l) => l.trim() !== '' && !l.includes('pgrep'))) })
  })
  t.teardown(async () => { for (const l of await running()) { try { process.kill(Number(l.split(' ')[0]), 'SIGKILL') } catch {} } })
  const startDev = async (): Promise<Run> => {
    const run = ferry(['dev', '--sites', 'a,b', '--dir', tmp.dir])
    // An exit before READY fails the start at once, with its stderr: waitFor takes a throw from its check for "not
    // yet" and polls on (its deadline, stretched x3, outlasts tap's timeout: a start that failed under load hung).
    const exited = run.exit.then((code) => { throw new Error(`ferry dev exited ${code} before READY: ${run.err()}`) })
    exited.catch(() => {})
    await Promise.race([waitFor(() => /^READY /m.test(run.out()), { timeoutMs: 90_000, what: 'READY line' }), exited])
    return run
  }
  const first = await startDev()
  first.child.kill('SIGKILL')
  await first.exit
  await waitFor(async () => (await running()).every((l) => !/ site --dev /.test(l)), { timeoutMs: 30_000, what: 'the sites of the killed ferry dev exit' })
  t.pass('the sites closed when ferry dev was gone')
  t.ok((await running()).some((l) => /nats-server|etcd/.test(l)), 'its etcd and nats-servers are still running (they cannot watch their parent)')
  const second = await startDev()
  t.match(second.err(), /stopping what an earlier run .* left running: .*(etcd|nats-server)/, 'the next start says what it stopped')
  second.child.kill('SIGTERM')
  t.equal(await second.exit, 0)
  t.same(await running(), [], 'nothing of DIR is left after a clean stop')
})
