/**
 * Where a paced sync append's latency goes (bench-store.ts --latency --trace): the real disk wrapped so every
 * segment write, O_DSYNC write and fdatasync is timed, and each append matched to the commit that made it durable.
 *
 * With one commit in flight (COMMITS_IN_FLIGHT_MAX) the writer takes a batch and issues its write in the same
 * turn, so an append issued at t is in the first log write issued at or after t. Its latency from when it was due
 * then splits into: pacing (due -> issued: the generator's own lag), queue (issued -> its write issued: the turn,
 * plus the commit in flight it waited behind), write (a write + fdatasync commit's write), sync (the fdatasync, or
 * the whole O_DSYNC write) and completion (sync done -> the append's continuation ran: the event loop).
 * Zero-ahead chunks (store/zero-ahead.ts) are O_DSYNC writes of ZERO_AHEAD_CHUNK_BYTES on the same file: counted
 * apart, with how many log syncs ran beside one.
 * Slow log syncs (>= SLOW_SYNC_MS as this process saw them) are counted, with how many ran beside a zero chunk;
 * slowSyncLines lists each with what ran beside it (bench-store.ts prints them with FERRY_TRACE_SLOW=1). A sync's time here ends when its continuation
 * runs, so a loop delay counts in it: compare with the kernel's own times (strace -T -e pwrite64,fdatasync).
 */
import { realDisk } from '../disk/real-disk.js'
import type { Disk, DiskFile } from '../disk/disk.js'
import { DSYNC_WRITE_BYTES_MAX, ZERO_AHEAD_CHUNK_BYTES } from '../constants.js'

/** Kinds of timed disk operations. */
export type OpKind = 'write' | 'dsync' | 'fdatasync' | 'zero'

export interface TimedOp { kind: OpKind, start: number, end: number, bytes: number, file: string }

/** Segment files only: checkpoints and the directory are not on the append path. */
const SEGMENT_FILE = /^seg-\d+\.log$|^spare-\d+\.seg$/

export class TracedDisk {
  readonly ops: TimedOp[] = []
  on = false
  readonly disk: Disk

  constructor () {
    const rec = async (kind: OpKind, op: Promise<void>, bytes: number, file: string): Promise<void> => {
      const start = performance.now()
      try { await op } finally { if (this.on) this.ops.push({ kind, start, end: performance.now(), bytes, file }) }
    }
    const wrap = (f: DiskFile, file: string): DiskFile => {
      const durable = f.writeDurable
      return {
        write: async (buf, pos) => { await rec('write', f.write(buf, pos), buf.length, file) },
        read: async (pos, len) => await f.read(pos, len),
        writeDurable: durable === undefined
          ? undefined
          : async (buf, pos) => { await rec(buf.length === ZERO_AHEAD_CHUNK_BYTES && buf[0] === 0 ? 'zero' : 'dsync', durable.call(f, buf, pos), buf.length, file) },
        datasync: async () => { await rec('fdatasync', f.datasync(), 0, file) },
        truncate: async (n) => { await f.truncate(n) },
        size: async () => await f.size(),
        close: async () => { await f.close() }
      }
    }
    this.disk = {
      ...realDisk,
      open: async (path, create) => {
        const f = await realDisk.open(path, create)
        const name = path.split('/').pop() ?? ''
        return SEGMENT_FILE.test(name) ? wrap(f, name) : f
      }
    }
  }
}

/** A log sync at least this long (ms) counts as slow: several times this disk's quiet p99 fdatasync (~0.5 ms). */
const SLOW_SYNC_MS = 3

const isSlowSync = (o: TimedOp): boolean => (o.kind === 'dsync' || o.kind === 'fdatasync') && o.end - o.start >= SLOW_SYNC_MS

/**
 * One line per slow log sync (>= SLOW_SYNC_MS): when (ms from the first op), how long, and what ran beside it
 * (zero chunks, writes past DSYNC_WRITE_BYTES_MAX, other files), for bench-store.ts with FERRY_TRACE_SLOW=1.
 */
