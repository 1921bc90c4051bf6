/**
 * One lean MQTT workload against one broker: publishers and subscribers on
 * raw connections (TCP or WebSocket), closed loop (as fast as PUBACKs allow,
 * a window per publisher) or open loop (a fixed total rate, latency measured
 * from each message's scheduled send time, so a stalled broker cannot hide
 * behind a stalled generator: no coordinated omission). timing.ts says what
 * is measured: delivery and PUBACK latency from the due time and from the
 * actual send, how late sends went out, the generator's own loop delay.
 *
 * Every run checks what arrived: each payload carries (publisher, sequence,
 * send time); every subscriber must see every acknowledged QoS 1 message once.
 * Loss of an acknowledged message or any duplicate makes `ok` false.
 */
import { LeanConn } from './conn.js'
import { PacketType, PublishTemplate, pubackFrame, readStamp, subscribeFrame, STAMP_BYTES, DISCONNECT_FRAME } from './frames.js'
import { publishParts } from './parser.js'
import { Progress } from './progress.js'
import { LeanTiming, OPEN_LOOP_TICK_MS, openLoopDueCount, openLoopDueMs, type LeanTimingFigures, type Percentiles } from './timing.js'

/** How long the run waits after the last send for deliveries to finish, ms without progress. */
export const LEAN_DRAIN_IDLE_MS_MAX = 5_000
/** Open loop: most QoS 1 publishes a publisher keeps unacknowledged before it waits (sends then count as late, not dropped). */
export const LEAN_OPEN_LOOP_INFLIGHT_MAX = 1_000
/** Closed loop QoS 0: most messages a publisher may be ahead of its slowest subscriber (bounds broker queues). */
export const LEAN_QOS0_AHEAD_MAX = 1_000

export interface LeanScenario {
  url: string
  publishers: number
  subscribers: number
  qos: 0 | 1
  payloadBytes: number
  /** Closed loop: unacknowledged QoS 1 publishes (or QoS 0 messages ahead of delivery) per publisher. */
  windowPerPublisher: number
  /** Distinct topics per publisher (topic spread). */
  topicsPerPublisher: number
  seconds: number
  /**
   * Seconds of the same load before measuring (not in rates or latency): a fresh
   * Node process runs its first seconds in the interpreter, native peers do not.
   */
  warmupSeconds?: number
  /** Total publish rate for open loop, msgs/s; absent = closed loop. */
  openLoopRatePerSec?: number
  /** Prefix of every topic; subscribers use `${prefix}/#`. */
  topicPrefix?: string
  /** Label for progress output. */
  label?: string
}

export interface LeanResult {
  published: number
  acked: number
  delivered: number
  /** Acknowledged QoS 1 messages a subscriber never received (must be 0). */
  lost: number
  duplicates: number
  /** QoS 0 messages not delivered to some subscriber (QoS 0 allows drops; reported, not a failure). */
  qos0Dropped: number
  /** Messages sent in the measured window (after the warm-up, up to the last send). */
  publishedMeasured: number
  publishedPerSec: number
  deliveredPerSec: number
  /** Delivery to a subscriber, from the due time (open loop) or the send (closed loop). */
  latencyMs: Percentiles
  /** Every measured timing (timing.ts): PUBACK from the due time and from the send, send lateness, generator loop delay. */
  timing: LeanTimingFigures
  ok: boolean
  problems: string[]
}

class SubscriberTally {
  /** seen[publisher][seq] = times received */
  readonly seen: Uint8Array[] = []
  received = 0
  duplicates = 0
  receivedBy: number[] = []

  record (publisher: number, seq: number): void {
    let row = this.seen[publisher]
    if (row === undefined) { row = new Uint8Array(1024); this.seen[publisher] = row }
    if (seq >= row.length) {
      const bigger = new Uint8Array(Math.max(row.length * 2, seq + 1))
      bigger.set(row)
      row = bigger
      this.seen[publisher] = row
    }
    const n = row[seq] as number
    if (n > 0) this.duplicates++
    row[seq] = n < 255 ? n + 1 : n
    this.received++
    this.receivedBy[publisher] = (this.receivedBy[publisher] ?? 0) + 1
  }

