/**
 * A random workload against a FileLedger on a SimDisk, with a model of what
 * was acknowledged, and the checks a recovered ledger must pass.
 */
import { isFerryError } from '../../common/errors.js'
import { createFileLedger, StoreCode, type Ledger, type TopicStorePolicy } from '../../store/index.js'
import type { SimDisk } from '../../store/disk/sim-disk.js'

export const SIM_DIR = '/sim/ledger'
export const TOPICS = ['s/0', 's/1', 's/2', 'a/0'] as const
const ERR_EXPECTED = new Set<string>([StoreCode.FSYNC_FAILED, StoreCode.FENCED, StoreCode.DISK_FULL, StoreCode.IO, StoreCode.STORE_CLOSED])

export function simPolicy (topic: string): TopicStorePolicy {
  return { durability: topic.startsWith('a/') ? 'async' : 'sync', retentionMs: topic === 's/2' ? 0 : -1, retentionBytes: -1, ttlMs: 0 }
}

export function openSim (disk: SimDisk, repair = false): Ledger {
  return createFileLedger({
    siteId: 'sim', dir: SIM_DIR, disk: disk.view(), policyOf: simPolicy, segmentSizeBytes: 4096,
    checkpointIntervalMs: 0, retentionIntervalMs: 0, asyncFlushMs: 5, repair,
    onEvent: (e, d) => { if (process.env.FERRY_SIM_DEBUG !== undefined) console.error(e, JSON.stringify(d)) }
  })
}

export class Model {
  /** topic -> payloads ever attempted */
  attempted = new Map<string, Set<string>>()
  /** topic -> entryId -> payloads acknowledged at that id */
  acked = new Map<string, Map<number, string[]>>()
  /** topic -> ids whose cursor ack resolved */
  ackedIds = new Map<string, Set<number>>()
  /** topic -> ids whose ack was attempted */
  ackAttempted = new Map<string, Set<number>>()
  meta = new Map<string, string>()
  unexpected: unknown[] = []

  private expectErr (err: unknown): void {
    if (!(isFerryError(err) && ERR_EXPECTED.has(err.code))) this.unexpected.push(err)
  }

  async append (l: Ledger, topic: string, payload: string): Promise<void> {
    let set = this.attempted.get(topic)
    if (set === undefined) { set = new Set(); this.attempted.set(topic, set) }
    set.add(payload)
    try {
      const r = await l.append({ topic, payload: Buffer.from(payload) })
      let m = this.acked.get(topic)
      if (m === undefined) { m = new Map(); this.acked.set(topic, m) }
      const list = m.get(r.entryId) ?? []
      list.push(payload)
      m.set(r.entryId, list)
    } catch (err) { this.expectErr(err) }
  }

  async ack (l: Ledger, topic: string, entryId: number): Promise<void> {
    let att = this.ackAttempted.get(topic)
    if (att === undefined) { att = new Set(); this.ackAttempted.set(topic, att) }
    att.add(entryId)
    try {
      const c = await l.cursor(topic, 'sub', { durable: true, start: { kind: 'earliest' } })
      await c.ack([entryId])
      let s = this.ackedIds.get(topic)
      if (s === undefined) { s = new Set(); this.ackedIds.set(topic, s) }
      s.add(entryId)
    } catch (err) { this.expectErr(err) }
  }

  async putMeta (l: Ledger, key: string, value: string): Promise<void> {
    try {
      await l.putMeta('sim', key, value)
      this.meta.set(key, value)
    } catch (err) { this.expectErr(err) }
  }

  /** One random operation. */
  async randomOp (l: Ledger, rnd: () => number, opIndex: number): Promise<void> {
    const topic = TOPICS[Math.floor(rnd() * TOPICS.length)] as string
    const x = rnd()
    if (x < 0.6) return await this.append(l, topic, `${topic}#${opIndex}#${'x'.repeat(Math.floor(rnd() * 300))}`)
    if (x < 0.8) {
      const ids = [...(this.acked.get(topic)?.keys() ?? [])]
      if (ids.length > 0) return await this.ack(l, topic, ids[Math.floor(rnd() * ids.length)] as number)
      return
    }
    if (x < 0.9) return await this.putMeta(l, `k${opIndex}`, `v${opIndex}`)
    if (x < 0.95) { await l.checkpoint().catch((err) => this.expectErr(err)); return }
    await l.runRetention().catch((err) => this.expectErr(err))
  }

