import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { startTestGateway } from '../helpers/gateway.js'
import { httpRequest, topicPath } from '../helpers/http.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'
import { cliArgs } from '../helpers/cli-build.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

async function ferry (args: string[]): Promise<{ code: number | null, out: string, err: string }> {
  const child = spawn(process.execPath, cliArgs([...args]), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_LOG_LEVEL: 'warn' } })
  let out = ''
  let err = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr.on('data', (c: Buffer) => { err += c.toString() })
  const [code] = await once(child, 'exit') as [number | null]
  return { code, out, err }
}

t.test('admin cli - --version, tables, --json, replay with progress, errors that name the address', async (t) => {
  const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string
  const v = await ferry(['--version'])
  t.equal(v.out.trim(), version)

  const gw = await startTestGateway(t, { namespaces: { 'acme/jobs': { maxRedeliveries: 0, redeliveryBackoffMs: [0] } } })
  const url = gw.urls.http
  for (let i = 0; i < 3; i++) await httpRequest(url, 'POST', `${topicPath('acme/jobs/work')}/messages`, { body: `job ${i}` })

  const tenants = await ferry(['admin', '--url', url, 'tenants'])
  t.equal(tenants.code, 0, tenants.err)
  t.match(tenants.out, /^TENANT\s+NAMESPACES/m)
  t.match(tenants.out, /acme\s+acme\/jobs/)
  const topics = await ferry(['admin', '--url', url, '--json', 'topics', 'acme/jobs'])
  t.equal(JSON.parse(topics.out).topics[0].topic, 'work')
  const ov = await ferry(['admin', '--url', url, 'overview'])
  t.match(ov.out, /site test .* READY/)

  const set = await ferry(['admin', '--url', url, 'ns', 'set', 'acme/new', '{"maxRedeliveries":4}'])
  t.equal(set.code, 0, set.err)
  t.equal((await httpRequest(url, 'GET', '/v1/admin/namespaces/acme/new')).json.policy.maxRedeliveries, 4)

  // Dead letters through HTTP pull + nack, then replay from the CLI.
  const got: string[] = []
  await waitFor(async () => {
    const r = await httpRequest(url, 'GET', `${topicPath('acme/jobs/work')}/subscriptions/w/messages?position=earliest&max=10&waitMs=1000`)
    got.push(...r.json.messages.map((m: { messageId: string }) => m.messageId))
    return got.length >= 3
  }, { timeoutMs: 30_000, what: 'pulled' })
  await httpRequest(url, 'POST', `${topicPath('acme/jobs/work')}/subscriptions/w/nack`, { body: JSON.stringify({ messageIds: got }) })
  await waitFor(async () => (await httpRequest(url, 'GET', '/v1/admin/namespaces/acme/jobs/dead-letters')).json.deadLetterTopics[0]?.pending === 3, { timeoutMs: 30_000, what: 'dead letters' })
  const list = await ferry(['admin', '--url', url, 'dlq', 'list', 'acme/jobs'])
  t.match(list.out, /work-w-DLQ\s+work\s+w\s+3\s+3/)
  const replay = await ferry(['admin', '--url', url, 'dlq', 'replay', 'acme/jobs', 'work-w-DLQ'])
  t.equal(replay.code, 0, replay.err)
  t.match(replay.out, /replayed 3; remaining 0/)
  t.match(replay.err, /replay .*3\/3/, 'progress on stderr')

  const missing = await ferry(['admin', '--url', url, 'topic', 'acme/jobs', 'nothing'])
  t.equal(missing.code, 1)
  t.match(missing.err, /E_NOT_FOUND 404/)
  const badNs = await ferry(['admin', '--url', url, 'topics', 'not-a-namespace'])
  t.not(badNs.code, 0)
  t.match(badNs.err, /tenant\/namespace/)

  await gw.close()
  const down = await ferry(['admin', '--url', url, 'overview'])
  t.equal(down.code, 1)
  t.match(down.err, new RegExp(`cannot reach the gateway at ${url.replace(/[.]/g, '\\.')} \\(ECONNREFUSED\\)`))
})

t.test('admin cli - ferry gateway reloads namespace policies on SIGHUP and logs JSON when not on a terminal', async (t) => {
  const tmp = await tmpDir('ferry-hup-')
  t.teardown(tmp.cleanup)
  const cfg = join(tmp.dir, 'site.json')
  await writeFile(cfg, JSON.stringify({ siteId: 'hup', dev: true, dataDir: tmp.dir, listeners: { http: 0 }, namespaces: { 'acme/a': { maxRedeliveries: 1 } } }))
  const child = spawn(process.execPath, cliArgs(['gateway', '--config', cfg, '--log-level', 'info', '--no-probe']), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let out = ''
  let err = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr.on('data', (c: Buffer) => { err += c.toString() })
  const ready = await waitFor(() => /^ferry ready .*$/m.exec(out)?.[0], { timeoutMs: 30_000, what: `ready (${err})` })
  const url = `http://127.0.0.1:${/ http=(\d+)/.exec(ready)?.[1] ?? ''}`
  t.equal((await httpRequest(url, 'GET', '/v1/admin/namespaces/acme/a')).json.policy.maxRedeliveries, 1)
  await writeFile(cfg, JSON.stringify({ siteId: 'hup', dev: true, dataDir: tmp.dir, listeners: { http: 0 }, namespaces: { 'acme/a': { maxRedeliveries: 7 }, 'acme/b': {} } }))
  child.kill('SIGHUP')
  await waitFor(() => err.includes('SIGHUP: configuration reloaded'), { what: 'reload logged' })
  t.equal((await httpRequest(url, 'GET', '/v1/admin/namespaces/acme/a')).json.policy.maxRedeliveries, 7, 'changed policy applied')
  t.equal((await httpRequest(url, 'GET', '/v1/admin/namespaces/acme/b')).status, 200, 'new namespace from the file')
  child.kill('SIGTERM')
  const [code] = await once(child, 'exit') as [number | null]
  t.equal(code, 0)
  const lines = err.trim().split('\n').map((l) => JSON.parse(l) as { msg: string, level: number })
  const msgs = lines.map((l) => l.msg)
  t.ok(msgs.some((m) => m.startsWith('ledger open')), 'recovery summary at info')
  t.ok(msgs.includes('listeners up: ready'), 'start-up step')
  t.ok(msgs.includes('SIGHUP: configuration reloaded (listeners, CORS and quotas need a restart)'), 'SIGHUP says what it reloaded')
  t.ok(msgs.includes('shutdown: ledger closed'), 'shutdown steps')
})
