/**
 * The cheap hooks: decorators around the dispatcher, the disk and the MQTT
 * front end that feed OpsMetrics. Each adds one clock read or one counter
 * bump per event and allocates nothing beyond the promise chain step (the
 * dispatcher's publish has none: it takes the observer inside).
 */
import { performance } from 'node:perf_hooks'
import type { Logger } from '../../common/log.js'
import type { Disk, DiskFile } from '../../store/index.js'
import type { ConsumerSink, Delivery, Dispatcher, PublishObserver, PublishRequest, PublishResult, PublishSink, SubscribeOptions } from '../dispatch/index.js'
import type { Authenticate, MqttFrontEnd, Transport, TransportEvents } from '../mqtt/index.js'
import { namespaceOfTopic } from '../policy/index.js'
import type { ConnectionProtocol, OpsMetrics } from './metrics.js'
import type { ProducerTracker } from './producers.js'

/** Tracks publishes in flight so a graceful shutdown can wait for their acknowledgements. */
export class InFlight {
  count = 0
  private waiters: Array<() => void> = []

  begin (): void { this.count++ }
  end (): void {
    if (--this.count === 0 && this.waiters.length > 0) for (const w of this.waiters.splice(0)) w()
  }

  /** Resolves when nothing is in flight, or after `timeoutMs` (false). */
  async drained (timeoutMs: number): Promise<boolean> {
    if (this.count === 0) return true
    return await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => { resolve(false) }, timeoutMs)
      this.waiters.push(() => { clearTimeout(t); resolve(true) })
    })
  }
}

/**
 * The dispatcher every front end uses: publish is timed (receipt to durable
 * acknowledgement) and counted per namespace, its producer noted for the
 * topic (producers.ts); each consumer's sink observes
 * the lateness of delayed messages on their first delivery.
 */
export function instrumentDispatcher (inner: Dispatcher, metrics: OpsMetrics, inFlight: InFlight, producers: ProducerTracker): Dispatcher {
  const counts = metrics.publishedByNamespace
  const observer: PublishObserver = {
    started () {
      inFlight.begin()
      return performance.now()
    },
    settled (req, namespace, r, t0) {
      inFlight.end()
      if (r === undefined) return
      metrics.publishSeconds.observe((performance.now() - t0) / 1000)
      const ns = namespace ?? namespaceOfTopic(r.topic)
      if (ns !== undefined) counts.set(ns, (counts.get(ns) ?? 0) + 1)
      if (req.producer !== undefined) producers.note(r.topic, req.producer)
    }
  }
  // A dispatcher that takes an observer is observed from inside its publish (no promise step here per message).
  const observed = inner.observePublishes !== undefined
  if (observed) inner.observePublishes?.(observer)
  const publish = observed ? (req: PublishRequest): Promise<PublishResult> => inner.publish(req) : (req: PublishRequest): Promise<PublishResult> => {
    const t0 = performance.now()
    inFlight.begin()
    return inner.publish(req).then((r) => {
      inFlight.end()
      metrics.publishSeconds.observe((performance.now() - t0) / 1000)
      const ns = namespaceOfTopic(r.topic)
      if (ns !== undefined) counts.set(ns, (counts.get(ns) ?? 0) + 1)
      if (req.producer !== undefined) producers.note(r.topic, req.producer)
      return r
    }, (err: unknown) => {
      inFlight.end()
      throw err
    })
  }
  // Observed from inside: the inner publishTo as is. Otherwise the sink's outcome is counted as publish's is.
  const publishTo = observed ? (req: PublishRequest, sink: PublishSink): void => { inner.publishTo(req, sink) } : (req: PublishRequest, sink: PublishSink): void => {
    publish(req).then((r) => { sink.published(r) }, (err: unknown) => { sink.failed(err) })
  }
  const subscribe = async (opts: SubscribeOptions): Promise<import('../dispatch/index.js').Consumer> => {
    const sink = opts.sink
    const observed: ConsumerSink = {
      deliver (d: Delivery) {
        const at = d.props.deliverAt
        if (at !== undefined && d.redeliveryCount === 0) metrics.latenessSeconds.observe(Math.max(0, Date.now() - at) / 1000)
        sink.deliver(d)
      }
    }
    if (sink.closed !== undefined) observed.closed = (reason) => { sink.closed?.(reason) }
    if (sink.activeChanged !== undefined) observed.activeChanged = (active) => { sink.activeChanged?.(active) }
    return await inner.subscribe({ ...opts, sink: observed })
  }
  return {
    publish,
    publishTo,
    subscribe,
    unsubscribe: async (ns, filter, sub) => { await inner.unsubscribe(ns, filter, sub) },
    ack: async (topic, sub, ids) => await inner.ack(topic, sub, ids),
    ackUpTo: async (topic, sub, upTo) => { await inner.ackUpTo(topic, sub, upTo) },
    rewindTo: async (topic, sub, markDelete) => await inner.rewindTo(topic, sub, markDelete),
    nack: async (topic, sub, ids, reason) => { await inner.nack(topic, sub, ids, reason) },
    cancelScheduled: async (topic, id) => await inner.cancelScheduled(topic, id),
    stats: () => inner.stats(),
    close: async () => { await inner.close() }
  }
}

