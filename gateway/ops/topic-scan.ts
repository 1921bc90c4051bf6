/**
 * Per-namespace totals over the ledger's topics (storage bytes, stored
 * messages, topic count), computed in slices of TOPIC_SCAN_SLICE topics with
 * a yield between them, so a million topics never stall the event loop. One
 * scan serves every caller that asks within SCAN_REUSE_MS (scrapes, console).
 */
import type { Ledger, TopicInfo } from '../../store/index.js'
import { namespaceOfTopic } from '../policy/index.js'
import { TOPIC_SCAN_SLICE } from './constants.js'

/** A scan younger than this is reused, ms: scrapes and console refreshes come every second or more. */
const SCAN_REUSE_MS = 1000

export interface NamespaceTotals { topics: number, storedBytes: number, storedMessages: number }

export interface TopicScan {
  at: number
  byNamespace: Map<string, NamespaceTotals>
}

export class TopicScanner {
  private last: TopicScan | undefined
  private running: Promise<TopicScan> | undefined

  constructor (private readonly ledger: Ledger) {}

  /** `fresh`: do not reuse a recent scan (decisions, not displays). */
  async scan (fresh = false): Promise<TopicScan> {
    if (!fresh && this.last !== undefined && Date.now() - this.last.at < SCAN_REUSE_MS) return this.last
    this.running ??= this.run().finally(() => { this.running = undefined })
    return await this.running
  }

  private async run (): Promise<TopicScan> {
    const byNamespace = new Map<string, NamespaceTotals>()
    let n = 0
    for (const topic of [...this.ledger.topics()]) {
      const ns = namespaceOfTopic(topic)
      const info = this.ledger.topicInfo(topic)
      if (ns !== undefined && info !== undefined) {
        let t = byNamespace.get(ns)
        if (t === undefined) { t = { topics: 0, storedBytes: 0, storedMessages: 0 }; byNamespace.set(ns, t) }
        t.topics++
        t.storedBytes += info.storedBytes
        t.storedMessages += info.nextEntryId - info.firstEntryId
      }
      if (++n % TOPIC_SCAN_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve))
    }
    this.last = { at: Date.now(), byNamespace }
    return this.last
  }
}

/** Topics of one namespace, sorted, at most `max` after `after` (paging), scanned in slices. */
export async function topicsOf (ledger: Ledger, namespace: string, max: number, after?: string): Promise<{ topics: TopicInfo[], more: boolean }> {
  const prefix = `${namespace}/`
  const names: string[] = []
  let n = 0
  for (const topic of [...ledger.topics()]) {
    if (topic.startsWith(prefix) && (after === undefined || topic > after)) names.push(topic)
    if (++n % TOPIC_SCAN_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve))
  }
  names.sort()
  const topics: TopicInfo[] = []
  for (const name of names.slice(0, max)) {
    const info = ledger.topicInfo(name)
    if (info !== undefined) topics.push(info)
  }
  return { topics, more: names.length > max }
}