export function slowSyncLines (ops: TimedOp[]): string[] {
  const t0 = ops.reduce((m, o) => Math.min(m, o.start), Infinity)
  return ops.filter(isSlowSync).map((o) => {
    const near = ops.filter((x) => x !== o && x.start < o.end + 1 && x.end > o.start - 1 && (x.kind === 'zero' || x.bytes > DSYNC_WRITE_BYTES_MAX || x.file !== o.file))
    return `slow ${o.kind} ${o.file} ${o.bytes} B at ${(o.start - t0).toFixed(1)} ms: ${(o.end - o.start).toFixed(2)} ms; beside: ${near.map((x) => `${x.kind} ${x.file} ${x.bytes}`).join(', ')}`
  })
}

/** One measured append: when it was due, issued and resolved (performance.now() ms). */
export interface AppendTimes { due: number, issued: number, resolved: number }

type Split = { pacing: number, queue: number, write: number, sync: number, completion: number }

const mean = (xs: number[]): number => xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length
const round = (x: number): number => Number(x.toFixed(3))

/**
 * The latency split (ms) of the appends at or above the p99, and of all of them; disk sync p99 and how often a
 * zero chunk overlapped a log sync. Appends whose commit is not found (none issued after them) are left out.
 */
export function splitLatency (appends: AppendTimes[], ops: TimedOp[]): Record<string, unknown> {
  const logStarts = ops.filter((o) => o.kind === 'write' || o.kind === 'dsync').sort((a, b) => a.start - b.start)
  const syncs = ops.filter((o) => o.kind === 'dsync' || o.kind === 'fdatasync').sort((a, b) => a.start - b.start)
  const zeros = ops.filter((o) => o.kind === 'zero')
  const splitOf = (a: AppendTimes): Split | null => {
    // First log write issued at or after the append (binary search).
    let lo = 0
    let hi = logStarts.length
    while (lo < hi) { const m = (lo + hi) >> 1; if ((logStarts[m] as TimedOp).start < a.issued) lo = m + 1; else hi = m }
    const w = logStarts[lo]
    if (w === undefined) return null
    let sync = w
    if (w.kind === 'write') {
      const s = syncs.find((o) => o.kind === 'fdatasync' && o.start >= w.end - 0.001)
      if (s === undefined) return null
      sync = s
    }
    return {
      pacing: a.issued - a.due,
      queue: w.start - a.issued,
      write: w.kind === 'write' ? sync.start - w.start : 0,
      sync: sync.end - sync.start,
      completion: a.resolved - sync.end
    }
  }
  const byLatency = [...appends].sort((x, y) => (x.resolved - x.due) - (y.resolved - y.due))
  const tail = byLatency.slice(Math.floor(byLatency.length * 0.99))
  const summarize = (xs: AppendTimes[]): Record<string, number> => {
    const s = xs.map(splitOf).filter((x): x is Split => x !== null)
    return {
      appends: s.length,
      pacingMs: round(mean(s.map((x) => x.pacing))),
      queueMs: round(mean(s.map((x) => x.queue))),
      writeMs: round(mean(s.map((x) => x.write))),
      syncMs: round(mean(s.map((x) => x.sync))),
      completionMs: round(mean(s.map((x) => x.completion)))
    }
  }
  const syncMs = syncs.map((o) => o.end - o.start).sort((a, b) => a - b)
  const besideZero = (s: TimedOp): boolean => zeros.some((z) => z.start < s.end && z.end > s.start)
  const overlapped = syncs.filter(besideZero).length
  // The syncs that make the tail: how many ran beside a zero chunk, and the zero chunks' own latency.
  const slow = syncs.filter(isSlowSync)
  const zeroMs = zeros.map((o) => o.end - o.start).sort((a, b) => a - b)
  return {
    tail: summarize(tail),
    all: summarize(appends),
    logSyncs: syncs.length,
    logSyncP50Ms: round(syncMs[Math.floor(syncMs.length * 0.5)] ?? 0),
    logSyncP99Ms: round(syncMs[Math.floor(syncMs.length * 0.99)] ?? 0),
    logSyncMaxMs: round(syncMs[syncMs.length - 1] ?? 0),
    zeroChunks: zeros.length,
    logSyncsBesideZeroChunk: overlapped,
    slowLogSyncs: slow.length,
    slowLogSyncsBesideZeroChunk: slow.filter(besideZero).length,
    slowLogSyncMs: SLOW_SYNC_MS,
    zeroChunkP50Ms: round(zeroMs[Math.floor(zeroMs.length * 0.5)] ?? 0),
    zeroChunkMaxMs: round(zeroMs[zeroMs.length - 1] ?? 0)
  }
}
