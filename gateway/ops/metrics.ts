/**
 * Ferry's Prometheus metrics (GET /metrics). Two kinds:
 *
 * - Hot-path hooks (publish duration, fsync duration, dispatch lateness,
 *   publishes per namespace, connections): a counter bump or a LightHistogram
 *   observation, nothing else (see instrument.ts).
 * - Everything else is read at scrape time from the stats() functions of the
 *   ledger, the dispatcher and the front ends: no work on the publish path.
 *
 * Counters derived from stats snapshots (delivered, acked, expired, dead
 * lettered) are kept monotonic per namespace: a subscription's growth since
 * the last scrape is added, so deleting a subscription never makes a counter
 * go down. Per-topic series exist only for namespaces whose policy sets
 * topicMetricsEnabled, capped at TOPIC_SERIES_MAX.
 */
import { collectDefaultMetrics, Registry } from 'prom-client'
import type { Ledger } from '../../store/index.js'
import type { DispatcherStats } from '../dispatch/index.js'
import type { HttpFrontEndStats } from '../http/index.js'
import type { MqttStats } from '../mqtt/index.js'
import { namespaceOfTopic, type PolicyRegistry } from '../policy/index.js'
import { CollectedMetric, nsLabels, type Sample } from './collected.js'
import { TOPIC_SERIES_MAX } from './constants.js'
import { LightHistogram, RecentQuantiles } from './histogram.js'
import type { TopicScanner } from './topic-scan.js'
import type { NetworkStatus } from './network.js'

/** Publish (receipt to durable ack) and fsync buckets, seconds: group commit sits at 0.5-5 ms on SSDs, seconds on a sick disk. */
const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
/** Delayed-delivery lateness buckets, seconds: a timer turn is ms; a backlog can make it minutes. */
const LATENESS_BUCKETS_SECONDS = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

export const MQTT_PROTOCOLS = ['mqtt', 'mqtts', 'ws', 'wss'] as const
export type ConnectionProtocol = typeof MQTT_PROTOCOLS[number]

/** What the scrape reads. Every function is cheap and does no I/O. */
export interface MetricSources {
  siteId: string
  version: string
  ledger: Ledger
  policies: PolicyRegistry
  dispatcherStats: () => DispatcherStats
  mqttStats: () => MqttStats | undefined
  httpStats: () => HttpFrontEndStats | undefined
  ready: () => boolean
  scanner: TopicScanner
  /** The network status of a network site (topology/site.ts attaches it); undefined on a plain gateway. */
  network: () => NetworkStatus | undefined
}

interface SubCounts { delivered: number, acked: number, expired: number, deadLettered: number }
const SUB_COUNTS: ReadonlyArray<keyof SubCounts> = ['delivered', 'acked', 'expired', 'deadLettered']

export class OpsMetrics {
  readonly registry = new Registry()
  readonly publishSeconds = new LightHistogram(LATENCY_BUCKETS_SECONDS)
  readonly fsyncSeconds = new LightHistogram(LATENCY_BUCKETS_SECONDS)
  readonly latenessSeconds = new LightHistogram(LATENESS_BUCKETS_SECONDS)
  readonly probeSeconds = new LightHistogram(LATENCY_BUCKETS_SECONDS)
  /** Quantiles over the last 10 s for the console and overview. */
  readonly recent = {
    publish: new RecentQuantiles(this.publishSeconds),
    fsync: new RecentQuantiles(this.fsyncSeconds),
    probe: new RecentQuantiles(this.probeSeconds)
  }
  /** Publishes acknowledged, by namespace (bumped by the instrumented dispatcher). */
  readonly publishedByNamespace = new Map<string, number>()
  readonly connections: Record<ConnectionProtocol, number> = { mqtt: 0, mqtts: 0, ws: 0, wss: 0 }
  mqttAuthFailures = 0
  probeFailures = 0
  probeLastSuccessMs = 0
  /** Replicated probes of other sites, by origin site (prober.ts; at most PROBE_REMOTE_SITES_MAX). */
  readonly replicationProbes = new Map<string, { seconds: LightHistogram, recent: RecentQuantiles, lastAtMs: number }>()
  /** Monotonic totals per namespace and the last snapshot of each subscription. */
  private readonly subTotals = new Map<string, SubCounts>()
  private readonly subLast = new Map<string, SubCounts>()

  constructor () {
    collectDefaultMetrics({ register: this.registry })
  }

