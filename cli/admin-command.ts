/**
 * `ferry admin ...`: the admin API from the command line. Human tables by
 * default, `--json` for scripts (the API's JSON, unchanged), a progress bar
 * on stderr for long operations (dead-letter replay runs in bounded steps).
 * Errors name what was tried: an unreachable gateway names its address.
 */
import { readFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { Command, InvalidArgumentError } from 'commander'
import { FerryError } from '../common/errors.js'

const DEFAULT_URL = process.env.FERRY_URL ?? 'http://127.0.0.1:8080'
/** Longest wait for one admin reply, ms: admin calls are short; a hung gateway must not hang the shell. */
const ADMIN_REQUEST_TIMEOUT_MS = 30_000
/** Steps of one replay command at most: REPLAY_MESSAGES_PER_REQUEST_MAX each, so a million dead letters at most. */
const REPLAY_STEPS_MAX = 1000
/** Widest table cell, characters: long topic names are cut with an ellipsis. */
const CELL_CHARS_MAX = 60

export interface AdminGlobals { url: string, token?: string, ca?: string, json?: boolean }

export class AdminClient {
  private readonly base: URL
  private readonly ca: string | undefined

  constructor (readonly opts: AdminGlobals) {
    try { this.base = new URL(opts.url) } catch { throw new FerryError('E_CONFIG', `--url ${opts.url} is not a URL (http://host:port or https://host:port)`) }
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') throw new FerryError('E_CONFIG', `--url must be http:// or https://, not ${this.base.protocol}`)
    this.ca = opts.ca !== undefined ? readFileSync(opts.ca, 'utf8') : undefined
  }

  /** One request; resolves with the JSON reply, throws FerryError with the gateway's code or a connection error naming the address. */
  async call (method: string, path: string, body?: unknown): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON from the API
    const url = new URL(path, this.base)
    const text = body === undefined ? undefined : JSON.stringify(body)
    const headers: Record<string, string | number> = {}
    if (text !== undefined) { headers['content-type'] = 'application/json'; headers['content-length'] = Buffer.byteLength(text) }
    if (this.opts.token !== undefined) headers.authorization = `Bearer ${this.opts.token}`
    const make = url.protocol === 'https:' ? httpsRequest : httpRequest
    return await new Promise((resolve, reject) => {
      const req = make(url, { method, headers, ca: this.ca, timeout: ADMIN_REQUEST_TIMEOUT_MS }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8')
          let doc: any // eslint-disable-line @typescript-eslint/no-explicit-any
          try { doc = JSON.parse(raw) } catch { doc = undefined }
          const status = res.statusCode ?? 0
          if (status >= 200 && status < 300) { resolve(doc); return }
          const e = doc?.error
          reject(new FerryError(typeof e?.code === 'string' ? e.code : 'E_HTTP', `${typeof e?.message === 'string' ? e.message : raw.slice(0, 200)} (${e?.code ?? 'HTTP'} ${status} from ${method} ${url.href})`))
        })
      })
      req.on('timeout', () => { req.destroy(new Error(`no reply within ${ADMIN_REQUEST_TIMEOUT_MS} ms`)) })
      req.on('error', (err: NodeJS.ErrnoException) => {
        const hint = err.code === 'ECONNREFUSED' ? ': is `ferry gateway` running there? (--url or FERRY_URL)' : ''
        reject(new FerryError('E_UNREACHABLE', `cannot reach the gateway at ${this.base.origin} (${err.code ?? err.message})${hint}`))
      })
      req.end(text)
    })
  }
}

/** A plain text table: a header row, columns padded to their widest cell. */
export function table (rows: ReadonlyArray<Record<string, unknown>>, columns: readonly string[]): string {
  if (rows.length === 0) return '(none)\n'
  const cell = (v: unknown): string => {
    const s = v === undefined || v === null ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v)
    return s.length > CELL_CHARS_MAX ? `${s.slice(0, CELL_CHARS_MAX - 1)}…` : s
  }
  const cells = rows.map((r) => columns.map((c) => cell(r[c])))
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => (row[i] as string).length)))
  const line = (vals: readonly string[]): string => vals.map((v, i) => v.padEnd(widths[i] as number)).join('  ').trimEnd()
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n') + '\n'
}

