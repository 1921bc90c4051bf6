import t from 'tap'
import { createFileLedger, createMemoryLedger, REPL_IN_SPACE, REPL_OUT_SPACE, positionOf, type Ledger, type LogItem } from '../../store/index.js'
import { tmpDir } from '../helpers/tmp.js'

const policyOf = (): { durability: 'sync', retentionMs: number, retentionBytes: number, ttlMs: number } => ({ durability: 'sync', retentionMs: 0, retentionBytes: -1, ttlMs: 0 })
const inA = (topic: string): boolean => topic.startsWith('t/a/')

async function readAll (l: Ledger, after: number, step = 3): Promise<{ items: LogItem[], through: number }> {
  const items: LogItem[] = []
  let pos = after
  for (let i = 0; i < 10_000; i++) {
    const r = await l.readLog(pos, { maxItems: step, maxBytes: 1 << 20, topics: inA, meta: (space) => space === 'retained' })
    items.push(...r.items)
    if (r.throughLsn === pos) break
    pos = r.throughLsn
  }
  return { items, through: pos }
}

for (const kind of ['file', 'memory'] as const) {
  t.test(`log tail - ${kind} ledger: lsn order across topics, namespace filter, resume from a position`, async (t) => {
    const tmp = await tmpDir('ferry-tail-')
    t.teardown(tmp.cleanup)
    const l = kind === 'file'
      ? createFileLedger({ dir: tmp.dir, siteId: 's', policyOf, segmentSizeBytes: 4096, checkpointIntervalMs: 0, retentionIntervalMs: 0 })
      : createMemoryLedger({ siteId: 's', policyOf, checkpointIntervalMs: 0, retentionIntervalMs: 0 })
    await l.open()
    t.teardown(async () => { await l.close() })
    const want: string[] = []
    for (let i = 0; i < 60; i++) {
      const topic = i % 3 === 0 ? 't/b/x' : `t/a/${i % 2}`
      await l.append({ topic, payload: Buffer.from(`m${i}`), props: { key: `k${i}`, userProperties: [['z', '1'], ['a', '2']] } })
      if (topic !== 't/b/x') want.push(`m${i}`)
      if (i === 30) await l.putMeta('retained', 't/a/0', { payload: Buffer.from('r') })
    }
    const { items, through } = await readAll(l, -1)
    const msgs = items.filter((x) => x.kind === 'message')
    t.same(msgs.map((x) => x.kind === 'message' ? x.payload.toString() : ''), want, 'every message of the namespace, in publish order, across segments')
    t.ok(items.some((x) => x.kind === 'meta' && x.key === 't/a/0'), 'meta records of a kept space travel too')
    const first = msgs[0]
    t.same(first?.kind === 'message' ? first.props.userProperties : undefined, [['z', '1'], ['a', '2']], 'user properties in order')
    t.ok(items.every((x, i) => i === 0 || x.lsn > (items[i - 1] as LogItem).lsn), 'strictly increasing lsns')
    // Resume from the middle: nothing twice, nothing missed.
    const mid = (msgs[10] as LogItem).lsn
    const rest = await readAll(l, mid)
    t.same(rest.items.filter((x) => x.kind === 'message').map((x) => x.kind === 'message' ? x.payload.toString() : ''), want.slice(11))
    await l.append({ topic: 't/a/0', payload: Buffer.from('late') })
    const more = await readAll(l, through)
    t.same(more.items.map((x) => x.kind === 'message' ? x.payload.toString() : ''), ['late'], 'a reader at the end sees only what came after')
  })
}

t.test('log tail - replicated entries raise the inbound mark, also after a restart without the mark record', async (t) => {
  const tmp = await tmpDir('ferry-tail-')
  t.teardown(tmp.cleanup)
  const open = async (): Promise<Ledger> => {
    const l = createFileLedger({ dir: tmp.dir, siteId: 'b', policyOf, checkpointIntervalMs: 0, retentionIntervalMs: 0 })
    await l.open()
    return l
  }
  let l = await open()
  await l.appendMany([10, 20, 30].map((lsn) => ({ topic: 't/a/x', payload: Buffer.from(String(lsn)), props: { originSite: 'a', replicatedVia: ['a'], replicatedLsn: lsn } })))
  t.equal(positionOf(l.getMeta(REPL_IN_SPACE, 'a')), 30, 'mark follows the entries')
  await l.close()
  l = await open()
  t.equal(positionOf(l.getMeta(REPL_IN_SPACE, 'a')), 30, 'mark survives a restart (replay of the entries themselves)')
  await l.checkpoint()
  await l.close()
  l = await open()
  t.equal(positionOf(l.getMeta(REPL_IN_SPACE, 'a')), 30, 'and a checkpoint')
  await l.close()
})

t.test('log tail - retention keeps segments a link has not shipped', async (t) => {
  const tmp = await tmpDir('ferry-tail-')
  t.teardown(tmp.cleanup)
  const l = createFileLedger({ dir: tmp.dir, siteId: 'a', policyOf, segmentSizeBytes: 4096, checkpointIntervalMs: 0, retentionIntervalMs: 0 })
  await l.open()
  t.teardown(async () => { await l.close() })
  await l.putMeta(REPL_OUT_SPACE, 'b', { lsn: -1 })
  for (let i = 0; i < 100; i++) await l.append({ topic: 't/a/x', payload: Buffer.alloc(100, i) })
  t.equal(await l.runRetention(), 0, 'an unshipped link holds every segment (retentionMs 0, no cursors)')
  const all = await readAll(l, -1, 1000)
  t.equal(all.items.length, 100)
  await l.putMeta(REPL_OUT_SPACE, 'b', { lsn: all.through })
  t.ok(await l.runRetention() > 0, 'once shipped, retention deletes')
})

t.test('log tail - TTL never deletes what a link has not shipped (apache/pulsar#21865)', async (t) => {
  const tmp = await tmpDir('ferry-tail-')
  t.teardown(tmp.cleanup)
  let now = 1_000_000
  const ttlPolicy = (): { durability: 'sync', retentionMs: number, retentionBytes: number, ttlMs: number } => ({ durability: 'sync', retentionMs: 0, retentionBytes: -1, ttlMs: 1000 })
  const l = createFileLedger({ dir: tmp.dir, siteId: 'a', policyOf: ttlPolicy, nowMs: () => now, segmentSizeBytes: 4096, checkpointIntervalMs: 0, retentionIntervalMs: 0 })
  await l.open()
  t.teardown(async () => { await l.close() })
  await l.putMeta(REPL_OUT_SPACE, 'b', { lsn: -1 })
  await l.cursor('t/a/x', 'slow', { durable: true, start: { kind: 'earliest' } }) // never acks: only TTL could delete
  for (let i = 0; i < 100; i++) await l.append({ topic: 't/a/x', payload: Buffer.alloc(100, i) })
  now += 60_000 // every entry expired
  t.equal(await l.runRetention(), 0, 'expired but unshipped: kept')
  t.equal((await readAll(l, -1, 1000)).items.length, 100, 'the link can still read all of them')
  const through = (await readAll(l, -1, 1000)).through
  await l.putMeta(REPL_OUT_SPACE, 'b', { lsn: through })
  t.ok(await l.runRetention() > 0, 'shipped and expired: deleted')
})
