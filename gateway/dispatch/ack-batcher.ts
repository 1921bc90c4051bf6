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
 */
import type { Cursor, EntryId } from '../../store/index.js'
import { ACK_BATCH_IDS_MAX } from './constants.js'

interface Call { ids: readonly EntryId[], resolve: () => void, reject: (err: unknown) => void }

export class AckBatcher {
  private calls: Call[] = []
  private ids: EntryId[] = []
  /** Ids waiting in the current batch (an id acked twice in one turn goes in once). */
  private readonly waiting = new Set<EntryId>()
  private scheduled = false

  constructor (private readonly cursor: Cursor) {}

  has (id: EntryId): boolean { return this.waiting.has(id) }

  ack (ids: readonly EntryId[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.calls.push({ ids, resolve, reject })
      for (const id of ids) {
        if (this.waiting.has(id)) continue
        this.waiting.add(id)
        this.ids.push(id)
      }
      if (this.ids.length >= ACK_BATCH_IDS_MAX) this.flush()
      else if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => { this.scheduled = false; this.flush() })
      }
    })
  }

  private flush (): void {
    const calls = this.calls
    const ids = this.ids
    if (calls.length === 0) return
    this.calls = []
    this.ids = []
    this.waiting.clear()
    if (calls.length === 1) {
      const only = calls[0] as Call
      this.cursor.ack(only.ids).then(only.resolve, only.reject)
      return
    }
    this.cursor.ack(ids).then(() => { for (const c of calls) c.resolve() }, () => {
      // One caller's ids may have been the problem (or the batch as a whole): each on its own.
      for (const c of calls) this.cursor.ack(c.ids).then(c.resolve, c.reject)
    })
  }
}
