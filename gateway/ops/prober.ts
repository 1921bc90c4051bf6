/**
 * The health detector (in the spirit of Pulsar's): every PROBE_INTERVAL_MS
 * it publishes a probe to `ferry/probe/{site}` and consumes it through an
 * ordinary subscription, so the measured time covers the whole path (admit,
 * append, fsync, dispatch, delivery). A probe not back within
 * PROBE_TIMEOUT_MS, or one that fails to publish, counts as a failure.
 *
 * Replication latency: the subscription is `ferry/probe/+`, so when the
 * namespace ferry/probe replicates to the network's sites (etcd:
 * `ferry topology ns set ferry/probe --replicate a,b,c`), every site also
 * receives the other sites' probes and measures their one-way time, publish
 * at the origin to delivery here (ferry_probe_replication_seconds{origin}).
 * One-way: it includes the clock offset between the two sites (NTP keeps it
 * to milliseconds; a negative difference counts as 0).
 */
import type { Logger } from '../../common/log.js'
import type { Consumer, Delivery, Dispatcher } from '../dispatch/index.js'
import type { PolicyRegistry } from '../policy/index.js'
import { PROBE_INTERVAL_MS, PROBE_NAMESPACE, PROBE_REMOTE_SITES_MAX, PROBE_TIMEOUT_MS } from './constants.js'
import type { OpsMetrics } from './metrics.js'

/** Probes in flight at most: with a timeout of two intervals, three is enough; more means they are being dropped. */
const PROBES_IN_FLIGHT_MAX = 8

export class Prober {
  private consumer: Consumer | undefined
  private timer: NodeJS.Timeout | undefined
  private seq = 0
  private readonly sent = new Map<number, number>()
  private stopped = false

  constructor (
    private readonly dispatcher: Dispatcher,
    private readonly policies: PolicyRegistry,
    private readonly siteId: string,
    private readonly metrics: OpsMetrics,
    private readonly logger: Logger,
    private readonly intervalMs = PROBE_INTERVAL_MS,
    private readonly timeoutMs = PROBE_TIMEOUT_MS
  ) {}

  get local (): string { return this.siteId }

  async start (): Promise<void> {
    // Probes are acked at once and kept for no time.
    if (!this.policies.has(PROBE_NAMESPACE)) await this.policies.put(PROBE_NAMESPACE, { retentionMs: 0 })
    this.consumer = await this.dispatcher.subscribe({
      namespace: PROBE_NAMESPACE,
      // Every site's probe topic: our own (round trip) and the replicated ones of other sites (replication latency).
      filter: '+',
      subscription: `probe-${this.siteId}`,
      mode: 'exclusive',
      durable: false,
      initialPosition: 'latest',
      consumerName: 'ferry-prober',
      permits: 1000,
      sink: { deliver: (d) => { this.received(d) } }
    })
    if (this.stopped) { await this.consumer.close().catch(() => undefined); this.consumer = undefined; return }
    this.timer = setInterval(() => { this.tick() }, this.intervalMs)
    this.timer.unref()
    this.tick()
  }

  /** ok while the last probe came back recently enough. */
  state (): 'ok' | 'failing' | 'off' {
    if (this.consumer === undefined) return 'off'
    const last = this.metrics.probeLastSuccessMs
    return last > 0 && Date.now() - last <= this.intervalMs + this.timeoutMs ? 'ok' : 'failing'
  }

  private tick (): void {
    const now = Date.now()
    for (const [seq, at] of this.sent) {
      if (now - at > this.timeoutMs) { this.sent.delete(seq); this.metrics.probeFailures++; this.logger.warn({ seq }, 'probe not received back in time') }
    }
    if (this.stopped || this.sent.size >= PROBES_IN_FLIGHT_MAX) return
    const seq = ++this.seq
    this.sent.set(seq, now)
    const payload = Buffer.from(JSON.stringify({ site: this.siteId, seq, sentAt: now }))
    this.dispatcher.publish({ topic: `${PROBE_NAMESPACE}/${this.siteId}`, payload, props: { contentType: 'application/json' } }).catch((err: unknown) => {
      if (this.sent.delete(seq)) this.metrics.probeFailures++
      if (!this.stopped) this.logger.warn({ err }, 'probe publish failed')
    })
  }

  private received (d: Delivery): void {
    this.consumer?.addPermits(1)
    this.consumer?.ack(d.topic, d.entryId).catch(() => undefined)
    let doc: { site?: unknown, seq?: unknown, sentAt?: unknown }
    try { doc = JSON.parse(d.payload.toString('utf8')) as typeof doc } catch { return }
    if (typeof doc.seq !== 'number' || typeof doc.sentAt !== 'number') return
    const now = Date.now()
    if (typeof doc.site === 'string' && doc.site !== this.siteId) {
      const origin = this.metrics.replicationProbe(doc.site, PROBE_REMOTE_SITES_MAX)
      if (origin === undefined) return
      origin.seconds.observe(Math.max(0, now - doc.sentAt) / 1000)
      origin.lastAtMs = now
      return
    }
    if (!this.sent.delete(doc.seq)) return
    this.metrics.probeSeconds.observe(Math.max(0, now - doc.sentAt) / 1000)
    this.metrics.probeLastSuccessMs = now
  }

  async stop (): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearInterval(this.timer)
    const c = this.consumer
    this.consumer = undefined
    await c?.close().catch(() => undefined)
  }
}