  /** Register the scrape-time series; called once the site is assembled. */
  attach (src: MetricSources): void {
    const add = (name: string, help: string, type: 'counter' | 'gauge' | 'histogram', read: () => Sample[] | Promise<Sample[]>): void => {
      this.registry.registerMetric(new CollectedMetric(name, help, type, read) as never)
    }
    add('ferry_info', 'Site and version of this gateway (always 1).', 'gauge', () => [{ labels: { site: src.siteId, version: src.version }, value: 1 }])
    add('ferry_ready', '1 when the gateway is ready (ledger open, listeners up, not draining).', 'gauge', () => [{ value: src.ready() ? 1 : 0 }])

    // Every known namespace has its series from the start (0), so alerts and rate() see them before the first message.
    const perNamespace = (values: (ns: string) => number, extra: Iterable<string> = []): Sample[] => {
      const names = new Set([...src.policies.namespaces(), ...extra])
      return [...names].sort().map((ns) => ({ labels: nsLabels(ns), value: values(ns) }))
    }
    add('ferry_messages_published_total', 'Messages accepted (durable per namespace policy), by namespace.', 'counter', () =>
      perNamespace((ns) => this.publishedByNamespace.get(ns) ?? 0, this.publishedByNamespace.keys()))
    const subCounter = (key: keyof SubCounts, name: string, help: string): void => {
      add(name, help, 'counter', () => {
        this.foldSubscriptions(src.dispatcherStats())
        return perNamespace((ns) => this.subTotals.get(ns)?.[key] ?? 0, this.subTotals.keys())
      })
    }
    subCounter('delivered', 'ferry_messages_delivered_total', 'Deliveries to consumers (redeliveries included), by namespace.')
    subCounter('acked', 'ferry_messages_acked_total', 'Messages acknowledged by consumers, by namespace.')
    subCounter('expired', 'ferry_messages_expired_total', 'Messages dropped by TTL before delivery, by namespace.')
    subCounter('deadLettered', 'ferry_messages_dead_lettered_total', 'Messages moved to a dead-letter topic, by namespace.')

    add('ferry_publish_duration_seconds', 'Publish latency: receipt to durable acknowledgement.', 'histogram', () => this.publishSeconds.samples('ferry_publish_duration_seconds'))
    add('ferry_fsync_duration_seconds', 'Ledger fdatasync (or O_DSYNC write) latency.', 'histogram', () => this.fsyncSeconds.samples('ferry_fsync_duration_seconds'))
    add('ferry_dispatch_lateness_seconds', 'Delayed messages: first delivery minus deliver-at.', 'histogram', () => this.latenessSeconds.samples('ferry_dispatch_lateness_seconds'))

    add('ferry_connections', 'Open connections by protocol (http: requests in flight; uWebSockets does not expose idle keep-alive connections).', 'gauge', () => [
      ...MQTT_PROTOCOLS.map((p) => ({ labels: { protocol: p }, value: this.connections[p] })),
      { labels: { protocol: 'http' }, value: src.httpStats()?.inFlightRequests ?? 0 }
    ])
    add('ferry_sessions', 'MQTT sessions (connected and kept for disconnected persistent clients).', 'gauge', () => [{ value: src.mqttStats()?.sessions ?? 0 }])
    add('ferry_subscriptions', 'Subscriptions known to the dispatcher.', 'gauge', () => [{ value: src.dispatcherStats().subscriptions.length }])
    add('ferry_http_pull_consumers', 'Live HTTP pull consumers.', 'gauge', () => [{ value: src.httpStats()?.pullConsumers ?? 0 }])

    add('ferry_backlog_messages', 'Unacknowledged messages over all subscriptions, by namespace.', 'gauge', () => this.bySubscriptionField(src, 'backlog'))
    add('ferry_delayed_pending', 'Delayed messages waiting for their time, by namespace.', 'gauge', () => this.bySubscriptionField(src, 'delayedPending'))
    add('ferry_storage_bytes', 'Bytes stored in the ledger, by namespace.', 'gauge', async () => {
      const scan = await src.scanner.scan()
      return perNamespace((ns) => scan.byNamespace.get(ns)?.storedBytes ?? 0, scan.byNamespace.keys())
    })
    add('ferry_topics', 'Topics with stored entries, by namespace.', 'gauge', async () => {
      const scan = await src.scanner.scan()
      return perNamespace((ns) => scan.byNamespace.get(ns)?.topics ?? 0, scan.byNamespace.keys())
    })

    add('ferry_http_responses_total', 'HTTP responses by status and error code (code empty on success).', 'counter', () => {
      const r = src.httpStats()?.responses ?? []
      // Before the first answer there is still one series (a scrape is itself answered after it is built).
      return r.length === 0 ? [{ labels: { status: 200, code: '' }, value: 0 }] : r.map((x) => ({ labels: { status: x.status, code: x.code }, value: x.count }))
    })
    add('ferry_mqtt_closes_total', 'MQTT connection closes by reason.', 'counter', () => {
      const closes = Object.entries(src.mqttStats()?.closes ?? {})
      return closes.length === 0 ? [{ labels: { reason: 'client_disconnect' }, value: 0 }] : closes.map(([reason, v]) => ({ labels: { reason }, value: v }))
    })
    add('ferry_auth_failures_total', 'Refused credentials, by protocol.', 'counter', () => {
      let http = 0
      for (const r of src.httpStats()?.responses ?? []) if (r.code === 'E_UNAUTHORIZED' || r.code === 'E_FORBIDDEN') http += r.count
      return [{ labels: { protocol: 'mqtt' }, value: this.mqttAuthFailures }, { labels: { protocol: 'http' }, value: http }]
    })
    add('ferry_publish_rejected_total', 'Publishes refused or held by the backlog quota.', 'counter', () => {
      const d = src.dispatcherStats()
      return [{ labels: { reason: 'backlog_quota' }, value: d.backlogRejected }, { labels: { reason: 'backlog_hold' }, value: d.backlogHeld }]
    })

    add('ferry_ledger_fenced', '1 once a failed write or fsync stopped the ledger accepting appends.', 'gauge', () => [{ value: src.ledger.stats().fenced ? 1 : 0 }])
    add('ferry_ledger_disk_bytes', 'Bytes of ledger segments on disk.', 'gauge', () => [{ value: src.ledger.stats().diskBytes }])
    add('ferry_ledger_segments', 'Ledger segment files.', 'gauge', () => [{ value: src.ledger.stats().segments }])
    add('ferry_ledger_appends_total', 'Records appended to the ledger.', 'counter', () => [{ value: src.ledger.stats().appends }])
    add('ferry_ledger_fsyncs_total', 'Ledger fsyncs (group commits).', 'counter', () => [{ value: src.ledger.stats().fsyncs }])

    add('ferry_probe_duration_seconds', 'Health detector: probe publish to its delivery back at this site.', 'histogram', () => this.probeSeconds.samples('ferry_probe_duration_seconds'))
    add('ferry_probe_failures_total', 'Health detector: probes not received back in time, or failed to publish.', 'counter', () => [{ value: this.probeFailures }])
    add('ferry_probe_replication_seconds', 'Health detector: probes of another site (origin), its publish to their delivery here; one-way, includes the clock offset (ferry/probe must replicate).', 'histogram', () =>
      [...this.replicationProbes].sort(([a], [b]) => a < b ? -1 : 1).flatMap(([origin, h]) => h.seconds.samples('ferry_probe_replication_seconds').map((s) => ({ ...s, labels: { ...s.labels, origin } }))))
    add('ferry_probe_replication_last_timestamp_seconds', 'Health detector: time of the last probe received from another site (origin).', 'gauge', () =>
      [...this.replicationProbes].map(([origin, h]) => ({ labels: { origin }, value: h.lastAtMs / 1000 })))
    add('ferry_probe_last_success_timestamp_seconds', 'Health detector: time of the last probe received back (0: none yet).', 'gauge', () => [{ value: this.probeLastSuccessMs / 1000 }])

    // Network sites only (a plain gateway exports the series without samples).
    const perLink = (value: (l: NetworkStatus['links'][number]) => number): Sample[] =>
      (src.network()?.links ?? []).map((l) => ({ labels: { remote: l.remote }, value: value(l) }))
    const up = (which: 'etcd' | 'nats'): Sample[] => { const n = src.network(); return n === undefined ? [] : [{ value: n[which].up ? 1 : 0 }] }
    add('ferry_replication_lag_seconds', 'Replication: age of the oldest entry the remote site has not acknowledged, per outbound link (0 when caught up).', 'gauge', () => perLink((l) => l.lagSeconds))
    add('ferry_replication_backlog_entries', 'Replication: entries read and not yet acknowledged by the remote site, per outbound link (a lower bound when far behind).', 'gauge', () => perLink((l) => l.lagEntries))
    add('ferry_replication_backlog_bytes', 'Replication: payload bytes of those entries, per outbound link.', 'gauge', () => perLink((l) => l.lagBytes))
    add('ferry_replication_link_connected', 'Replication: 1 once the remote site has answered on this link.', 'gauge', () => perLink((l) => l.connected ? 1 : 0))
    add('ferry_replication_link_failures_total', 'Replication: failed batches (refused or unanswered), per outbound link.', 'counter', () => perLink((l) => l.failures))
    add('ferry_etcd_up', '1 while the topology follows etcd live (network sites only).', 'gauge', () => up('etcd'))
    add('ferry_nats_up', '1 while the connection to the region\'s nats-server is up (network sites only).', 'gauge', () => up('nats'))

    add('ferry_topic_backlog_messages', 'Per topic (namespaces with topicMetricsEnabled only): unacknowledged messages over its subscriptions.', 'gauge', () => this.perTopic(src, 'backlog'))
    add('ferry_topic_storage_bytes', 'Per topic (namespaces with topicMetricsEnabled only): bytes stored.', 'gauge', () => this.perTopic(src, 'storage'))
  }

