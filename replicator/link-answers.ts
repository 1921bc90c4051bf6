/**
 * Settling a link's answers (link.ts sends the batches): per lane, in send
 * order, an ok answer moves the lane's position and covers every batch
 * before it (positions are cumulative); a refusal with a position rewinds the
 * lane to it and drops the rest in flight there (apache/pulsar#26113); any
 * other refusal or a transport error is thrown, which pauses the link. Kept
 * apart from link.ts because deciding what an answer means is separate from
 * when to read and send, and is where the no-loss rule of the link lives:
 * only the remote's answer ever moves a position.
 */
import type { Logger } from '../common/log.js'
import { FerryError } from '../common/errors.js'
import type { Answer } from './codec.js'
import { ReplCode } from './errors.js'
import type { InFlight, LaneState } from './link-state.js'

/** The link as seen here (link.ts), its fields read when the functions run. */
export interface AnswerHost {
  readonly site: string
  readonly logger: Logger
  /** This site's log end as last read: a remote beyond it is ahead of us. */
  readonly logEndLsn: number
  /** Counters the answers add to (Link.stats). */
  readonly counts: { entriesShipped: number, bytesShipped: number, rewinds: number }
  /** An ok answer arrived: the link's backoff starts over. */
  answeredOk: () => void
}

/**
 * Take the answers that arrived, per lane in send order. An ok answer
 * covers every batch before it (positions are cumulative). Returns whether
 * anything moved; throws (pausing the link) on a failure.
 */
export function settleAnswers (lanes: readonly LaneState[], host: AnswerHost): boolean {
  let moved = false
  for (const l of lanes) {
    while (l.queue.length > 0) {
      let lastOk = -1
      for (let i = l.queue.length - 1; i >= 0; i--) {
        const o = (l.queue[i] as InFlight).outcome
        if (o !== undefined && 'answer' in o && o.answer.ok) { lastOk = i; break }
      }
      if (lastOk >= 0) {
        const done = l.queue.splice(0, lastOk + 1)
        const f = done[done.length - 1] as InFlight
        const position = (f.outcome as { answer: Answer }).answer.position
        l.connected = true
        l.probe = false
        l.position = position
        if (f.empty) l.scanPos = Math.max(l.scanPos, position)
        for (const d of done) { host.counts.entriesShipped += d.entries; host.counts.bytesShipped += d.wireBytes }
        if (done.some((d) => d.entries > 0)) l.dropped = undefined
        host.answeredOk()
        moved = true
        continue
      }
      const head = l.queue[0] as InFlight
      const o = head.outcome
      if (o === undefined) {
        // A later batch failed while the head is unanswered: only a position refusal is decisive before the head.
        const refused = l.queue.find((f) => f.outcome !== undefined && 'answer' in f.outcome && !f.outcome.answer.ok && f.outcome.answer.code === ReplCode.POSITION)
        if (refused === undefined) break
        reposition(l, (refused.outcome as { answer: Answer }).answer.position, host)
        moved = true
        break
      }
      if ('err' in o) throw o.err
      const a = o.answer as Extract<Answer, { ok: false }>
      if (a.code === ReplCode.POSITION) { reposition(l, a.position, host); moved = true; break }
      throw new FerryError(a.code, `site ${host.site} refused a batch: ${a.message}`)
    }
  }
  return moved
}

/** The remote holds another position: continue right after it (rewind after a lost batch, skip ahead after our restart). */
function reposition (l: LaneState, position: number, host: AnswerHost): void {
  const logEndLsn = host.logEndLsn
  if (position >= logEndLsn && position > l.position && logEndLsn > 0) {
    throw new FerryError(ReplCode.AHEAD, `site ${host.site} holds position ${position}, beyond this site's log end ${logEndLsn}`)
  }
  host.counts.rewinds++
  host.logger.info({ site: host.site, lane: l.lane, from: l.position, to: position, dropped: l.queue.length }, 'replication link repositioned by the remote')
  // Everything else in flight on the lane starts after a position the remote does not hold: it is refused, and ignored here.
  l.queue = []
  l.dropped = undefined
  l.held = undefined
  l.connected = true
  l.probe = false
  l.position = position
  l.scanPos = position
  l.idle = false
}
