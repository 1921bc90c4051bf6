/**
 * bench:store's paced appends, issued the way a gateway issues them: Ledger.appendTo with an AppendSink
 * (gateway/dispatch/publish-path.ts hands its publish op over as both input and sink), not the promise form.
 *
 * Why: the paced run measures the store's p99 inside the process that generates the load, and its scavenges
 * are part of what it measures. Through `append()` each append cost the benchmark a topic string, an input
 * object, a promise and its result object, a `.then` closure with its own promise, and a slot in a
 * `Promise.all` at the slice's end: an allocation sample of the paced phase (session 14) put 36% of the
 * process's bytes in the loop that issued them and 6% more in `Promise.all`, i.e. more than the store's own
 * append path. Here the inputs are made once per topic, each sink is reused once its append has answered
 * (a free list; as many exist as were ever in flight at once), and the latencies go to a Float64Array.
 * Latency is still counted from the due time the caller passes (no coordinated omission).
 */
import type { AppendInput, AppendSink, Ledger } from '../index.js'
import type { AppendTimes } from './append-trace.js'

class SlotSink implements AppendSink {
  due = 0
  issued = 0
  measured = false
  constructor (private readonly owner: PacedAppends) {}
  appended (): void { this.owner.answered(this) }
  appendFailed (err: unknown): void { this.owner.failed(this, err) }
}

export class PacedAppends {
  private readonly inputs: AppendInput[]
  private readonly free: SlotSink[] = []
  private next = 0
  private outstanding = 0
  private error: unknown = undefined
  private drained: (() => void) | null = null
  /** Latencies of the measured appends (ms from due to answer), `count` of them in use. */
  private lat: Float64Array
  count = 0
  /** Whether appends issued from now on are counted. */
  measured = false

  /** `latencyCapacity`: the measured appends expected (grown if more come); `times`: --trace's per-append times, or null. */
  constructor (private readonly ledger: Ledger, topics: readonly string[], payload: Buffer, latencyCapacity: number, private readonly times: AppendTimes[] | null) {
    this.inputs = topics.map((topic) => ({ topic, payload }))
    this.lat = new Float64Array(Math.max(1, latencyCapacity))
  }

  /** Issue one append due at `due` (performance.now() ms). Topics in turn; the sequence restarts with `restart()`. */
  issue (due: number): void {
    const s = this.free.pop() ?? new SlotSink(this)
    s.due = due
    s.issued = this.times === null ? 0 : performance.now()
    s.measured = this.measured
    this.outstanding++
    this.ledger.appendTo(this.inputs[this.next++ % this.inputs.length] as AppendInput, s)
  }

  /** Start the topic sequence again (each paced slice starts at the first topic). */
  restart (): void { this.next = 0 }

  answered (s: SlotSink): void {
    if (s.measured) {
      const now = performance.now()
      if (this.count === this.lat.length) {
        const grown = new Float64Array(this.lat.length * 2)
        grown.set(this.lat)
        this.lat = grown
      }
      this.lat[this.count++] = now - s.due
      this.times?.push({ due: s.due, issued: s.issued, resolved: now })
    }
    this.release(s)
  }

  failed (s: SlotSink, err: unknown): void {
    this.error ??= err
    this.release(s)
  }

  private release (s: SlotSink): void {
    this.free.push(s)
    if (--this.outstanding === 0 && this.drained !== null) { const d = this.drained; this.drained = null; d() }
  }

  /** Resolves once every issued append has answered; rejects with the first failure. */
  async drain (): Promise<void> {
    if (this.outstanding > 0) await new Promise<void>((resolve) => { this.drained = resolve })
    if (this.error !== undefined) throw this.error
  }

  /** The measured latencies, sorted ascending (ms). */
  sortedLatencies (): number[] {
    return Array.from(this.lat.subarray(0, this.count)).sort((a, b) => a - b)
  }
}
