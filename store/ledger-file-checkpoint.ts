/**
 * Writing one checkpoint of the file ledger: a fuzzy snapshot of the
 * in-memory state (topics in row chunks, metadata, segment times), written
 * once the log is durable through everything it reflects, and the oldest
 * checkpoints beyond CHECKPOINTS_KEPT removed. The file format is
 * checkpoint.ts; choosing a checkpoint at open is recovery.ts. Apart from
 * ledger-file.ts because it is a procedure of its own over the ledger's
 * state (it yields between slices of topics) that the ledger runs one at a
 * time.
 */
import { checkpointName, encodeSnapshot, RowChunks, writeCheckpointFile } from './checkpoint.js'
import * as C from './constants.js'
import type { Disk } from './disk/disk.js'
import { StoreCode, storeError } from './errors.js'
import type { LedgerState } from './ledger-state.js'
import type { LogWriter } from './log-writer.js'
import { Durability } from './types.js'

/** What a checkpoint is written from, and where. */
export interface CheckpointHost {
  readonly state: LedgerState
  readonly disk: Disk
  readonly dir: string
  readonly writer: LogWriter
  /** Replay points of the checkpoint files kept, oldest first (the write adds and removes). */
  readonly checkpointLsns: number[]
  readonly segmentTimes: ReadonlyMap<number, number>
}

/** `force`: write one even when nothing was appended since the last (retention trimmed indexes). */
export async function writeLedgerCheckpoint (h: CheckpointHost, force: boolean): Promise<void> {
  const w = h.writer
  const state = h.state
  // Fuzzy checkpoint: every record below replayFrom is in the snapshot; records
  // after it may be too, and replay from replayFrom is idempotent.
  const replayFrom = w.tailLsn
  const newest = h.checkpointLsns[h.checkpointLsns.length - 1]
  if (newest === replayFrom && !force) return
  const rows = new RowChunks()
  let sliceTopics = 0
  const generation = state.stateGeneration
  for (const t of state.topicsByName.values()) {
    if (t.durability === Durability.memory) continue
    rows.add(t)
    // Yield to the event loop between slices: a million topics must not stall appends.
    if (++sliceTopics >= C.CHECKPOINT_TOPICS_PER_SLICE) {
      sliceTopics = 0
      await new Promise((resolve) => setImmediate(resolve))
      if (generation !== state.stateGeneration || h.writer !== w) throw storeError(StoreCode.FENCED, 'ledger reopened during the checkpoint')
    }
  }
  const body = encodeSnapshot({ replayFrom, nextTopicId: state.nextTopicId, rows, meta: state.meta, segmentTimes: [...h.segmentTimes] })
  const topics = rows.count
  // The snapshot is valid once the log is durable through everything it reflects.
  await w.barrier(true)
  await writeCheckpointFile(h.disk, h.dir, replayFrom, body)
  // A forced one with the same replay point replaced the file of that name.
  if (newest !== replayFrom) h.checkpointLsns.push(replayFrom)
  while (h.checkpointLsns.length > C.CHECKPOINTS_KEPT) {
    const old = h.checkpointLsns.shift() as number
    await h.disk.unlink(`${h.dir}/${checkpointName(old)}`).catch(() => {})
  }
  state.opts.onEvent('checkpoint', { replayFrom, bytes: body.length, topics })
}