  /**
   * Check a recovered ledger against the model. `lostFrom`: lsn from which a
   * bit flip legitimately destroyed the log (acknowledged data after it may be gone).
   */
  async check (l: Ledger, problems: string[], crashed: boolean): Promise<void> {
    for (const topic of TOPICS) {
      const sync = simPolicy(topic).durability === 'sync'
      const info = l.topicInfo(topic)
      const first = info?.firstEntryId ?? 0
      const next = info?.nextEntryId ?? 0
      const entries = next > first ? await readAll(l, topic, first) : []
      if (entries.length !== next - first) problems.push(`${topic}: read ${entries.length} entries, info says ${next - first}`)
      const seen = new Set<string>()
      const ackedAt = this.acked.get(topic) ?? new Map<number, string[]>()
      const attempted = this.attempted.get(topic) ?? new Set()
      const ackedPayloads = new Set([...ackedAt.values()].flat())
      for (const e of entries) {
        if (crashed && e.payload.length === 0 && l.isCancelled(topic, e.entryId)) {
          // An entry id retired by recovery (the torn record cut off the end of the log): never an acknowledged sync one.
          if (sync && ackedAt.has(e.entryId)) problems.push(`${topic}#${e.entryId}: acknowledged sync entry lost`)
          continue
        }
        const p = e.payload.toString()
        if (!attempted.has(p)) problems.push(`${topic}#${e.entryId}: payload never written: ${p.slice(0, 40)}`)
        if (seen.has(p)) problems.push(`${topic}#${e.entryId}: payload twice`)
        seen.add(p)
        const list = ackedAt.get(e.entryId)
        if (list !== undefined && !list.includes(p) && ackedPayloads.has(p)) problems.push(`${topic}#${e.entryId}: acknowledged elsewhere`)
        if (sync && list !== undefined && list[0] !== p) problems.push(`${topic}#${e.entryId}: sync entry replaced`)
      }
      if (sync || !crashed) {
        for (const [id, list] of ackedAt) {
          if (id < first) continue // retention took it
          if (id >= next) { problems.push(`${topic}#${id}: acknowledged append lost`); continue }
          if (sync && list.length !== 1) problems.push(`${topic}#${id}: sync entry id acknowledged twice`)
        }
      }
      const c = l.cursors(topic).find((x) => x.subscription === 'sub')
      const attemptedAcks = this.ackAttempted.get(topic) ?? new Set()
      if (sync || !crashed) {
        for (const id of this.ackedIds.get(topic) ?? []) {
          if (c === undefined) { problems.push(`${topic}: cursor lost`); break }
          if (!c.isAcked(id)) problems.push(`${topic}#${id}: acknowledged ack lost`)
        }
      }
      if (c !== undefined) {
        for (const [s, e] of c.ackedRanges()) for (let id = s; id <= e; id++) if (!attemptedAcks.has(id)) problems.push(`${topic}#${id}: acked without an ack`)
        for (let id = first; id <= c.markDelete(); id++) if (!attemptedAcks.has(id) && id >= 0) problems.push(`${topic}#${id}: below markDelete without an ack`)
      }
    }
    for (const [k, v] of this.meta) if (l.getMeta('sim', k) !== v) problems.push(`meta ${k} lost`)
    if (this.unexpected.length > 0) problems.push(`unexpected errors: ${this.unexpected.map(String).join('; ')}`)
  }
}

async function readAll (l: Ledger, topic: string, from: number): Promise<Array<{ entryId: number, payload: Buffer }>> {
  const out: Array<{ entryId: number, payload: Buffer }> = []
  for (;;) {
    const batch = await l.read(topic, from + out.length, { maxEntries: 100 })
    if (batch.length === 0) return out
    out.push(...batch)
  }
}
