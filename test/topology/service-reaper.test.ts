import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const CHILD = fileURLToPath(new URL('../helpers/service-exit-child.ts', import.meta.url))

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

t.test('topology - dev services: etcd and nats-server die with the process that started them when it exits without stopping them', async (t) => {
  const { dir, cleanup } = await tmpDir('ferry-reaper-')
  t.teardown(cleanup)
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (b: Buffer) => { out += b.toString() })
  const [code] = await once(child, 'exit') as [number | null]
  t.equal(code, 3, 'the child left with process.exit')
  const pids = JSON.parse(out.split('\n')[0]!) as number[]
  t.equal(pids.length, 2, 'it had started etcd and a nats-server')
  t.teardown(() => { for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL') })
  // SIGKILL is sent as the child exits; the kernel reaps them a moment later.
  await waitFor(() => pids.every((pid) => !alive(pid)), { what: 'both services gone' })
  t.pass('no service outlived its parent')
})
