/**
 * What the log writer keeps of appended records (store/log-writer.ts): their
 * bodies (views of the encoders' shared chunks, so one kept body keeps its
 * whole chunk) are referenced only until their batch is copied into its write
 * buffer. Pinned here: once a batch is written, even while its sync is still
 * in flight, and after its appends are acknowledged, the writer holds no
 * reference to their bodies (WeakRefs cleared by a full gc) and reports 0
 * held body bytes; a failed commit drops them too.
 */
import t from 'tap'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { SimDisk } from '../../store/disk/sim-disk.js'
import { LogWriter, type WriterOptions } from '../../store/log-writer.js'
import { SEGMENT_HEADER_BYTES, encodeSegmentHeader, segmentName } from '../../store/segment.js'
import type { Disk, DiskFile } from '../../store/index.js'
import { waitFor } from './helpers.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const DIR = '/w'
const MiB = 1024 * 1024
/** Appends per round: more than one group commit's worth of groups over several turns. */
const APPENDS = 2000
const BODY_BYTES = 200

const options: WriterOptions = {
  dir: DIR,
  segmentSizeBytes: 64 * MiB,
  groupCommitMaxBytes: 64 * 1024,
  groupCommitWaitMs: 0,
  asyncFlushMs: 50,
  tailCacheBytes: 1 * MiB,
  commitsInFlightMax: 1,
  groupCommitEagerBytes: Number.POSITIVE_INFINITY,
  dsyncWriteBytesMax: 64 * 1024
}

interface Gate { hold: boolean, held: Array<() => void>, fail: boolean }

/** The segment file, whose syncs (O_DSYNC writes of records, fdatasyncs) wait while `gate.hold`, or fail (EIO) when `gate.fail`. */
async function gatedSegment (disk: Disk, gate: Gate): Promise<DiskFile> {
  const f = await disk.open(`${DIR}/${segmentName(1)}`, true)
  await f.write(encodeSegmentHeader(1), 0)
  await f.datasync()
  const wait = async (): Promise<void> => {
    if (gate.hold) await new Promise<void>((resolve) => gate.held.push(resolve))
    if (gate.fail) throw Object.assign(new Error('EIO: sync'), { code: 'EIO' })
  }
  const durable = f.writeDurable
  return {
    ...f,
    datasync: async () => { await wait(); await f.datasync() },
    writeDurable: durable === undefined
      ? undefined
      : async (buf, pos) => {
        if (!buf.every((b) => b === 0)) await wait() // zero-ahead chunks pass
        await durable(buf, pos)
      }
  }
}

async function writer (gate: Gate, failures: unknown[] = []): Promise<LogWriter> {
  const sim = new SimDisk(7)
  const disk = sim.view()
  await disk.mkdirp(DIR)
  const file = await gatedSegment(disk, gate)
  return new LogWriter(disk, options, 1, file, SEGMENT_HEADER_BYTES, SEGMENT_HEADER_BYTES, (f) => { failures.push(f) })
}

/** Appends APPENDS bodies, a turn every `perTurn`, and returns WeakRefs to them (no strong reference stays here). */
async function appendRound (w: LogWriter, sync: boolean, perTurn = 100): Promise<{ refs: Array<WeakRef<Buffer>>, done: Array<Promise<void>> }> {
  const refs: Array<WeakRef<Buffer>> = []
  const done: Array<Promise<void>> = []
  for (let i = 0; i < APPENDS; i++) {
    const body = Buffer.alloc(BODY_BYTES, i & 0xff)
    refs.push(new WeakRef(body))
    done.push(w.append(body, sync).done)
    if (i % perTurn === perTurn - 1) await new Promise((resolve) => setImmediate(resolve))
  }
  return { refs, done }
}

/** Live bodies after a full gc, in a later turn (WeakRefs dereferenced in this turn stay alive until it ends). */
async function liveAfterGc (refs: Array<WeakRef<Buffer>>): Promise<number> {
  await new Promise((resolve) => setImmediate(resolve))
  gc()
  await new Promise((resolve) => setImmediate(resolve))
  gc()
  return refs.filter((r) => r.deref() !== undefined).length
}

t.test('store - writer retention - acknowledged appends leave no body referenced by the writer', async (t) => {
  for (const sync of [true, false]) {
    const w = await writer({ hold: false, held: [], fail: false })
    const { refs, done } = await appendRound(w, sync)
    await Promise.all(done)
    t.equal(w.heldBodyBytes, 0, `no body bytes held (sync ${sync})`)
    t.equal(await liveAfterGc(refs), 0, `every body collected (sync ${sync})`)
    await w.close()
  }
})

t.test('store - writer retention - a written batch whose sync is in flight holds no bodies', async (t) => {
  const gate: Gate = { hold: true, held: [], fail: false }
  const w = await writer(gate)
  const { refs, done } = await appendRound(w, true)
  await waitFor(() => gate.held.length > 0, 'a commit is waiting for its sync')
  // The commit in flight has its bodies copied; what is still queued behind it is held, and bounded by what was appended.
  const held = w.heldBodyBytes
  t.ok(held < APPENDS * BODY_BYTES, 'the written batch is not counted')
  const live = await liveAfterGc(refs)
  t.equal(live * BODY_BYTES, held, 'the bodies alive are exactly the ones still queued')
  gate.hold = false
  while (gate.held.length > 0) (gate.held.shift() as () => void)()
  await Promise.all(done)
  t.equal(w.heldBodyBytes, 0)
  t.equal(await liveAfterGc(refs), 0, 'every body collected once acknowledged')
  await w.close()
})

t.test('store - writer retention - a failed commit drops every body it was given', async (t) => {
  const gate: Gate = { hold: false, held: [], fail: true }
  const failures: unknown[] = []
  const w = await writer(gate, failures)
  const { refs, done } = await appendRound(w, true, APPENDS) // all queued before the first commit fails
  const settled = await Promise.allSettled(done)
  t.ok(settled.every((s) => s.status === 'rejected'), 'every append rejected')
  t.equal(failures.length, 1)
  t.equal(w.heldBodyBytes, 0)
  t.equal(await liveAfterGc(refs), 0, 'every body collected after the failure')
  await w.abandon()
})
