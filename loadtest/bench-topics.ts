/**
 * `npm run bench:topics [-- --topics 1000000 --json]`: a million topics
 * through MQTT. One QoS 1 message to each of N distinct topics
 * (`mt/{i}`), pipelined from 4 lean publishers, against a fresh Ferry dev
 * site (sync durability), twice: with no subscriber, and with one durable
 * wildcard subscription `mt/#` (a persistent session that subscribed and went
 * offline, so every message is backlog it pins). Reports process RSS and heap
 * per topic, and the publish rate per slice of topics as the count grows
 * (the rate at the last slice over the rate at the first thousand).
 *
 * `--topics N` runs a smaller count (iteration: 200,000 takes ~30 s; fixed
 * costs such as the 64 MiB tail cache then weigh more per topic).
 * `--settle-ms MS` also reports the RSS after the process has been idle that
 * long (no forced GC: what the OS sees once V8's memory reducer has run), then
 * heap and RSS after a GC (a checkpoint running at the end has finished by
 * then); the headline figures stay the ones measured right after the last
 * publish.
 * `--only no-subscriber|subscriber` runs one of the two (A/B rounds of one figure).
 * `--heap-snapshot FILE` writes a heap snapshot of the gateway process after
 * the last publish (FILE gets `-sub` or `-nosub` before its extension), to
 * see what the per-topic heap is made of (loadtest/heap-by-type.ts sums it).
 *
 * Where the memory went: promotedBytesPerTopic (bytes V8's minor GCs moved to
 * old space, per topic: objects that outlive a scavenge), majorGcs (mark-
 * compacts during the publishes) and oldSpaceCommittedMaxBytesPerTopic (the
 * most old space committed, per topic). Promoted bytes well above the GC'd
 * heap per topic are records that lived long enough to be promoted and died
 * there: RSS pays for them until a major GC, the heap figure does not show them.
 */
import { loadavg } from 'node:os'
import { LeanConn } from './lean/conn.js'
import { PacketType, PublishTemplate, subscribeFrame, DISCONNECT_FRAME } from './lean/frames.js'
import { startPeer, type RunningPeer } from './peers/launch.js'

