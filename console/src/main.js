// The Ferry web console: overview with live rates and latency, tenants /
// namespaces / topics with backlog, subscriptions, MQTT clients, dead-letter
// browser with peek and replay, message peek, the network map (sites, links, lag). Preact + htm, uPlot charts,
// live updates over the admin WebSocket feed.
import { html, render } from 'htm/preact'
import { useEffect, useState, useCallback } from 'preact/hooks'
import { api, live, seg } from './api.js'
import { Chart, CHART_POINTS_MAX } from './charts.js'

const fmt = (n) => n === null || n === undefined ? '-' : typeof n === 'number' ? (Number.isInteger(n) ? String(n) : n.toFixed(1)) : String(n)

function useHash () {
  const [hash, setHash] = useState(location.hash || '#/')
  useEffect(() => { const f = () => setHash(location.hash || '#/'); addEventListener('hashchange', f); return () => removeEventListener('hashchange', f) }, [])
  return hash
}

function useLoad (fn, deps) {
  const [state, setState] = useState({ data: undefined, error: undefined })
  const reload = useCallback(() => { fn().then((data) => setState({ data, error: undefined }), (e) => setState({ data: undefined, error: e.message })) }, deps)
  useEffect(() => { reload(); const t = setInterval(reload, 2000); return () => clearInterval(t) }, [reload])
  return [state, reload]
}

function Card ({ label, value, testid }) {
  return html`<div class="card"><div class="label">${label}</div><div class="value" data-testid=${testid}>${value}</div></div>`
}

function Table ({ rows, cols, testid }) {
  if (!rows || rows.length === 0) return html`<p class="dim" data-testid=${testid}>none</p>`
  return html`<table data-testid=${testid}><thead><tr>${cols.map((c) => html`<th>${c[0]}</th>`)}</tr></thead>
    <tbody>${rows.map((r) => html`<tr>${cols.map((c) => html`<td>${c[1](r)}</td>`)}</tr>`)}</tbody></table>`
}

function Overview ({ snap, history }) {
  if (!snap) return html`<p>waiting for the live feed…</p>`
  const c = snap.counts
  const conns = Object.values(c.connections).reduce((a, b) => a + b, 0)
  return html`
    <div class="cards">
      <${Card} label="site" value=${snap.siteId} />
      <${Card} label="ready" value=${html`<span class=${snap.readiness.ready ? 'ok' : 'bad'}>${snap.readiness.ready ? 'ready' : snap.readiness.phase}</span>`} />
      <${Card} label="published / s" value=${fmt(snap.rates.publishedPerSec)} testid="rate-in" />
      <${Card} label="delivered / s" value=${fmt(snap.rates.deliveredPerSec)} testid="rate-out" />
      <${Card} label="published" value=${snap.totals.published} testid="published-total" />
      <${Card} label="publish p99 ms" value=${fmt(snap.latencyMs.publishP99)} />
      <${Card} label="namespaces" value=${c.namespaces} />
      <${Card} label="topics" value=${c.topics} />
      <${Card} label="subscriptions" value=${c.subscriptions} />
      <${Card} label="backlog" value=${c.backlog} />
      <${Card} label="connections" value=${conns} />
      <${Card} label="probe" value=${snap.readiness.checks.prober} />
    </div>
    <div class="charts">
      <${Chart} title="messages / s" testid="chart-rates" data=${history.rates} series=${[{ label: 'published', color: '#4fb3ff' }, { label: 'delivered', color: '#3ecf8e' }]} />
      <${Chart} title="publish latency ms" testid="chart-latency" data=${history.latency} series=${[{ label: 'p50', color: '#f5c542' }, { label: 'p99', color: '#ff6b6b' }]} />
    </div>`
}

function Tenants () {
  const [{ data, error }] = useLoad(() => api('GET', '/v1/admin/tenants'), [])
  return html`${error && html`<div class="error">${error}</div>`}
    <h2>Tenants and namespaces</h2>
    <${Table} testid="tenants" rows=${data?.tenants.flatMap((t) => t.namespaces.map((ns) => ({ tenant: t.tenant, ns })))} cols=${[
      ['tenant', (r) => r.tenant], ['namespace', (r) => html`<a href=${`#/ns/${r.ns}`}>${r.ns}</a>`]]} />`
}