  /** The histogram of probes from `origin`; undefined once `max` origins are tracked (a bound, never reached by a real network). */
  replicationProbe (origin: string, max: number): { seconds: LightHistogram, lastAtMs: number } | undefined {
    let h = this.replicationProbes.get(origin)
    if (h === undefined) {
      if (this.replicationProbes.size >= max) return undefined
      const seconds = new LightHistogram(LATENCY_BUCKETS_SECONDS)
      h = { seconds, recent: new RecentQuantiles(seconds), lastAtMs: 0 }
      this.replicationProbes.set(origin, h)
    }
    return h
  }

  /** Add each subscription's growth since the last scrape to its namespace's totals. */
  private foldSubscriptions (d: DispatcherStats): void {
    const seen = new Set<string>()
    for (const s of d.subscriptions) {
      const key = `${s.namespace}\u0000${s.filter}\u0000${s.subscription}`
      seen.add(key)
      const last = this.subLast.get(key)
      let total = this.subTotals.get(s.namespace)
      if (total === undefined) { total = { delivered: 0, acked: 0, expired: 0, deadLettered: 0 }; this.subTotals.set(s.namespace, total) }
      const now: SubCounts = { delivered: s.delivered, acked: s.acked, expired: s.expired, deadLettered: s.deadLettered }
      for (const k of SUB_COUNTS) {
        const before = last?.[k] ?? 0
        // A smaller value means the subscription was re-created: all of it is new.
        total[k] += now[k] >= before ? now[k] - before : now[k]
      }
      this.subLast.set(key, now)
    }
    for (const key of this.subLast.keys()) if (!seen.has(key)) this.subLast.delete(key)
  }