function arg (name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

/** Publishers sharing the topics (each takes every 4th). */
const PUBLISHERS = 4
/** Unacknowledged publishes per publisher. */
const WINDOW_PER_PUBLISHER = 64
/** Payload bytes per message (the stamp needs 16). */
const PAYLOAD_BYTES = 64
/** Topics per rate sample. */
const SLICE_TOPICS = 50_000
/** The "first thousand" the last slice's rate is compared with. */
const FIRST_TOPICS = 1_000

interface Sample { topics: number, ratePerSec: number, rssBytes: number }

async function publishAll (peer: RunningPeer, topics: number, onSample: (s: Sample) => void): Promise<{ firstRate: number }> {
  const url = peer.mqttUrl as string
  const conns = await Promise.all(Array.from({ length: PUBLISHERS }, async (_, p) => await LeanConn.open({ url }, `mt-pub-${p}`)))
  let next = 0
  let acked = 0
  let firstRate = 0
  const start = performance.now()
  let sliceStart = start
  let sliceAcked = 0
  let samplePending: Promise<void> = Promise.resolve()
  await new Promise<void>((resolve, reject) => {
    conns.forEach((conn, p) => {
      let id = 0
      let inflight = 0
      const fill = (): void => {
        while (inflight < WINDOW_PER_PUBLISHER && next < topics) {
          const topic = next++
          id = id === 65_535 ? 1 : id + 1
          inflight++
          conn.send(new PublishTemplate(`mt/${topic}`, PAYLOAD_BYTES, 1).fill(id, { publisher: p, seq: topic, sentMs: performance.now() }))
        }
      }
      conn.onPacket((first, buf, at) => {
        if (first >> 4 !== PacketType.puback) return
        if (buf.length > at + 2 && (buf[at + 2] as number) >= 0x80) { reject(new Error(`publish refused: 0x${(buf[at + 2] as number).toString(16)}`)); return }
        inflight--
        acked++
        if (acked === FIRST_TOPICS) firstRate = FIRST_TOPICS / ((performance.now() - start) / 1000)
        if (acked - sliceAcked >= SLICE_TOPICS || acked === topics) {
          const now = performance.now()
          const rate = (acked - sliceAcked) / ((now - sliceStart) / 1000)
          const at = acked
          sliceStart = now
          sliceAcked = acked
          samplePending = samplePending.then(async () => { onSample({ topics: at, ratePerSec: Math.round(rate), rssBytes: await peer.rssBytes() }) })
        }
        if (acked === topics) { resolve(); return }
        fill()
      })
      fill()
    })
  })
  await samplePending
  for (const c of conns) { c.send(DISCONNECT_FRAME); c.close() }
  return { firstRate: Math.round(firstRate) }
}

async function offlineWildcardSubscriber (url: string): Promise<void> {
  // A persistent session (clean session 0) that subscribes at QoS 1 and goes away: every later message is its backlog.
  const conn = await LeanConn.open({ url }, 'mt-sub-durable', { cleanSession: false })
  const subacked = new Promise<void>((resolve) => { conn.onPacket((first) => { if (first >> 4 === PacketType.suback) resolve() }) })
  conn.send(subscribeFrame(1, 'mt/#', 1))
  await subacked
  conn.close()
}

async function runOnce (topics: number, withSubscriber: boolean, settleMs: number): Promise<Record<string, unknown>> {
  const peer = await startPeer('ferry')
  try {
    const base = await (peer.heap as () => Promise<{ heapUsed: number, arrayBuffers: number, rss: number }>)()
    if (withSubscriber) await offlineWildcardSubscriber(peer.mqttUrl as string)
    peer.memStart?.()
    const samples: Sample[] = []
    const t0 = performance.now()
    const { firstRate } = await publishAll(peer, topics, (s) => {
      samples.push(s)
      if (process.stderr.isTTY) process.stderr.write(`\r${withSubscriber ? 'with' : 'no'} subscriber: ${s.topics.toLocaleString('en-US')} topics, ${s.ratePerSec.toLocaleString('en-US')}/s   `)
    })
    const seconds = (performance.now() - t0) / 1000
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[K')
    const mem = await peer.memStop?.()
    const end = await (peer.heap as () => Promise<{ heapUsed: number, arrayBuffers: number, rss: number }>)()
    // After the figures: writing a snapshot grows the process itself.
    const snapshot = arg('heap-snapshot')
    if (snapshot !== undefined) await peer.heapSnapshot?.(snapshot.replace(/(\.heapsnapshot)?$/, `-${withSubscriber ? 'sub' : 'nosub'}.heapsnapshot`))
    const lastRate = samples[samples.length - 1]?.ratePerSec ?? 0
    let settled: Record<string, number> = {}
    if (settleMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, settleMs))
      const rssIdle = await peer.rssBytes()
      // Then a GC'd figure too: a periodic checkpoint in flight at the end (one Buffer per topic while it
      // runs) inflates the headline heap figure; after the wait it has finished.
      const after = await (peer.heap as () => Promise<{ heapUsed: number, arrayBuffers: number, rss: number }>)()
      settled = {
        settleMs,
        rssBytesPerTopicSettled: Math.round((rssIdle - base.rss) / topics),
        rssBytesPerTopicSettledGc: Math.round((after.rss - base.rss) / topics),
        heapBytesPerTopicSettled: Math.round((after.heapUsed + after.arrayBuffers - base.heapUsed - base.arrayBuffers) / topics)
      }
    }
    return {
      withSubscriber,
      topics,
      seconds: Math.round(seconds * 10) / 10,
      publishPerSec: Math.round(topics / seconds),
      rssBytesPerTopic: Math.round((end.rss - base.rss) / topics),
      heapBytesPerTopic: Math.round((end.heapUsed + end.arrayBuffers - base.heapUsed - base.arrayBuffers) / topics),
      firstThousandRatePerSec: firstRate,
      lastSliceRatePerSec: lastRate,
      lastOverFirst: firstRate > 0 ? Math.round((lastRate / firstRate) * 100) / 100 : 0,
      ...(mem === undefined
        ? {}
        : {
            promotedBytesPerTopic: Math.round(mem.promotedBytes / topics),
            majorGcs: mem.majorGcs,
            oldSpaceCommittedMaxBytesPerTopic: Math.round(mem.oldSpaceCommittedMaxBytes / topics)
          }),
      ...settled,
      samples
    }
  } finally {
    await peer.stop()
  }
}

async function main (): Promise<void> {
  const topics = Number(arg('topics') ?? 1_000_000)
  const load = loadavg()[0]
  const settleMs = Number(arg('settle-ms') ?? 0)
  const only = arg('only')
  if (only !== undefined && only !== 'no-subscriber' && only !== 'subscriber') throw new Error('--only is no-subscriber or subscriber')
  const runs: Array<Record<string, unknown>> = []
  if (only !== 'subscriber') runs.push(await runOnce(topics, false, settleMs))
  if (only !== 'no-subscriber') runs.push(await runOnce(topics, true, settleMs))
  const out = { bench: 'topics', when: new Date().toISOString(), loadAverage1m: load, loadAverage1mAtEnd: loadavg()[0], runs }
  if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(out) + '\n')
  else process.stdout.write(JSON.stringify(out, null, 2) + '\n')
}

main().catch((err: unknown) => { process.stderr.write(`bench:topics: ${String(err)}\n`); process.exit(1) })