function Namespace ({ ns }) {
  const [{ data, error }] = useLoad(() => Promise.all([
    api('GET', `/v1/admin/namespaces/${ns}/topics`), api('GET', `/v1/admin/namespaces/${ns}/subscriptions`), api('GET', `/v1/admin/namespaces/${ns}/dead-letters`)
  ]), [ns])
  const [topics, subs, dlqs] = data ?? []
  return html`${error && html`<div class="error">${error}</div>`}
    <h2>Namespace ${ns}</h2>
    <h2>Topics</h2>
    <${Table} testid="topics" rows=${topics?.topics} cols=${[
      ['topic', (t) => html`<a href=${`#/topic/${ns}/${seg(t.topic)}`}>${t.topic}</a>`], ['stored', (t) => t.storedMessages], ['bytes', (t) => t.storedBytes],
      ['backlog', (t) => t.backlog], ['subs', (t) => t.subscriptions], ['producers', (t) => t.producers], ['in/s', (t) => fmt(t.rateInPerSec)], ['out/s', (t) => fmt(t.rateOutPerSec)]]} />
    <h2>Subscriptions</h2>
    <${Table} testid="subscriptions" rows=${subs?.subscriptions} cols=${[
      ['filter', (s) => s.filter], ['subscription', (s) => s.subscription], ['mode', (s) => s.mode], ['consumers', (s) => s.consumers],
      ['backlog', (s) => s.backlog], ['pending ack', (s) => s.pendingAck], ['delivered', (s) => s.delivered], ['dead-lettered', (s) => s.deadLettered]]} />
    <h2>Dead letters</h2>
    <${Table} testid="dead-letters" rows=${dlqs?.deadLetterTopics} cols=${[
      ['topic', (d) => html`<a href=${`#/dlq/${ns}/${seg(d.topic)}`}>${d.topic}</a>`], ['original', (d) => d.originalTopic], ['subscription', (d) => d.subscription], ['pending', (d) => d.pending]]} />`
}

function Messages ({ rows, testid, extra = [] }) {
  return html`<${Table} testid=${testid} rows=${rows} cols=${[
    ['id', (m) => m.messageId], ['time', (m) => new Date(m.publishTime).toISOString()], ...extra, ['bytes', (m) => m.bytes],
    ['payload', (m) => html`<pre>${m.payload ?? `base64:${m.payloadBase64}`}${m.truncated ? '…' : ''}</pre>`]]} />`
}

function Topic ({ ns, topic }) {
  const [{ data, error }] = useLoad(() => Promise.all([
    api('GET', `/v1/admin/topics/${ns}/${seg(topic)}`), api('GET', `/v1/admin/topics/${ns}/${seg(topic)}/messages?max=20`)
  ]), [ns, topic])
  const [t, msgs] = data ?? []
  return html`${error && html`<div class="error">${error}</div>`}
    <h2 data-testid="topic-title">Topic ${ns}/${topic}</h2>
    ${t && html`<div class="cards">
      <${Card} label="stored" value=${t.storedMessages} testid="topic-stored" /><${Card} label="bytes" value=${t.storedBytes} />
      <${Card} label="backlog" value=${t.backlog} testid="topic-backlog" /><${Card} label="in / s" value=${fmt(t.rateInPerSec)} />
      <${Card} label="ids" value=${`${t.firstMessageId}..${t.nextMessageId}`} /></div>`}
    <h2>Subscriptions and consumers</h2>
    <${Table} testid="topic-subscriptions" rows=${t?.subscriptionList} cols=${[
      ['subscription', (s) => s.subscription], ['mode', (s) => s.mode], ['consumers', (s) => s.consumers], ['backlog', (s) => s.topicBacklog],
      ['mark-delete', (s) => s.markDelete], ['pending ack', (s) => s.pendingAck], ['redelivered', (s) => s.redelivered]]} />
    <h2>Producers${t && t.producersDropped > 0 ? ` (${t.producersDropped} more not listed)` : ''}</h2>
    <${Table} testid="topic-producers" rows=${t?.producerList} cols=${[
      ['producer', (p) => p.name], ['protocol', (p) => p.protocol], ['messages', (p) => p.messages], ['per s', (p) => fmt(p.ratePerSec)],
      ['last seen', (p) => new Date(p.lastSeenAt).toISOString()]]} />
    <h2>Messages</h2>
    <${Messages} testid="topic-messages" rows=${msgs?.messages} />`
}

