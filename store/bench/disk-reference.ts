/**
 * bench:store's view of the disk itself: raw 4 KiB write + fdatasync on a file of its own (the latency target's
 * reference, 2 x its p99 + 1 ms), the temporary directories, and a wait for a ledger's files to stop growing.
 */
import { mkdtemp, open, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A temporary directory under FERRY_BENCH_DIR (another disk, for A/B runs) or the system's. */
export async function benchTmpDir (): Promise<string> {
  return await mkdtemp(join(process.env.FERRY_BENCH_DIR ?? tmpdir(), 'ferry-bench-'))
}

/** Raw 4 KiB write+fdatasync for `seconds` on a file of its own: the fdatasync latencies (ms) and the rate. */
export async function rawSamples (seconds: number): Promise<{ syncMs: number[], perSec: number }> {
  const dir = await benchTmpDir()
  const fh = await open(join(dir, 'raw'), 'w+')
  const b = Buffer.alloc(4096, 1)
  let n = 0
  const syncMs: number[] = []
  const t0 = performance.now()
  while (performance.now() - t0 < 1000 * seconds) {
    await fh.write(b, 0, b.length, n * 4096)
    const s0 = performance.now()
    await fh.datasync()
    syncMs.push(performance.now() - s0)
    n++
  }
  const perSec = n / ((performance.now() - t0) / 1000)
  await fh.close()
  await rm(dir, { recursive: true, force: true })
  return { syncMs, perSec }
}

export function quantile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0
}

/** The disk's own write+fdatasync rate and its fdatasync latency (p50/p99) over `seconds`. */
export async function rawFsync (seconds: number): Promise<{ perSec: number, p50Ms: number, p99Ms: number }> {
  const { syncMs, perSec } = await rawSamples(seconds)
  syncMs.sort((a, b) => a - b)
  return { perSec, p50Ms: quantile(syncMs, 0.5), p99Ms: quantile(syncMs, 0.99) }
}

/** Waits until the files in `dir` stop growing (three polls 50 ms apart see the same total size). */
export async function quiet (dir: string): Promise<void> {
  let last = -1
  let same = 0
  while (same < 3) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    let total = 0
    for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size
    same = total === last ? same + 1 : 0
    last = total
  }
}