  private bySubscriptionField (src: MetricSources, field: 'backlog' | 'delayedPending'): Sample[] {
    const sums = new Map<string, number>()
    for (const ns of src.policies.namespaces()) sums.set(ns, 0)
    for (const s of src.dispatcherStats().subscriptions) sums.set(s.namespace, (sums.get(s.namespace) ?? 0) + s[field])
    return [...sums].map(([ns, v]) => ({ labels: nsLabels(ns), value: v }))
  }

  private perTopic (src: MetricSources, what: 'backlog' | 'storage'): Sample[] {
    const opted = src.policies.namespaces().filter((ns) => src.policies.get(ns).topicMetricsEnabled)
    if (opted.length === 0) return []
    const out: Sample[] = []
    for (const topic of src.ledger.topics()) {
      const ns = namespaceOfTopic(topic)
      if (ns === undefined || !opted.includes(ns)) continue
      let value = 0
      if (what === 'storage') value = src.ledger.topicInfo(topic)?.storedBytes ?? 0
      else for (const c of src.ledger.cursors(topic)) value += c.backlogEntries()
      out.push({ labels: { ...nsLabels(ns), topic: topic.slice(ns.length + 1) }, value })
      if (out.length >= TOPIC_SERIES_MAX) break
    }
    return out
  }

  /** The whole exposition text. */
  async text (): Promise<string> { return await this.registry.metrics() }
  get contentType (): string { return this.registry.contentType }
}