  has (publisher: number, seq: number): boolean {
    const row = this.seen[publisher]
    return row !== undefined && seq < row.length && (row[seq] as number) > 0
  }
}

function nowMs (): number { return performance.now() }

/** Told when the measured window opens (after the warm-up) and closes (the last send), e.g. to bracket a broker-side watch. */
export interface LeanHooks {
  measuring?: () => void
  measured?: () => void
}

export async function runLean (sc: LeanScenario, hooks: LeanHooks = {}): Promise<LeanResult> {
  const prefix = sc.topicPrefix ?? `lean${Math.floor(Math.random() * 1e9).toString(36)}`
  const tag = Math.floor(Math.random() * 1e9).toString(36)
  const timing = new LeanTiming()
  const tallies: SubscriberTally[] = []
  const subs: LeanConn[] = []
  let delivered = 0
  let lastProgressMs = nowMs()
  /** Messages sent before this time are warm-up: delivered and checked, not measured. */
  let measureFromMs = (sc.warmupSeconds ?? 0) > 0 ? Infinity : -Infinity

  for (let s = 0; s < sc.subscribers; s++) {
    const conn = await LeanConn.open({ url: sc.url }, `lean-sub-${tag}-${s}`)
    const tally = new SubscriberTally()
    tallies.push(tally)
    const subacked = new Promise<void>((resolve, reject) => {
      conn.onPacket((first, buf, at) => {
        if (first >> 4 === PacketType.suback) {
          if ((buf[at + 2] as number) >= 0x80) reject(new Error('subscription refused')); else resolve()
        }
      })
    })
    conn.send(subscribeFrame(1, `${prefix}/#`, sc.qos))
    await subacked
    conn.onPacket((first, buf, at, end) => {
      if (first >> 4 !== PacketType.publish) return
      const p = publishParts(first, buf, at)
      if (end - p.payloadAt < STAMP_BYTES) return
      const st = readStamp(buf, p.payloadAt)
      tally.record(st.publisher, st.seq)
      delivered++
      lastProgressMs = nowMs()
      if (st.sentMs >= measureFromMs) {
        const at = nowMs()
        // The stamp carries the due time; the actual send time stays here (sentAt is filled before the frame leaves).
        timing.delivery.recordMs(at - st.sentMs)
        const sentAt = pubs[st.publisher]?.sentAt[st.seq]
        if (sentAt !== undefined && sentAt > 0) timing.deliveryFromSend.recordMs(at - sentAt)
      }
      if (p.qos === 1) conn.send(pubackFrame(p.packetId))
    })
    subs.push(conn)
  }

  /** dueAt[seq] / sentAt[seq]: when a message was due and when it went out, ms (performance.now()); grown by doubling. */
  interface Pub { conn: LeanConn, templates: PublishTemplate[], sent: number, acked: number, inflight: number, ackedSeqs: Uint8Array, idToSeq: Int32Array, nextId: number, dueAt: Float64Array, sentAt: Float64Array }
  const pubs: Pub[] = []
  for (let p = 0; p < sc.publishers; p++) {
    const conn = await LeanConn.open({ url: sc.url }, `lean-pub-${tag}-${p}`)
    const templates: PublishTemplate[] = []
    for (let k = 0; k < sc.topicsPerPublisher; k++) templates.push(new PublishTemplate(`${prefix}/p${p}/t${k}`, Math.max(sc.payloadBytes, STAMP_BYTES), sc.qos))
    pubs.push({ conn, templates, sent: 0, acked: 0, inflight: 0, ackedSeqs: new Uint8Array(1024), idToSeq: new Int32Array(65_536).fill(-1), nextId: 1, dueAt: new Float64Array(1024), sentAt: new Float64Array(1024) })
  }

  let sending = true
  const startMs = nowMs()
  if (measureFromMs === -Infinity) { timing.startLoopMonitor(); hooks.measuring?.() }
  const perPubRate = sc.openLoopRatePerSec !== undefined ? sc.openLoopRatePerSec / sc.publishers : 0

  const minReceived = (p: number): number => {
    let m = Infinity
    for (const t of tallies) m = Math.min(m, t.receivedBy[p] ?? 0)
    return m === Infinity ? 0 : m
  }

  const sendOne = (p: number, pub: Pub, dueMs: number): void => {
    const seq = pub.sent++
    if (seq >= pub.sentAt.length) {
      const due = new Float64Array(pub.sentAt.length * 2)
      due.set(pub.dueAt)
      pub.dueAt = due
      const sent = new Float64Array(pub.sentAt.length * 2)
      sent.set(pub.sentAt)
      pub.sentAt = sent
    }
    // Closed loop a message is due when it is sent: one time for both.
    const sentMs = perPubRate === 0 ? dueMs : nowMs()
    pub.dueAt[seq] = dueMs
    pub.sentAt[seq] = sentMs
    if (dueMs >= measureFromMs) timing.sendLate.recordMs(sentMs - dueMs)
    const t = pub.templates[seq % pub.templates.length] as PublishTemplate
    let id = 0
    if (sc.qos === 1) {
      // Packet ids cycle over 1..65535; the window is far smaller, so an id is free again when reused.
      id = pub.nextId
      pub.nextId = pub.nextId === 65_535 ? 1 : pub.nextId + 1
      pub.idToSeq[id] = seq
      pub.inflight++
    }
    pub.conn.send(t.fill(id, { publisher: p, seq, sentMs: dueMs }))
  }

  const closedLoopFill = (p: number, pub: Pub): void => {
    if (!sending) return
    if (sc.qos === 1) {
      while (pub.inflight < sc.windowPerPublisher) sendOne(p, pub, nowMs())
    } else {
      const limit = Math.min(sc.windowPerPublisher, LEAN_QOS0_AHEAD_MAX)
      let ahead = pub.sent - minReceived(p)
      while (ahead < limit) { sendOne(p, pub, nowMs()); ahead++ }
    }
  }

  pubs.forEach((pub, p) => {
    pub.conn.onPacket((first, buf, at) => {
      if (first >> 4 !== PacketType.puback) return
      const id = buf.readUInt16BE(at)
      const seq = pub.idToSeq[id] as number
      if (seq < 0) return
      pub.idToSeq[id] = -1
      pub.inflight--
      const dueMs = pub.dueAt[seq] as number
      if (dueMs >= measureFromMs) {
        const at = nowMs()
        timing.ack.recordMs(at - dueMs)
        timing.ackFromSend.recordMs(at - (pub.sentAt[seq] as number))
      }
      pub.acked++
      if (seq >= pub.ackedSeqs.length) {
        const bigger = new Uint8Array(Math.max(pub.ackedSeqs.length * 2, seq + 1))
        bigger.set(pub.ackedSeqs)
        pub.ackedSeqs = bigger
      }
      pub.ackedSeqs[seq] = 1
      lastProgressMs = nowMs()
      if (perPubRate === 0) closedLoopFill(p, pub)
    })
  })

  const progress = new Progress(sc.label ?? 'lean', sc.seconds)
  let qos0Timer: NodeJS.Timeout | undefined
  let openTimer: NodeJS.Timeout | undefined
  if (perPubRate === 0) {
    pubs.forEach((pub, p) => { closedLoopFill(p, pub) })
    // QoS 0 has no PUBACK to clock the loop: refill as deliveries arrive.
    if (sc.qos === 0) qos0Timer = setInterval(() => { pubs.forEach((pub, p) => { closedLoopFill(p, pub) }) }, 1)
  } else {
    // Each wake-up aims at the next tick's absolute time (timing.ts), so a late turn does not shift the ticks after it.
    const tick = (): void => {
      if (!sending) return
      const elapsedMs = nowMs() - startMs
      pubs.forEach((pub, p) => {
        const due = openLoopDueCount(elapsedMs, perPubRate)
        while (pub.sent < due && (sc.qos === 0 || pub.inflight < LEAN_OPEN_LOOP_INFLIGHT_MAX)) {
          // Stamp the time this message was due, not the time it went out.
          sendOne(p, pub, openLoopDueMs(startMs, pub.sent, perPubRate))
        }
      })
      const nextMs = startMs + (Math.floor(elapsedMs / OPEN_LOOP_TICK_MS) + 1) * OPEN_LOOP_TICK_MS
      openTimer = setTimeout(tick, Math.max(0, nextMs - nowMs()))
    }
    tick()
  }
  const progressTimer = setInterval(() => { progress.tick(delivered, nowMs() - startMs) }, 1000)

  const warmupMs = (sc.warmupSeconds ?? 0) * 1000
  let deliveredAtWarmup = 0
  let publishedAtWarmup = 0
  if (warmupMs > 0) {
    await new Promise((resolve) => setTimeout(resolve, warmupMs))
    measureFromMs = nowMs()
    timing.startLoopMonitor()
    hooks.measuring?.()
    deliveredAtWarmup = delivered
    publishedAtWarmup = pubs.reduce((n, p) => n + p.sent, 0)
  }
  await new Promise((resolve) => setTimeout(resolve, sc.seconds * 1000))
  sending = false
  timing.stopLoopMonitor()
  hooks.measured?.()
  const stopMs = nowMs()
  const deliveredAtStop = delivered
  clearInterval(qos0Timer)
  clearTimeout(openTimer)
  for (const pub of pubs) pub.conn.flush()

  // Drain: wait until every subscriber has every message sent, or nothing moved for a while.
  const published = pubs.reduce((n, p) => n + p.sent, 0)
  lastProgressMs = nowMs()
  while (true) {
    const allIn = tallies.every((t) => t.received - t.duplicates >= published)
    const allAcked = sc.qos === 0 || pubs.every((p) => p.inflight === 0)
    if (allIn && allAcked) break
    if (nowMs() - lastProgressMs > LEAN_DRAIN_IDLE_MS_MAX) break
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  clearInterval(progressTimer)
  progress.done()

  const problems: string[] = []
  let lost = 0
  let qos0Dropped = 0
  let duplicates = 0
  for (const t of tallies) {
    duplicates += t.duplicates
    pubs.forEach((pub, p) => {
      for (let seq = 0; seq < pub.sent; seq++) {
        if (t.has(p, seq)) continue
        if (sc.qos === 1 && (pub.ackedSeqs[seq] ?? 0) === 1) lost++
        else if (sc.qos === 0) qos0Dropped++
      }
    })
  }
  const acked = pubs.reduce((n, p) => n + p.acked, 0)
  if (lost > 0) problems.push(`${lost} acknowledged messages never delivered`)
  if (duplicates > 0) problems.push(`${duplicates} duplicate deliveries`)
  if (sc.qos === 1 && acked < published) problems.push(`${published - acked} publishes never acknowledged`)

  for (const c of [...pubs.map((p) => p.conn), ...subs]) { c.send(DISCONNECT_FRAME); c.close() }
  const seconds = (stopMs - (Number.isFinite(measureFromMs) ? measureFromMs : startMs)) / 1000
  const timings = timing.figures()
  const result: LeanResult = {
    published,
    acked,
    delivered,
    lost,
    duplicates,
    qos0Dropped,
    publishedMeasured: published - publishedAtWarmup,
    publishedPerSec: Math.round((published - publishedAtWarmup) / seconds),
    deliveredPerSec: Math.round((deliveredAtStop - deliveredAtWarmup) / seconds),
    latencyMs: timings.delivery,
    timing: timings,
    ok: problems.length === 0,
    problems
  }
  timing.destroy()
  return result
}