function DeadLetters ({ ns, topic }) {
  const [note, setNote] = useState('')
  const [{ data, error }, reload] = useLoad(() => api('GET', `/v1/admin/dead-letters/${ns}/${seg(topic)}?max=50`), [ns, topic])
  const replay = async () => {
    try {
      const r = await api('POST', `/v1/admin/dead-letters/${ns}/${seg(topic)}/replay`, {})
      setNote(`replayed ${r.replayed} to ${r.topic}; ${r.remaining} remaining`)
    } catch (e) { setNote(e.message) }
    reload()
  }
  return html`${error && html`<div class="error">${error}</div>`}
    <h2>Dead letters ${ns}/${topic}</h2>
    ${data && html`<p>original topic <b>${data.originalTopic ?? '?'}</b>, subscription <b>${data.subscription ?? '?'}</b>, pending <b data-testid="dlq-pending">${data.pending}</b>
      <button data-testid="replay" onClick=${replay} disabled=${data.pending === 0}>Replay to ${data.originalTopic ?? 'original'}</button></p>`}
    ${note && html`<p data-testid="replay-result">${note}</p>`}
    <${Messages} testid="dlq-messages" rows=${data?.messages} extra=${[['reason', (m) => m.reason]]} />`
}

function Clients () {
  const [{ data, error }, reload] = useLoad(() => Promise.all([api('GET', '/v1/admin/mqtt/clients'), api('GET', '/v1/admin/mqtt/sessions')]), [])
  const [clients, sessions] = data ?? []
  const kick = async (id) => { await api('DELETE', `/v1/admin/mqtt/clients/${seg(id)}`).catch(() => undefined); reload() }
  return html`${error && html`<div class="error">${error}</div>`}
    <h2>MQTT clients</h2>
    <${Table} testid="clients" rows=${clients?.clients} cols=${[
      ['client id', (c) => c.clientId], ['namespace', (c) => c.namespace], ['version', (c) => c.protocolVersion], ['transport', (c) => c.transport],
      ['address', (c) => c.remoteAddress], ['subscriptions', (c) => c.subscriptions], ['', (c) => html`<button class="danger" onClick=${() => kick(c.clientId)}>kick</button>`]]} />
    <h2>Sessions</h2>
    <${Table} testid="sessions" rows=${sessions?.sessions} cols=${[
      ['client id', (s) => s.clientId], ['namespace', (s) => s.namespace], ['connected', (s) => s.connected ? 'yes' : 'no'], ['expiry s', (s) => s.expirySec],
      ['subscriptions', (s) => s.subscriptions.map((x) => x.filter).join(', ')]]} />`
}

// The network map: sites on a ring (this site highlighted), this site's outbound links as
// lines labelled with their lag; fed by the live feed (snap.network), so it moves every second.
function NetworkMap ({ net }) {
  const size = 360
  const r = 115
  const c = size / 2
  // Labels sit outside the ring, so links through the middle never cross them.
  const pos = new Map(net.sites.map((s, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, net.sites.length)
    return [s.id, { x: c + r * Math.cos(a), y: c + r * Math.sin(a), lx: c + (r + 45) * Math.cos(a), ly: c + (r + 45) * Math.sin(a) + 4 }]
  }))
  const self = pos.get(net.siteId)
  return html`<svg class="netmap" data-testid="network-map" viewBox=${`0 0 ${size} ${size}`} width=${size} height=${size}>
    ${self && net.links.map((l) => {
      const p = pos.get(l.remote)
      if (!p) return null
      const cls = !l.connected || l.state === 'paused' ? 'link bad' : l.backlogAlert ? 'link warn' : 'link'
      return html`<g><line class=${cls} x1=${self.x} y1=${self.y} x2=${p.x} y2=${p.y} />
        <text class="lag" x=${(self.x + p.x) / 2} y=${(self.y + p.y) / 2 - 4}>${`${fmt(l.lagSeconds)} s · ${l.lagEntries}`}</text></g>`
    })}
    ${net.sites.map((s) => {
      const p = pos.get(s.id)
      return html`<g><circle class=${`site ${s.alive ? 'alive' : 'dead'} ${s.self ? 'self' : ''}`} cx=${p.x} cy=${p.y} r="22" />
        <text class="site-label" x=${p.lx} y=${p.ly}>${s.id}</text></g>`
    })}
  </svg>`
}