/** A progress bar on stderr (a line per step when stderr is not a terminal). */
export function progress (label: string, done: number, total: number): void {
  const width = 30
  const frac = total <= 0 ? 1 : Math.min(1, done / total)
  const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.')
  if (process.stderr.isTTY === true) process.stderr.write(`\r${label} [${bar}] ${done}/${total}${done >= total ? '\n' : ''}`)
  else process.stderr.write(`${label} ${done}/${total}\n`)
}

function nsArg (v: string): string {
  if (!/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(v)) throw new InvalidArgumentError('must be tenant/namespace')
  return v
}

function intArg (v: string): number {
  if (!/^\d{1,15}$/.test(v)) throw new InvalidArgumentError('must be a non-negative integer')
  return Number(v)
}

function csvArg (v: string): string[] {
  const list = v.split(',').map((x) => x.trim()).filter((x) => x.length > 0)
  if (list.length === 0) throw new InvalidArgumentError('give a comma separated list')
  return list
}

const seg = encodeURIComponent

function out (g: AdminGlobals, doc: unknown, human: () => string): void {
  process.stdout.write(g.json === true ? JSON.stringify(doc, null, 2) + '\n' : human())
}

export function registerAdminCommand (program: Command): void {
  const admin = program.command('admin')
    .description('the admin API of a running gateway (tables; --json for scripts)')
    .option('--url <url>', 'gateway URL (or FERRY_URL)', DEFAULT_URL)
    .option('--token <token>', 'a token with the admin action (outside dev mode; or FERRY_TOKEN)', process.env.FERRY_TOKEN)
    .option('--ca <file>', 'CA certificate (PEM) to trust for https')
    .option('--json', 'print the API\'s JSON instead of tables')

  const run = (fn: (c: AdminClient, g: AdminGlobals, ...args: any[]) => Promise<void>) => // eslint-disable-line @typescript-eslint/no-explicit-any
    async (...args: unknown[]): Promise<void> => {
      const g = admin.opts<AdminGlobals>()
      try {
        await fn(new AdminClient(g), g, ...args)
      } catch (err) {
        process.stderr.write(`ferry admin: ${(err as Error).message}\n`)
        process.exit(1)
      }
    }

  admin.command('overview').description('site overview: readiness, counts, rates, latency').action(run(async (c, g) => {
    const o = await c.call('GET', '/v1/admin/overview')
    out(g, o, () => {
      const r = o.rates
      const l = o.latencyMs
      return [
        `site ${o.siteId}  version ${o.version}  up ${o.uptimeSec}s  ${o.readiness.ready ? 'READY' : `NOT READY (${o.readiness.phase})`}`,
        `namespaces ${o.counts.namespaces}  topics ${o.counts.topics}  subscriptions ${o.counts.subscriptions}  backlog ${o.counts.backlog}  sessions ${o.counts.sessions}`,
        `connections ${Object.entries(o.counts.connections).map(([k, v]) => `${k}=${String(v)}`).join(' ')}`,
        `published ${o.totals.published} (${r.publishedPerSec.toFixed(1)}/s)  delivered ${o.totals.delivered} (${r.deliveredPerSec.toFixed(1)}/s)  acked ${o.totals.acked}`,
        `publish p50 ${l.publishP50 ?? '-'} ms  p99 ${l.publishP99 ?? '-'} ms  fsync p99 ${l.fsyncP99 ?? '-'} ms  probe p99 ${l.probeP99 ?? '-'} ms`
      ].join('\n') + '\n'
    })
  }))

  admin.command('health').description('liveness and readiness').action(run(async (c, g) => {
    const h = await c.call('GET', '/healthz')
    const r = await c.call('GET', '/readyz').catch((err: unknown) => ({ ready: false, error: (err as Error).message }))
    out(g, { health: h, ready: r }, () => `alive: ${h.status}\nready: ${r.ready === true ? 'yes' : `no (${String(r.error ?? r.phase)})`}\n`)
  }))

  admin.command('sites').description('sites of the network: endpoints, alive, preference; etcd and NATS').action(run(async (c, g) => {
    const d = await c.call('GET', '/v1/admin/sites')
    out(g, d, () => d.networked !== true
      ? `site ${d.siteId} is not part of a network (started with ferry gateway, not ferry site)\n`
      : `network ${d.network}  etcd ${d.etcd.up === true ? 'up' : 'DOWN'}${d.etcd.stale === true ? ' (stale view)' : ''}  nats ${d.nats.up === true ? 'up' : 'DOWN'}\n` +
        table(d.sites.map((s: Record<string, unknown>) => {
          const e = s.endpoints as Record<string, string>
          return { site: `${String(s.id)}${s.self === true ? ' *' : ''}`, region: s.region, alive: s.alive === true ? 'yes' : 'no', preference: s.preference, mqtt: e.mqtts ?? e.mqtt, http: e.https ?? e.http }
        }), ['site', 'region', 'alive', 'preference', 'mqtt', 'http']))
  }))

  admin.command('links').description('outbound replication links of this site: state and lag').action(run(async (c, g) => {
    const d = await c.call('GET', '/v1/admin/links')
    out(g, d, () => d.networked !== true
      ? `site ${d.siteId} is not part of a network (started with ferry gateway, not ferry site)\n`
      : table(d.links.map((l: Record<string, unknown>) => ({
        remote: l.remote,
        state: l.state,
        connected: l.connected === true ? 'yes' : 'no',
        lagEntries: `${String(l.lagEntries)}${l.lagIsLowerBound === true ? '+' : ''}`,
        lagBytes: l.lagBytes,
        lagSeconds: typeof l.lagSeconds === 'number' ? l.lagSeconds.toFixed(1) : l.lagSeconds,
        alert: l.backlogAlert === true ? 'BACKLOG' : '',
        shipped: l.entriesShipped,
        failures: l.failures,
        lastError: (l.lastError as { code?: string } | undefined)?.code
      })), ['remote', 'state', 'connected', 'lagEntries', 'lagBytes', 'lagSeconds', 'alert', 'shipped', 'failures', 'lastError']))
  }))

  admin.command('tenants').description('tenants and their namespaces').action(run(async (c, g) => {
    const d = await c.call('GET', '/v1/admin/tenants')
    out(g, d, () => table(d.tenants.map((t: Record<string, unknown>) => ({ ...t, namespaces: (t.namespaces as string[]).join(',') })), ['tenant', 'namespaces', 'topics', 'storedBytes']))
  }))

  const ns = admin.command('ns').description('namespaces and policies')
  ns.command('list').action(run(async (c, g) => {
    const d = await c.call('GET', '/v1/admin/namespaces')
    out(g, d, () => d.namespaces.join('\n') + '\n')
  }))
  ns.command('get <tenant/ns>').action(run(async (c, g, name: string) => {
    const d = await c.call('GET', `/v1/admin/namespaces/${nsArg(name)}`)
    out(g, d, () => table(Object.entries(d.policy).map(([field, value]) => ({ field, value })), ['field', 'value']))
  }))
  ns.command('set <tenant/ns> <policyJson>').description('create or change: ferry admin ns set acme/orders \'{"maxRedeliveries":5}\'').action(run(async (c, g, name: string, policy: string) => {
    let patch: unknown
    try { patch = JSON.parse(policy) } catch { throw new FerryError('E_BAD_REQUEST', `the policy must be JSON, e.g. '{"maxRedeliveries":5}'`) }
    const d = await c.call('PUT', `/v1/admin/namespaces/${nsArg(name)}`, patch)
    out(g, d, () => `namespace ${d.namespace} saved\n`)
  }))
  ns.command('delete <tenant/ns>').option('--force', 'delete even with subscriptions or stored messages').action(run(async (c, g, name: string, o: { force?: boolean }) => {
    const d = await c.call('DELETE', `/v1/admin/namespaces/${nsArg(name)}${o.force === true ? '?force=true' : ''}`)
    out(g, d, () => `namespace ${d.namespace} deleted\n`)
  }))

  admin.command('topics <tenant/ns>').description('topics with stats').option('--max <n>', 'most topics', intArg, 100).option('--after <topic>', 'page after this topic')
    .action(run(async (c, g, name: string, o: { max: number, after?: string }) => {
      const q = new URLSearchParams({ max: String(o.max), ...(o.after !== undefined ? { after: o.after } : {}) })
      const d = await c.call('GET', `/v1/admin/namespaces/${nsArg(name)}/topics?${q.toString()}`)
      out(g, d, () => table(d.topics, ['topic', 'storedMessages', 'storedBytes', 'backlog', 'subscriptions', 'producers', 'rateInPerSec', 'rateOutPerSec']) + (d.more === true ? '(more: use --after)\n' : ''))
    }))
  admin.command('topic <tenant/ns> <topic>').description('one topic and its subscriptions').action(run(async (c, g, name: string, topic: string) => {
    const d = await c.call('GET', `/v1/admin/topics/${nsArg(name)}/${seg(topic)}`)
    out(g, d, () => `${d.fullName}: ${d.storedMessages} stored (${d.storedBytes} bytes), backlog ${d.backlog}, ids ${d.firstMessageId}..${d.nextMessageId}\n` +
      table(d.subscriptionList, ['subscription', 'mode', 'consumers', 'backlog', 'pendingAck', 'delivered', 'acked', 'deadLettered']) +
      `producers${d.producersDropped > 0 ? ` (${String(d.producersDropped)} more not listed)` : ''}:\n` +
      table(d.producerList.map((p: Record<string, unknown>) => ({ ...p, ratePerSec: typeof p.ratePerSec === 'number' ? p.ratePerSec.toFixed(1) : p.ratePerSec, lastSeenAt: new Date(p.lastSeenAt as number).toISOString() })), ['name', 'protocol', 'messages', 'ratePerSec', 'lastSeenAt']))
  }))
  admin.command('peek <tenant/ns> <topic>').description('stored messages of a topic').option('--from <id>', 'first message id', intArg, 0).option('--max <n>', 'most messages', intArg, 10)
    .action(run(async (c, g, name: string, topic: string, o: { from: number, max: number }) => {
      const d = await c.call('GET', `/v1/admin/topics/${nsArg(name)}/${seg(topic)}/messages?from=${o.from}&max=${o.max}`)
      out(g, d, () => table(d.messages, ['messageId', 'publishTime', 'bytes', 'payload']))
    }))

  const sub = admin.command('sub').description('subscriptions')
  const subPath = (name: string, topic: string, s: string): string => `/v1/admin/topics/${nsArg(name)}/${seg(topic)}/subscriptions/${seg(s)}`
  sub.command('list <tenant/ns>').action(run(async (c, g, name: string) => {
    const d = await c.call('GET', `/v1/admin/namespaces/${nsArg(name)}/subscriptions`)
    out(g, d, () => table(d.subscriptions, ['filter', 'subscription', 'mode', 'consumers', 'backlog', 'pendingAck', 'delivered', 'acked', 'deadLettered']))
  }))
  sub.command('create <tenant/ns> <topic> <subscription>').option('--mode <mode>', 'exclusive, failover, shared, key_shared', 'shared').option('--position <p>', 'latest or earliest', 'latest')
    .action(run(async (c, g, name: string, topic: string, s: string, o: { mode: string, position: string }) => {
      const d = await c.call('PUT', subPath(name, topic, s), { mode: o.mode, position: o.position })
      out(g, d, () => `subscription ${d.subscription} on ${topic}: backlog ${d.backlog}\n`)
    }))
  sub.command('delete <tenant/ns> <topic> <subscription>').action(run(async (c, g, name: string, topic: string, s: string) => {
    const d = await c.call('DELETE', subPath(name, topic, s))
    out(g, d, () => `subscription ${s} deleted\n`)
  }))
  sub.command('peek <tenant/ns> <topic> <subscription>').option('--max <n>', 'most messages', intArg, 10).action(run(async (c, g, name: string, topic: string, s: string, o: { max: number }) => {
    const d = await c.call('GET', `${subPath(name, topic, s)}/peek?max=${o.max}`)
    out(g, d, () => table(d.messages, ['messageId', 'publishTime', 'bytes', 'payload']))
  }))
  sub.command('skip <tenant/ns> <topic> <subscription> <count>').action(run(async (c, g, name: string, topic: string, s: string, count: string) => {
    const d = await c.call('POST', `${subPath(name, topic, s)}/skip`, { count: intArg(count) })
    out(g, d, () => `skipped ${d.skipped}; backlog ${d.backlog}\n`)
  }))
  sub.command('reset <tenant/ns> <topic> <subscription>').description('move the cursor to an id or a time, forward or backward (backward: delivered again, acknowledged ones too)').option('--to-id <id>', 'next message to deliver').option('--to-time <time>', 'ISO date or epoch ms')
    .action(run(async (c, g, name: string, topic: string, s: string, o: { toId?: string, toTime?: string }) => {
      if ((o.toId === undefined) === (o.toTime === undefined)) throw new FerryError('E_BAD_REQUEST', 'give one of --to-id or --to-time')
      const body = o.toId !== undefined ? { messageId: o.toId } : { time: /^\d+$/.test(o.toTime as string) ? Number(o.toTime) : o.toTime }
      progress('reset', 0, 1)
      const d = await c.call('POST', `${subPath(name, topic, s)}/reset`, body)
      progress('reset', 1, 1)
      out(g, d, () => `reset ${d.direction}: next message ${d.nextMessageId}; backlog ${d.backlog}\n`)
    }))
  sub.command('clear <tenant/ns> <topic> <subscription>').description('acknowledge the whole backlog').action(run(async (c, g, name: string, topic: string, s: string) => {
    progress('clear', 0, 1)
    const d = await c.call('POST', `${subPath(name, topic, s)}/clear`)
    progress('clear', 1, 1)
    out(g, d, () => `cleared ${d.cleared}; backlog ${d.backlog}\n`)
  }))

  const dlq = admin.command('dlq').description('dead letters')
  dlq.command('list <tenant/ns>').action(run(async (c, g, name: string) => {
    const d = await c.call('GET', `/v1/admin/namespaces/${nsArg(name)}/dead-letters`)
    out(g, d, () => table(d.deadLetterTopics, ['topic', 'originalTopic', 'subscription', 'total', 'pending']))
  }))
  dlq.command('peek <tenant/ns> <dlqTopic>').option('--max <n>', 'most messages', intArg, 10).action(run(async (c, g, name: string, topic: string, o: { max: number }) => {
    const d = await c.call('GET', `/v1/admin/dead-letters/${nsArg(name)}/${seg(topic)}?max=${o.max}`)
    out(g, d, () => table(d.messages, ['messageId', 'reason', 'bytes', 'payload']))
  }))
  dlq.command('replay <tenant/ns> <dlqTopic>').description('republish pending dead letters to the original topic').option('--to <topic>', 'republish to this topic instead')
    .action(run(async (c, g, name: string, topic: string, o: { to?: string }) => {
      const path = `/v1/admin/dead-letters/${nsArg(name)}/${seg(topic)}`
      const first = await c.call('GET', `${path}?max=1`)
      const total = Number(first.pending)
      let replayed = 0
      let last: any // eslint-disable-line @typescript-eslint/no-explicit-any
      progress('replay', 0, total)
      for (let step = 0; step < REPLAY_STEPS_MAX; step++) {
        last = await c.call('POST', `${path}/replay`, o.to !== undefined ? { topic: o.to } : {})
        replayed += Number(last.replayed)
        progress('replay', Math.min(replayed, total), total)
        if (last.remaining === 0 || last.replayed === 0) break
      }
      out(g, { replayed, remaining: last?.remaining ?? 0 }, () => `replayed ${replayed}; remaining ${String(last?.remaining ?? 0)}\n`)
    }))

  admin.command('clients').description('connected MQTT clients').action(run(async (c, g) => {
    const d = await c.call('GET', '/v1/admin/mqtt/clients')
    out(g, d, () => table(d.clients, ['clientId', 'namespace', 'protocolVersion', 'transport', 'remoteAddress', 'subscriptions']))
  }))
  admin.command('sessions').description('MQTT sessions').action(run(async (c, g) => {
    const d = await c.call('GET', '/v1/admin/mqtt/sessions')
    out(g, d, () => table(d.sessions.map((s: Record<string, unknown>) => ({ ...s, subscriptions: (s.subscriptions as Array<{ filter: string }>).map((x) => x.filter).join(',') })), ['clientId', 'namespace', 'connected', 'expirySec', 'subscriptions']))
  }))
  admin.command('tokens').description('access tokens issued from the gateway\'s PKI dir (never the token strings)').action(run(async (c, g) => {
    const d = await c.call('GET', '/v1/admin/tokens')
    out(g, d, () => table(d.tokens.map((t: Record<string, unknown>) => ({
      ...t,
      namespaces: (t.namespaces as string[]).join(','),
      actions: (t.actions as string[]).join(','),
      topics: Array.isArray(t.topics) ? (t.topics as string[]).join(',') : undefined,
      state: t.revoked === true ? 'revoked' : t.expired === true ? 'expired' : 'valid'
    })), ['id', 'tenant', 'namespaces', 'actions', 'topics', 'expiresAt', 'state']))
  }))
  const token = admin.command('token').description('issue or revoke an access token in the gateway\'s PKI dir')
  token.command('issue').description('issue a token; prints it alone (--json: {"id","token","tenant","expiresAt",...}); it is shown only once')
    .requiredOption('--tenant <tenant>', 'tenant (`*`: network operator)')
    .requiredOption('--ns <list>', 'namespaces, comma separated (`*` matches any run of name characters; the first is the default)', csvArg)
    .requiredOption('--actions <list>', 'produce, consume, admin (comma separated)', csvArg)
    .requiredOption('--ttl <duration>', 'lifetime: 30d, 12h, 90m, 45s')
    .option('--topics <list>', 'narrow to MQTT-style topic patterns (comma separated)', csvArg)
    .action(run(async (c, g, o: { tenant: string, ns: string[], actions: string[], ttl: string, topics?: string[] }) => {
      const d = await c.call('POST', '/v1/admin/tokens', { tenant: o.tenant, namespaces: o.ns, actions: o.actions, ttl: o.ttl, ...(o.topics !== undefined ? { topics: o.topics } : {}) })
      out(g, d, () => `${String(d.token)}\n`)
      if (g.json !== true) process.stderr.write(`token ${String(d.id)} for ${String(d.tenant)}, expires ${String(d.expiresAt)}\n`)
    }))
  token.command('revoke <id>').description('revoke a token (this gateway refuses it at once; others sharing the PKI dir within seconds)').action(run(async (c, g, id: string) => {
    const d = await c.call('DELETE', `/v1/admin/tokens/${seg(id)}`)
    out(g, d, () => `${d.already === true ? 'already revoked' : 'revoked'} token ${String(d.id)} (${String(d.tenant)})\n`)
  }))
  admin.command('kick <clientId>').description('disconnect an MQTT client').action(run(async (c, g, clientId: string) => {
    const d = await c.call('DELETE', `/v1/admin/mqtt/clients/${seg(clientId)}`)
    out(g, d, () => `client ${clientId} disconnected\n`)
  }))
}
