/**
 * Ticks for an open-loop load generator that runs in the process it measures
 * (bench:store's paced appends), without the generator's own garbage.
 *
 * Node has no timer finer than 1 ms, so the paced run used to wait between
 * appends with `await new Promise(setImmediate)`: a spin of ~500,000–950,000
 * loop turns a second, each a promise, a closure and an Immediate. It kept a
 * core busy and made most of the process's garbage (289 scavenges in a
 * `--latency` run against 100 with this pacer), and on two cores the busy
 * loop starved the disk path (the thread pool's O_DSYNC writes, the kernel's
 * journal thread): 15–32 log syncs of 3 ms or more per run against 4–12.
 * A gateway is blocked in epoll between socket reads, not spinning.
 *
 * Here a worker thread sleeps TICK_US_DEFAULT at a time (Atomics.wait: no
 * allocation, no event loop; this kernel wakes it every ~130 µs at that
 * setting) and posts a tick, at most one queued at a time; the measured
 * thread blocks in epoll between ticks like a gateway between reads, and
 * wakes for a tick or for its own I/O completions, whichever comes first.
 * Appends are still issued when due by the clock (the caller counts latency
 * from the due time), so a late tick shows up in the latency, as a slow loop
 * would: no coordinated omission. Session 12, 7 alternated rounds: p99 append
 * at 20,000/s 4.46 ms (spin) -> 2.65 ms (median); a main-thread nap
 * (Atomics.wait 20 µs per turn) gave 2.67 ms with p50 0.58 against 0.42.
 */
import { Worker } from 'node:worker_threads'

/** Time between ticks (µs): well under an append's fdatasync (~0.2–0.5 ms here) and 1/20 of a ms timer. */
export const TICK_US_DEFAULT = 50

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const flags = new Int32Array(workerData.flags)
const ms = workerData.tickUs / 1000
while (Atomics.load(flags, 0) === 0) {
  Atomics.wait(flags, 0, 0, ms)
  // At most one tick queued: a busy measured thread is not handed a backlog of ticks to work through.
  if (Atomics.compareExchange(flags, 1, 0, 1) === 0) { Atomics.add(flags, 2, 1); parentPort.postMessage(0) }
}
`

export class Pacer {
  /** [0]: stop; [1]: a tick is queued and not yet handled; [2]: ticks posted. */
  private readonly flags = new Int32Array(new SharedArrayBuffer(12))
  private readonly worker: Worker
  /** Called on each tick (a paced slice sets it; a worker takes tens of ms to start, so one pacer serves them all). */
  onTick: () => void = () => {}
  /** Resolves on the first tick: the worker runs. */
  readonly started: Promise<void>

  constructor (tickUs = TICK_US_DEFAULT) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { flags: this.flags.buffer, tickUs } })
    this.started = new Promise<void>((resolve) => { this.worker.once('message', () => { resolve() }) })
    this.worker.on('message', () => { Atomics.store(this.flags, 1, 0); this.onTick() })
  }

  /** Ticks the worker has posted so far (tests). */
  get posted (): number { return Atomics.load(this.flags, 2) }

  /** A tick is posted and not yet handled (tests). */
  get queued (): boolean { return Atomics.load(this.flags, 1) === 1 }

  async stop (): Promise<void> {
    Atomics.store(this.flags, 0, 1)
    Atomics.notify(this.flags, 0)
    await new Promise<void>((resolve) => { this.worker.once('exit', () => { resolve() }) })
  }
}