function Network ({ snap }) {
  if (!snap) return html`<p>waiting for the live feed…</p>`
  const net = snap.network
  if (!net) return html`<h2>Network</h2><p class="dim" data-testid="network-none">site ${snap.siteId} is not part of a network</p>`
  const up = (b) => html`<span class=${b ? 'ok' : 'bad'}>${b ? 'up' : 'down'}</span>`
  return html`<h2>Network ${net.network}</h2>
    <div class="cards">
      <${Card} label="sites" value=${net.sites.length} testid="network-site-count" />
      <${Card} label="alive" value=${net.sites.filter((s) => s.alive).length} />
      <${Card} label="etcd" value=${up(net.etcd.up)} testid="network-etcd" />
      <${Card} label="nats" value=${up(net.nats.up)} testid="network-nats" />
      <${Card} label="max lag s" value=${fmt(Math.max(0, ...net.links.map((l) => l.lagSeconds)))} />
    </div>
    <div class="netrow"><${NetworkMap} net=${net} />
    <div class="grow"><h2>Sites</h2>
    <${Table} testid="network-sites" rows=${net.sites} cols=${[
      ['site', (s) => s.self ? html`<b>${s.id}</b>` : s.id], ['region', (s) => s.region], ['alive', (s) => html`<span class=${s.alive ? 'ok' : 'bad'}>${s.alive ? 'yes' : 'no'}</span>`],
      ['preference', (s) => s.preference],
      ['probe from it p99 ms (10 s)', (s) => { const p = (snap.probe.replication || []).find((x) => x.origin === s.id); return html`<span data-testid=${`probe-from-${s.id}`}>${p ? fmt(p.p99Ms) : '-'}</span>` }],
      ['endpoints', (s) => Object.values(s.endpoints).join(' ')]]} />
    <h2>Links from ${net.siteId}</h2>
    <${Table} testid="network-links" rows=${net.links} cols=${[
      ['remote', (l) => l.remote], ['state', (l) => l.state], ['connected', (l) => l.connected ? 'yes' : 'no'],
      ['lag s', (l) => html`<span data-testid=${`lag-seconds-${l.remote}`}>${fmt(l.lagSeconds)}</span>`],
      ['lag entries', (l) => html`<span data-testid=${`lag-entries-${l.remote}`}>${l.lagEntries}${l.lagIsLowerBound ? '+' : ''}</span>`],
      ['lag bytes', (l) => l.lagBytes], ['shipped', (l) => html`<span data-testid=${`shipped-${l.remote}`}>${l.entriesShipped}</span>`],
      ['failures', (l) => l.failures], ['alert', (l) => l.backlogAlert ? html`<span class="bad">backlog</span>` : '']]} />
    </div></div>`
}

function App () {
  const hash = useHash()
  const [snap, setSnap] = useState(undefined)
  const [connected, setConnected] = useState(false)
  const [history, setHistory] = useState({ rates: [[], [], []], latency: [[], [], []] })
  useEffect(() => live((d) => {
    setSnap(d)
    setHistory((h) => {
      const t = d.at / 1000
      const push = (arr, vals) => { const next = arr.map((a, i) => [...a, i === 0 ? t : vals[i - 1]].slice(-CHART_POINTS_MAX)); return next }
      return { rates: push(h.rates, [d.rates.publishedPerSec, d.rates.deliveredPerSec]), latency: push(h.latency, [d.latencyMs.publishP50 ?? 0, d.latencyMs.publishP99 ?? 0]) }
    })
  }, setConnected), [])
  const parts = hash.slice(2).split('/')
  let page
  if (parts[0] === 'tenants') page = html`<${Tenants} />`
  else if (parts[0] === 'ns') page = html`<${Namespace} ns=${`${parts[1]}/${parts[2]}`} />`
  else if (parts[0] === 'topic') page = html`<${Topic} ns=${`${parts[1]}/${parts[2]}`} topic=${decodeURIComponent(parts.slice(3).join('/'))} />`
  else if (parts[0] === 'dlq') page = html`<${DeadLetters} ns=${`${parts[1]}/${parts[2]}`} topic=${decodeURIComponent(parts.slice(3).join('/'))} />`
  else if (parts[0] === 'clients') page = html`<${Clients} />`
  else if (parts[0] === 'network') page = html`<${Network} snap=${snap} />`
  else page = html`<${Overview} snap=${snap} history=${history} />`
  const link = (href, label) => html`<a href=${href} class=${hash === href || (href !== '#/' && hash.startsWith(href)) ? 'active' : ''}>${label}</a>`
  return html`<header><h1>Ferry</h1><nav>${link('#/', 'Overview')}${link('#/tenants', 'Tenants')}${link('#/clients', 'MQTT clients')}${link('#/network', 'Network')}</nav>
    <span class=${connected ? 'ok' : 'bad'} data-testid="live">${connected ? '● live' : '○ offline'}</span></header><main>${page}</main>`
}

render(html`<${App} />`, document.getElementById('app'))
