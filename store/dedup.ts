/**
 * Producer dedup of one topic (after Pulsar's message deduplication).
 *
 * Rule: per producer the highest sequence number seen is kept; an append whose
 * producerSeq <= that highest is a duplicate and is not appended. Its original
 * entry id is returned when the sequence is among the last
 * DEDUP_RECENT_SEQS_PER_PRODUCER_MAX of that producer, else -1 (the message
 * was accepted long ago; its entry id is no longer known). At most
 * DEDUP_PRODUCERS_PER_TOPIC_MAX producers are remembered, least recently used
 * forgotten first. State is rebuilt by replay and kept in checkpoints.
 */
import { DEDUP_PRODUCERS_PER_TOPIC_MAX, DEDUP_RECENT_SEQS_PER_PRODUCER_MAX } from './constants.js'

interface ProducerState {
  highestSeq: number
  /** Ring of recent [seq, entryId] pairs. */
  recent: number[]
  ringAt: number
}

/** Flat snapshot: [producerId, highestSeq, [seq, entryId, ...]]. */
export type DedupSnapshot = Array<[string, number, number[]]>

export class ProducerDedup {
  private readonly producers = new Map<string, ProducerState>()

  /** Undefined when not a duplicate; otherwise the original entry id (-1 when forgotten). */
  check (producerId: string, seq: number): number | undefined {
    const p = this.producers.get(producerId)
    if (p === undefined || seq > p.highestSeq) return undefined
    for (let i = 0; i < p.recent.length; i += 2) if (p.recent[i] === seq) return p.recent[i + 1] as number
    return -1
  }

  record (producerId: string, seq: number, entryId: number): void {
    let p = this.producers.get(producerId)
    if (p === undefined) {
      if (this.producers.size >= DEDUP_PRODUCERS_PER_TOPIC_MAX) {
        const oldest = this.producers.keys().next().value as string
        this.producers.delete(oldest)
      }
      p = { highestSeq: seq, recent: [], ringAt: 0 }
    } else {
      this.producers.delete(producerId) // re-insert: Map order is LRU order
      if (seq > p.highestSeq) p.highestSeq = seq
    }
    this.producers.set(producerId, p)
    if (p.recent.length < DEDUP_RECENT_SEQS_PER_PRODUCER_MAX * 2) {
      p.recent.push(seq, entryId)
    } else {
      p.recent[p.ringAt] = seq
      p.recent[p.ringAt + 1] = entryId
      p.ringAt = (p.ringAt + 2) % p.recent.length
    }
  }

  snapshot (): DedupSnapshot {
    const out: DedupSnapshot = []
    for (const [id, p] of this.producers) {
      const ordered = p.recent.slice(p.ringAt).concat(p.recent.slice(0, p.ringAt))
      out.push([id, p.highestSeq, ordered])
    }
    return out
  }

  static fromSnapshot (s: DedupSnapshot): ProducerDedup {
    const d = new ProducerDedup()
    for (const [id, highestSeq, recent] of s) d.producers.set(id, { highestSeq, recent: recent.slice(), ringAt: 0 })
    return d
  }
}
