/**
 * The log writer's pending groups (store/log-writer.ts): records queued
 * together share one group and one promise; the drain loop takes whole groups
 * as a batch and copies their frames into one write buffer.
 *
 * What the queue keeps alive matters at a million topics: record bodies are
 * views of the encoders' shared chunks, so one kept body keeps its chunk. A
 * group drops its bodies once they are copied into a write buffer (it keeps
 * only its promise until its commit completes), and the queue is emptied
 * whenever every group is taken, so only bodies not yet written are
 * referenced (`heldBodyBytes`; test/store/writer-retention.test.ts).
 */
import assert from 'node:assert/strict'
import { FRAME_HEADER_BYTES, writeFrameHeader } from './framing.js'
import { QUEUE_TAKEN_GROUPS_MAX } from './constants.js'

/**
 * Records queued together, with one promise for all of them (not one per
 * append). A group never spans two commits: it closes when a batch takes it,
 * at a segment boundary, and at groupCommitMaxBytes, so a failure never
 * rejects a record that a successful commit made durable. Barriers join the
 * open group (or make an empty one).
 */
export interface Group {
  /** Lsn of the first record (the records are contiguous). */
  lsn: number
  segmentId: number
  /** The records' bodies until they are copied into a write buffer (then empty: the group no longer holds them). */
  bodies: Buffer[]
  checksums: number[]
  /** Bytes of `bodies` (0 once copied). */
  bodyBytes: number
  /** Frame bytes of the records. */
  bytes: number
  /** Some record or barrier of it wants fdatasync. */
  sync: boolean
  done: Promise<void>
  resolve: () => void
  reject: (err: Error) => void
}

const noop = (): void => {}
/** What a group holds once its bodies are copied (shared, never written to: a taken group takes no appends). */
const NO_BODIES: Buffer[] = []
const NO_CHECKSUMS: number[] = []

export class LogQueue {
  private groups: Group[] = []
  /** Index of the first group not taken yet. */
  private head = 0
  /** The group appends join (the newest queued one), until a batch takes it. */
  private current: Group | null = null
  /** Frame bytes of the groups not taken yet. */
  queuedBytes = 0
  /** Bytes of record bodies referenced: queued, or taken and not yet copied into a write buffer. */
  heldBodyBytes = 0

  constructor (private readonly groupBytesMax: number) {}

  /** Some group (records or barriers) is waiting to be taken. */
  get pending (): boolean { return this.groups.length > this.head }

  /** Queue one record at `lsn` of `segmentId`; returns its group's promise. */
  add (lsn: number, segmentId: number, body: Buffer, checksum: number, frameBytes: number, sync: boolean): Promise<void> {
    let g = this.current
    if (g === null || g.segmentId !== segmentId || (g.bytes > 0 && g.bytes + frameBytes > this.groupBytesMax)) g = this.open(lsn, segmentId)
    else if (g.bytes === 0) { g.lsn = lsn; g.segmentId = segmentId } // barriers only so far: the group starts here
    g.bodies.push(body)
    g.checksums.push(checksum)
    g.bodyBytes += body.length
    this.heldBodyBytes += body.length
    g.bytes += frameBytes
    if (sync) g.sync = true
    this.queuedBytes += frameBytes
    return g.done
  }

  /** The open group (or a new empty one at `lsn`) for a barrier. */
  barrierGroup (lsn: number, segmentId: number, sync: boolean): Group {
    const g = this.current ?? this.open(lsn, segmentId)
    if (sync) g.sync = true
    return g
  }

  private open (lsn: number, segmentId: number): Group {
    let resolve: () => void = () => {}
    let reject: (err: Error) => void = () => {}
    const done = new Promise<void>((res, rej) => { resolve = res; reject = rej })
    // A group may have no awaiter (a replicated batch awaits one barrier after its records, ledger-replicated.ts,
    // and that may land in a later group): a failure must not become an unhandled rejection. Awaiters still see it.
    done.catch(noop)
    const g: Group = { lsn, segmentId, bodies: [], checksums: [], bodyBytes: 0, bytes: 0, sync: false, done, resolve, reject }
    this.groups.push(g)
    this.current = g
    return g
  }

  /** Take the next batch: whole groups of one segment, at most `bytesMax` (at least one group). */
  take (bytesMax: number): Group[] {
    const batch: Group[] = []
    let bytes = 0
    let seg = -1
    while (this.groups.length > this.head) {
      const g = this.groups[this.head] as Group
      if (g.bytes > 0) {
        if (seg === -1) seg = g.segmentId
        else if (g.segmentId !== seg) break
      }
      if (batch.length > 0 && bytes + g.bytes > bytesMax) break
      batch.push(g)
      bytes += g.bytes
      this.head++
      if (g === this.current) this.current = null
    }
    this.queuedBytes -= bytes
    // A taken group must not stay reachable from the queue: empty it when every group is taken, else drop the
    // taken prefix once it is most of it.
    if (this.head === this.groups.length) {
      this.groups.length = 0
      this.head = 0
    } else if (this.head > QUEUE_TAKEN_GROUPS_MAX && this.head * 2 > this.groups.length) {
      this.groups = this.groups.slice(this.head)
      this.head = 0
    }
    return batch
  }

  /** Every group not taken yet, and the queue emptied (a failure rejects them). */
  drain (): Group[] {
    const rest = this.groups.slice(this.head)
    this.groups = []
    this.head = 0
    this.current = null
    this.queuedBytes = 0
    return rest
  }

  /** Forget the bodies of `groups` (a failure: they are rejected, never written). */
  release (groups: Iterable<Group>): void {
    for (const g of groups) this.dropBodies(g)
  }

  /**
   * The frames of a batch's records, starting at `start`, in one buffer of `size` bytes; the groups drop their
   * bodies.
   */
  build (batch: Group[], start: number, size: number): Buffer {
    const buf = Buffer.allocUnsafe(size)
    let at = 0
    for (const g of batch) {
      if (g.bytes === 0) continue
      assert.equal(g.lsn, start + at, 'batched records are contiguous')
      const { bodies, checksums } = g
      for (let i = 0; i < bodies.length; i++) {
        const body = bodies[i] as Buffer
        writeFrameHeader(buf, at, body.length, checksums[i] as number)
        buf.set(body, at + FRAME_HEADER_BYTES) // TypedArray#set: Buffer#copy checks and wraps its arguments first (~0.7 us a record, session 8 profile)
        at += FRAME_HEADER_BYTES + body.length
      }
      // Copied: the group keeps only its promise until its commit completes (a sync may take milliseconds).
      this.dropBodies(g)
    }
    assert.equal(at, size, 'the batch fills its buffer')
    return buf
  }

  private dropBodies (g: Group): void {
    this.heldBodyBytes -= g.bodyBytes
    g.bodies = NO_BODIES
    g.checksums = NO_CHECKSUMS
    g.bodyBytes = 0
  }
}
