import t from 'tap'
import { createFileLedger, type Ledger, type LogItem, type LogReadOptions } from '../../store/index.js'
import { tmpDir } from '../helpers/tmp.js'

// The log tail steps over runs of records that came from a link's destination (store/via-runs.ts) instead of
// peeking each: a read with skipVia must still return exactly what a walk of every frame would.

const policyOf = (): { durability: 'sync', retentionMs: number, retentionBytes: number, ttlMs: number } => ({ durability: 'sync', retentionMs: 0, retentionBytes: -1, ttlMs: 0 })

async function readAll (l: Ledger, after: number, step: number, opts: Partial<LogReadOptions>): Promise<LogItem[]> {
  const items: LogItem[] = []
  let pos = after
  for (let i = 0; i < 10_000; i++) {
    const r = await l.readLog(pos, { maxItems: step, maxBytes: 1 << 20, ...opts })
    items.push(...r.items)
    if (r.throughLsn === pos) break
    if (r.throughLsn < pos) throw new Error(`read went back from ${pos} to ${r.throughLsn}`)
    pos = r.throughLsn
  }
  return items
}

const viaOf = (it: LogItem): readonly string[] => it.kind === 'message' ? it.props.replicatedVia ?? [] : []
const names = (items: LogItem[]): string[] => items.map((it) => it.kind === 'message' ? it.payload.toString() : `meta:${it.kind === 'meta' ? it.key : ''}`)

t.test('via runs - a link back to a sender skips its runs whole and returns exactly what the walk returns', async (t) => {
  const tmp = await tmpDir('ferry-via-runs-')
  t.teardown(tmp.cleanup)
  // Small segments: runs meet segment ends (a run never spans two).
  const l = createFileLedger({ dir: tmp.dir, siteId: 'b', policyOf, segmentSizeBytes: 8192, checkpointIntervalMs: 0, retentionIntervalMs: 0 })
  await l.open()
  t.teardown(async () => { await l.close() })
  let n = 0
  const batch = (via: string[], count: number, topic = 't/a/x'): Promise<void> => l.appendReplicated(Array.from({ length: count }, () => {
    n++
    return { topic, payload: Buffer.from(`r${n}`), publishTime: n, props: { originSite: via[0], originEntryId: n, replicatedVia: via, replicatedLsn: n } }
  }))
  for (let round = 0; round < 12; round++) {
    await batch(['a'], 20)
    await l.append({ topic: 't/a/x', payload: Buffer.from(`local${round}`) })
    await batch(['c'], 5)
    await batch(['c', 'a'], 4) // passed c, then a: a never gets it back either
    await batch(['a'], 10, `t/a/new${round}`) // a new topic: its dictionary record sits between the batch's frames and what came before
    if (round % 3 === 0) await l.putMeta('retained', `t/a/${round}`, { payload: Buffer.from('r') })
    await batch(['a'], 15)
  }
  const filter = { topics: (topic: string) => topic.startsWith('t/a/'), meta: (space: string) => space === 'retained' }
  const all = await readAll(l, -1, 1000, filter)
  t.equal(all.filter((it) => it.kind === 'message').length, 12 * (20 + 1 + 5 + 4 + 10 + 15), 'the walk without skipVia sees every message')
  for (const site of ['a', 'c']) {
    const want = all.filter((it) => !viaOf(it).includes(site))
    for (const step of [1, 3, 1000]) {
      t.same(names(await readAll(l, -1, step, { ...filter, skipVia: site })), names(want), `skipVia ${site}, ${step} a read: what did not come through ${site}, in lsn order`)
    }
    // Resuming anywhere (inside a run, at its last record, between runs): nothing missed, nothing twice.
    for (let i = 0; i < all.length; i += 7) {
      const at = (all[i] as LogItem).lsn
      t.same(names(await readAll(l, at, 4, { ...filter, skipVia: site })), names(want.filter((it) => it.lsn > at)), `skipVia ${site} from lsn ${at}`)
    }
  }
  // What was skipped was not examined record by record: walked, each of a's records is asked about once (then left out).
  let asked = 0
  const counted = { ...filter, topics: (topic: string) => { asked++; return filter.topics(topic) } }
  await readAll(l, -1, 1000, { ...counted, skipVia: 'a' })
  const fromA = all.filter((it) => viaOf(it).at(-1) === 'a').length
  t.ok(asked < fromA, `topic filter asked ${asked} times for ${all.length} records, ${fromA} of them in a's runs`)
})

t.test('via runs - after a restart nothing is known of the runs and the walk leaves the same records out', async (t) => {
  const tmp = await tmpDir('ferry-via-runs-')
  t.teardown(tmp.cleanup)
  const open = async (): Promise<Ledger> => {
    const l = createFileLedger({ dir: tmp.dir, siteId: 'b', policyOf, checkpointIntervalMs: 0, retentionIntervalMs: 0 })
    await l.open()
    return l
  }
  let l = await open()
  await l.appendReplicated([1, 2, 3].map((i) => ({ topic: 't/a/x', payload: Buffer.from(`r${i}`), publishTime: i, props: { originSite: 'a', originEntryId: i, replicatedVia: ['a'], replicatedLsn: i } })))
  await l.append({ topic: 't/a/x', payload: Buffer.from('local') })
  const opts = { topics: (topic: string) => topic.startsWith('t/a/'), skipVia: 'a' }
  t.same(names(await readAll(l, -1, 10, opts)), ['local'])
  await l.close()
  l = await open()
  t.teardown(async () => { await l.close() })
  t.same(names(await readAll(l, -1, 10, opts)), ['local'], 'the same after a restart (walked)')
})
