/**
 * bench:replication runs end to end in its quick form (two sites, two nats-servers, the real replicator) with
 * either publish API, reports every figure of its throughput phase, and every message published at site a is
 * held by site b (the bench waits for b's count: a lost message would time it out and fail it).
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const BENCH = fileURLToPath(new URL('../../loadtest/bench-replication.ts', import.meta.url))
/** The quick run takes ~4 s on two cores; this bounds a hang, not a speed. */
const RUN_TIMEOUT_MS = 120_000

async function run (publish: string): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, ['--import', 'tsx', BENCH, '--json', '--quick', '--throughput-only', '--publish', publish], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr.on('data', (c: Buffer) => { err += c.toString() })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, RUN_TIMEOUT_MS)
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  clearTimeout(timer)
  if (code !== 0) throw new Error(`bench-replication exited ${String(code)}: ${err}`)
  return JSON.parse(out.trim().split('\n').pop() as string) as Record<string, unknown>
}

for (const publish of ['sink', 'promise']) {
  t.test(`bench:replication --quick --publish ${publish}: every figure of the throughput phase`, async (t) => {
    const r = await run(publish)
    t.equal(r.bench, 'replication')
    for (const k of ['localPublishMsgsPerSec', 'drainMsgsPerSec', 'replicatedMsgsPerSec', 'replicatedToLocalRatio', 'cpuUsPerMsgSiteA', 'cpuUsPerMsgSiteB', 'replicatedEntriesPerBatch']) {
      t.ok(typeof r[k] === 'number' && (r[k] as number) > 0, `${k} is a positive number (${String(r[k])})`)
    }
    t.type(r.loadAverage1m, 'number')
  })
}

t.test('bench:replication refuses an unknown publish API', async (t) => {
  await t.rejects(run('carrier-pigeon'), /--publish sink\|promise/)
})
