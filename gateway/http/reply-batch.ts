/**
 * Replies settled outside a uWS callback (a publish's commit completing, a
 * plan's promise), written together from one setImmediate instead of each
 * at once.
 *
 * Why: a commit's completion settles every publish it carried in one
 * microtask drain, and the store's log writer issues its next commit in that
 * same drain, after them (its loop waits on the commit's completion, queued
 * behind the publishes' own continuations). Each reply written at once is a
 * socket send (~8 us on loopback, the kernel delivering to the client inside
 * the call), so with ~15 publishes per commit the next commit's write left
 * ~120 us late, and with it every request of the next commit: in a closed
 * loop each request waits about two commits. Written from the check phase,
 * the replies go out after the next commit is already on its way to the
 * disk, and none is later than the turn it became ready in.
 *
 * process.nextTick would run sooner, but uWebSockets.js calls into
 * JavaScript outside Node's callback scope, so a tick queued from a uWS
 * callback waits for some unrelated Node callback (measured: 1,000 req/s
 * instead of 20,000 on a one-connection loop); setImmediate always runs in
 * the loop's next check phase.
 *
 * Bounded by the requests in flight (each settles once); emptied every turn.
 */

/** What the batch writes: an exchange holding its settled outcome. */
export interface SettledReply {
  writeSettled: () => void
}

export class ReplyBatch {
  private readonly settled: SettledReply[] = []
  private scheduled = false
  private readonly flushBound = (): void => { this.flush() }

  /** `onError`: a write that threw (the transport logs it); the other replies are still written. */
  constructor (private readonly onError: (err: unknown) => void) {}

  /** Replies waiting for the flush (tests and metrics). */
  get size (): number { return this.settled.length }

  add (r: SettledReply): void {
    this.settled.push(r)
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(this.flushBound)
  }

  /** Write every settled reply, in the order they settled. */
  flush (): void {
    this.scheduled = false
    // Index loop: a reply settled by a write (none does today) joins this flush instead of waiting for the next.
    for (let i = 0; i < this.settled.length; i++) {
      try {
        (this.settled[i] as SettledReply).writeSettled()
      } catch (err) {
        this.onError(err)
      }
    }
    this.settled.length = 0
  }
}
