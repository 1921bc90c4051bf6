/**
 * HTTP front end benchmark: a dev gateway in a child process (the CLI), load
 * from autocannon in this one. Measures publish (single and batch, sync
 * durability: every 201 means fsync'ed) and reports messages/s and latency.
 *
 *   npx tsx gateway/http/bench/bench-http-publish.ts [--seconds 10] [--connections 64]
 */
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GATEWAY_NODE_FLAGS } from '../../node-flags.js'

interface AutocannonResult {
  requests: { average: number, total: number }
  latency: { p50: number, p99: number, average: number }
  non2xx: number
  errors: number
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>

const require = createRequire(import.meta.url)
const autocannon = require('autocannon') as Autocannon
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

function arg (name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}

const seconds = arg('seconds', 10)
const connections = arg('connections', 64)
/** autocannon worker threads (0: none). One JS client thread tops out near 20k req/s; more help only with spare cores. */
const workers = arg('workers', 0)
const clientThreads = workers > 0 ? { workers } : {}
const BATCH_MESSAGES = 100
const PAYLOAD_BYTES = 64

async function main (): Promise<void> {
  const data = await mkdtemp(join(tmpdir(), 'ferry-bench-http-'))
  const child = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, '--import', 'tsx', join(root, 'cli', 'ferry.ts'), 'gateway', '--dev', '--data', data, '--http', '0'], {
    cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, FERRY_LOG_LEVEL: 'warn' }
  })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
      const m = / http=(\d+)/.exec(out)
      if (m !== null) resolve(Number(m[1]))
    })
    child.on('exit', (code) => { reject(new Error(`gateway exited ${String(code)}`)) })
  })
  const base = `http://127.0.0.1:${port}`
  const payload = 'x'.repeat(PAYLOAD_BYTES)
  try {
    const single = await autocannon({
      url: `${base}/v1/topics/public/default/bench/single/messages`, method: 'POST', body: payload,
      headers: { 'content-type': 'text/plain' }, connections, duration: seconds, ...clientThreads
    })
    // Same load on a memory-durability namespace: what the HTTP front end and dispatcher cost without fsync.
    // fetch labels a string body text/plain, which the admin API refuses (415): say it is JSON, and check it worked.
    const created = await fetch(`${base}/v1/admin/namespaces/bench/mem`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"durability":"memory"}' })
    if (created.status !== 201 && created.status !== 200) throw new Error(`creating namespace bench/mem: ${created.status} ${await created.text()}`)
    const memory = await autocannon({
      url: `${base}/v1/topics/bench/mem/single/messages`, method: 'POST', body: payload,
      headers: { 'content-type': 'text/plain' }, connections, duration: seconds, ...clientThreads
    })
    const batchBody = JSON.stringify(Array.from({ length: BATCH_MESSAGES }, () => ({ payload })))
    const batch = await autocannon({
      url: `${base}/v1/topics/public/default/bench/batch/messages`, method: 'POST', body: batchBody,
      headers: { 'content-type': 'application/vnd.ferry.batch+json' }, connections: Math.max(1, connections / 4), duration: seconds, ...clientThreads
    })
    const report = (name: string, r: AutocannonResult, perReq: number): void => {
      process.stdout.write(`${name}: ${Math.round(r.requests.average * perReq)} msg/s (${Math.round(r.requests.average)} req/s), ` +
        `latency p50 ${r.latency.p50} ms p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors}\n`)
    }
    process.stdout.write(`HTTP publish, ${PAYLOAD_BYTES} B payloads, sync durability, ${connections} connections, ${workers} client workers, ${seconds} s each\n`)
    report('single', single, 1)
    report('single, memory durability', memory, 1)
    report(`batch of ${BATCH_MESSAGES}`, batch, BATCH_MESSAGES)
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
    await rm(data, { recursive: true, force: true })
  }
}

await main()
