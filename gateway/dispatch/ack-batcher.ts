/**
 * Coalesces a stream's individual acknowledgements into one cursor record
 * per event-loop turn. A subscriber's PUBACKs arrive many to a socket read;
 * logging each as its own record cost a record (encode, checksum, queue
 * entry, promise) per delivered message on the durable path. Every caller
 * still waits until its ids are durable (the combined record's commit).
 *
 * If the combined record is refused (E_CURSOR_RANGES_FULL: together the ids
 * would fragment the cursor past its bound where one caller's alone might
 * not), each caller's ids are retried on their own, so a caller sees exactly
 * the outcome it would have had without coalescing.
 *
 * `ackNoWait` is the MQTT PUBACK path (fanin, issue 11): nobody waits for the
 * result, so an id costs no promise and no call record; the batch reports its
 * no-wait ids once to `noWaitSettled` (each id on its own after a refusal).
 */
import type { Cursor, EntryId } from '../../store/index.js'
import { ACK_BATCH_IDS_MAX } from './constants.js'

interface Call { ids: readonly EntryId[], resolve: () => void, reject: (err: unknown) => void }

/** No-wait ids of one batch are durable (err undefined) or were refused (err). */
export type NoWaitSettled = (ids: readonly EntryId[], err: unknown) => void

export class AckBatcher {
  private calls: Call[] = []
  private ids: EntryId[] = []
  /** Ids of this batch acked with ackNoWait (also in `ids`). */
  private noWait: EntryId[] = []
  /** Ids waiting in the current batch (an id acked twice in one turn goes in once). */
  private readonly waiting = new Set<EntryId>()
  private scheduled = false

  constructor (private readonly cursor: Cursor, private readonly noWaitSettled: NoWaitSettled) {}

  has (id: EntryId): boolean { return this.waiting.has(id) }

  ack (ids: readonly EntryId[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.calls.push({ ids, resolve, reject })
      for (const id of ids) {
        if (this.waiting.has(id)) continue
        this.waiting.add(id)
        this.ids.push(id)
      }
      this.schedule()
    })
  }

  /** Acknowledge one id that is not waiting in this batch yet (the caller checks `has`); the outcome goes to noWaitSettled. */
  ackNoWait (id: EntryId): void {
    this.waiting.add(id)
    this.ids.push(id)
    this.noWait.push(id)
    this.schedule()
  }

  private schedule (): void {
    if (this.ids.length >= ACK_BATCH_IDS_MAX) this.flush()
    else if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => { this.scheduled = false; this.flush() })
    }
  }

  private flush (): void {
    const calls = this.calls
    const ids = this.ids
    const noWait = this.noWait
    if (calls.length === 0 && noWait.length === 0) return
    this.calls = []
    this.ids = []
    this.noWait = []
    this.waiting.clear()
    if (calls.length === 1 && noWait.length === 0) {
      const only = calls[0] as Call
      this.cursor.ack(only.ids).then(only.resolve, only.reject)
      return
    }
    if (calls.length === 0 && noWait.length === 1) {
      this.cursor.ack(noWait).then(() => { this.noWaitSettled(noWait, undefined) }, (err: unknown) => { this.noWaitSettled(noWait, err) })
      return
    }
    this.cursor.ack(ids).then(() => {
      for (const c of calls) c.resolve()
      if (noWait.length > 0) this.noWaitSettled(noWait, undefined)
    }, () => {
      // One caller's ids may have been the problem (or the batch as a whole): each on its own.
      for (const c of calls) this.cursor.ack(c.ids).then(c.resolve, c.reject)
      for (const id of noWait) {
        const one = [id]
        this.cursor.ack(one).then(() => { this.noWaitSettled(one, undefined) }, (err: unknown) => { this.noWaitSettled(one, err) })
      }
    })
  }
}
