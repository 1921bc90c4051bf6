/**
 * The log tail's plain reads (LogReadOptions.plain, store/log-tail.ts): a
 * site's own message records come back as their bytes, entries that came
 * from elsewhere decoded (they carry their route), every filter as before.
 */
import t from 'tap'
import { createFileLedger, createMemoryLedger, plainRecordOf, type Ledger, type LogItem } from '../../store/index.js'
import { decodeRecord } from '../../store/records.js'
import { policyByPrefix } from './helpers.js'
import { tmpDir } from '../helpers/tmp.js'

async function readAll (l: Ledger, opts: { plain: boolean, skipVia?: string, priorities?: (p: number | undefined) => boolean }): Promise<LogItem[]> {
  const items: LogItem[] = []
  let pos = -1
  for (let i = 0; i < 1000; i++) {
    const r = await l.readLog(pos, { maxItems: 7, maxBytes: 1 << 20, topics: (topic) => topic.startsWith('t/a/'), ...opts })
    items.push(...r.items)
    if (r.throughLsn === pos) break
    pos = r.throughLsn
  }
  return items
}

async function filled (l: Ledger): Promise<void> {
  for (let i = 0; i < 40; i++) {
    const topic = i % 4 === 0 ? 't/b/x' : `t/a/${i % 2}`
    await l.append({ topic, payload: Buffer.from(`own${i}`), props: i % 5 === 0 ? { priority: 8 } : { key: `k${i}` } })
    if (i % 10 === 3) {
      await l.appendReplicated([{ topic: 't/a/0', payload: Buffer.from(`from-c${i}`), publishTime: 7, props: { originSite: 'c', originEntryId: i, replicatedVia: ['c'], replicatedLsn: i } }])
    }
  }
}

t.test('log tail plain - own records as their bytes, relayed ones decoded, filters as before', async (t) => {
  const tmp = await tmpDir('ferry-tail-plain-')
  t.teardown(tmp.cleanup)
  const l = createFileLedger({ dir: tmp.dir, siteId: 's', policyOf: policyByPrefix(), segmentSizeBytes: 4096, checkpointIntervalMs: 0, retentionIntervalMs: 0 })
  await l.open()
  t.teardown(async () => { await l.close() })
  await filled(l)
  const decoded = await readAll(l, { plain: false })
  const plain = await readAll(l, { plain: true })
  t.same(plain.map((it) => it.lsn), decoded.map((it) => it.lsn), 'the same records, in the same order')
  t.ok(plain.some((it) => it.kind === 'plain') && plain.some((it) => it.kind === 'message'), 'both kinds')
  for (let i = 0; i < plain.length; i++) {
    const p = plain[i] as LogItem
    const d = decoded[i] as LogItem
    if (p.kind === 'plain' && d.kind === 'message') {
      const rec = decodeRecord(p.src.subarray(p.start, p.end))
      t.same(rec.kind === 2 ? [rec.entryId, rec.publishTime, rec.payload, rec.props] : undefined, [d.entryId, d.publishTime, d.payload, d.props], `own entry ${p.topic}#${p.entryId}: its bytes are its record`)
      t.same([p.topic, p.entryId, p.publishTime, p.priority], [d.topic, d.entryId, d.publishTime, d.props.priority], 'and its fields')
      t.ok(plainRecordOf(p.src, p.start, p.end), 'a receiver takes it as plain')
    } else {
      t.equal(p.kind, 'message', 'a relayed entry travels decoded')
      t.same(p, d)
    }
  }
  const high = await readAll(l, { plain: true, priorities: (p) => p === 8 })
  t.same(high.map((it) => it.lsn), (await readAll(l, { plain: false, priorities: (p) => p === 8 })).map((it) => it.lsn), 'a lane\'s priorities filter plain records as before')
  t.ok(high.every((it) => it.kind === 'plain' && it.priority === 8))
  const notBackToC = await readAll(l, { plain: true, skipVia: 'c' })
  t.notOk(notBackToC.some((it) => it.kind === 'message' && it.props.replicatedVia?.includes('c') === true), 'a link to c skips what came from c')
  t.equal(notBackToC.length, plain.filter((it) => it.kind === 'plain').length, 'and ships every own entry')
})

t.test('log tail plain - the memory ledger has no bytes: decoded items', async (t) => {
  const l = createMemoryLedger({ siteId: 's', policyOf: policyByPrefix(), checkpointIntervalMs: 0, retentionIntervalMs: 0 })
  await l.open()
  t.teardown(async () => { await l.close() })
  await filled(l)
  const items = await readAll(l, { plain: true })
  t.ok(items.length > 0 && items.every((it) => it.kind === 'message'))
})