/** The ledger's disk with every fdatasync (and O_DSYNC write) timed. */
export function instrumentDisk (inner: Disk, metrics: OpsMetrics): Disk {
  const timed = (f: DiskFile): DiskFile => {
    const out: DiskFile = {
      write: async (buf, pos) => { await f.write(buf, pos) },
      read: async (pos, len) => await f.read(pos, len),
      datasync: async () => {
        const t0 = performance.now()
        await f.datasync()
        metrics.fsyncSeconds.observe((performance.now() - t0) / 1000)
      },
      truncate: async (len) => { await f.truncate(len) },
      size: async () => await f.size(),
      close: async () => { await f.close() }
    }
    const wd = f.writeDurable
    if (wd !== undefined) {
      out.writeDurable = async (buf, pos) => {
        const t0 = performance.now()
        await wd.call(f, buf, pos)
        metrics.fsyncSeconds.observe((performance.now() - t0) / 1000)
      }
    }
    return out
  }
  return {
    open: async (path, create) => timed(await inner.open(path, create)),
    unlink: async (p) => { await inner.unlink(p) },
    rename: async (a, b) => { await inner.rename(a, b) },
    list: async (d) => await inner.list(d),
    mkdirp: async (d) => { await inner.mkdirp(d) },
    stat: async (p) => await inner.stat(p),
    syncDir: async (d) => { await inner.syncDir(d) }
  }
}

/**
 * The MQTT front end as one listener sees it: connections are counted under
 * that listener's protocol and logged when they open (they are logged with
 * their reason when they close, by the front end).
 */
export function countConnections (front: MqttFrontEnd, protocol: ConnectionProtocol, metrics: OpsMetrics, logger: Logger): MqttFrontEnd {
  return {
    ...front,
    accept (transport: Transport): TransportEvents {
      metrics.connections[protocol]++
      logger.info({ protocol, remote: transport.remoteAddress }, 'connection opened')
      const events = front.accept(transport)
      let open = true
      return {
        onData: (bytes) => { events.onData(bytes) },
        onDrain: () => { events.onDrain() },
        // mqtt/: a WebSocket that cannot hold more while paused closes with a reason.
        onOverflow: () => { events.onOverflow() },
        onClose: (error) => {
          if (open) { open = false; metrics.connections[protocol]-- }
          events.onClose(error)
        }
      }
    }
  }
}

/** Count and log refused MQTT credentials (at info, with the client and its address). */
export function countAuthFailures (inner: Authenticate, metrics: OpsMetrics, logger: Logger): Authenticate {
  return async (input) => {
    const r = await inner(input)
    if (r === undefined || 'refuse' in r) { // gateway/auth refuses with a reason code
      metrics.mqttAuthFailures++
      logger.info({ clientId: input.clientId, username: input.username, remote: input.remoteAddress, transport: input.transport }, 'credentials refused')
    }
    return r
  }
}
