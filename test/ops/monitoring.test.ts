import t from 'tap'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { startGateway } from '../../gateway/server.js'
import { httpRequest } from '../helpers/http.js'
import { tmpDir } from '../helpers/tmp.js'
import type { Teardownable } from '../helpers/gateway.js'
import { waitFor } from '../helpers/wait.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
/** Series that come from Prometheus itself or node_exporter, not from the gateway. */
const EXTERNAL = new Set(['up', 'node_filesystem_size_bytes'])

function seriesIn (expr: string): string[] {
  // Label matchers and grouping clauses hold label names, not series.
  const bare = expr.replace(/\{[^}]*\}/g, '').replace(/\b(by|without)\s*\([^)]*\)/g, '').replace(/"[^"]*"/g, '')
  return [...bare.matchAll(/\b([a-z_][a-z0-9_]*)\b(?!\s*\()/g)].map((m) => m[1] as string)
    .filter((n) => n.includes('_') || EXTERNAL.has(n))
    .filter((n) => !['le', 'instance', 'tenant', 'namespace', 'protocol', 'status', 'reason', 'mountpoint'].includes(n))
}

async function startWithProber (t: Teardownable): Promise<{ url: string, close: () => Promise<void> }> {
  const tmp = await tmpDir('ferry-mon-')
  const gw = await startGateway({ siteId: 'mon', dataDir: join(tmp.dir, 'ledger'), dev: true, host: '127.0.0.1', httpPort: 0, prober: { intervalMs: 200, timeoutMs: 10_000 } })
  t.teardown(async () => { await gw.close(); await tmp.cleanup() })
  return { url: `http://127.0.0.1:${gw.ports.http ?? 0}`, close: async () => { await gw.close() } }
}

t.test('ops monitoring - the health detector measures the probe round trip and reports it', async (t) => {
  const gw = await startWithProber(t)
  const text = await waitFor(async () => {
    const r = await httpRequest(gw.url, 'GET', '/metrics')
    const m = /^ferry_probe_duration_seconds_count (\d+)/m.exec(r.text)
    return m !== null && Number(m[1]) >= 3 ? r.text : undefined
  }, { timeoutMs: 30_000, what: 'three probes back' })
  t.match(text, /^ferry_probe_last_success_timestamp_seconds [1-9]/m)
  const ready = await httpRequest(gw.url, 'GET', '/readyz')
  t.equal(ready.json.checks.prober, 'ok')
  const ov = await httpRequest(gw.url, 'GET', '/v1/admin/overview')
  t.type(ov.json.latencyMs.probeP99, 'number', 'shown in the overview (console)')
  t.ok(ov.json.probe.lastSuccessAt > 0)
})

t.test('ops monitoring - alert rules and the Grafana dashboard parse, and every series they use is exported', async (t) => {
  const gw = await startWithProber(t)
  const scrape = (await httpRequest(gw.url, 'GET', '/metrics')).text
  const exported = new Set<string>()
  for (const line of scrape.split('\n')) {
    const m = /^# TYPE (\S+)/.exec(line) ?? /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line)
    if (m !== null) exported.add(m[1] as string)
  }
  const check = (expr: string, where: string): void => {
    const names = seriesIn(expr)
    t.ok(names.length > 0, `${where} uses a series`)
    for (const n of names) t.ok(EXTERNAL.has(n) || exported.has(n), `${where}: ${n} is exported`)
  }

  const rules = parseYaml(await readFile(join(root, 'docs', 'monitoring', 'ferry-alerts.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string, expr: string, annotations: { summary: string } }> }> }
  const alerts = rules.groups.flatMap((g) => g.rules)
  t.ok(alerts.length >= 10, 'alert rules')
  const runbook = await readFile(join(root, 'docs', 'OPERATIONS.md'), 'utf8')
  for (const a of alerts) {
    check(a.expr, a.alert)
    t.ok(a.annotations.summary.length > 0)
    t.ok(runbook.includes(`### ${a.alert}`), `${a.alert} is explained in the runbook`)
  }

  const dash = JSON.parse(await readFile(join(root, 'docs', 'monitoring', 'ferry-dashboard.json'), 'utf8')) as { panels: Array<{ title: string, targets: Array<{ expr: string }> }> }
  t.ok(dash.panels.length >= 8, 'dashboard panels')
  for (const p of dash.panels) for (const target of p.targets) check(target.expr, `panel ${p.title}`)
})
