/**
 * The ledger's topic table (store/topic-table.ts): names to topics through an
 * open-addressing table of ids, topics by id in one array. It answers like
 * the Map it replaced (get, set, size, values in the order topics were made)
 * across its growth, refuses a second topic of a name or an id, and a file
 * ledger's topics come back identical after a restart, from a checkpoint and
 * from replay.
 */
import t from 'tap'
import { join } from 'node:path'
import { TopicTable } from '../../store/topic-table.js'
import { TopicState } from '../../store/topic-state.js'
import { createFileLedger, Durability, StoreCode, type Ledger } from '../../store/index.js'
import { tmpDir } from '../helpers/tmp.js'

t.test('store topic table - answers like a Map across growth, in the order topics were made', async (t) => {
  const table = new TopicTable()
  const map = new Map<string, TopicState>()
  // Names alike but for a suffix (as topics of one namespace are), and a few unusual ones.
  const names = Array.from({ length: 20_000 }, (_, i) => `public/default/mt/${i}`)
  names.push('a', 'é/ü/漢字', 'public/default/mt/0/', ' ')
  names.forEach((name, i) => {
    const ts = new TopicState(name, i + 1, Durability.sync, false)
    table.set(name, ts)
    map.set(name, ts)
    if (i === 0 || i === 999 || i === names.length - 1) t.equal(table.size, map.size, `size after ${i + 1}`)
  })
  let wrong = 0
  for (const name of names) if (table.get(name) !== map.get(name)) wrong++
  t.equal(wrong, 0, 'every name finds its topic')
  t.equal(table.get('public/default/mt/20000'), undefined, 'an unknown name finds none')
  t.equal(table.get(''), undefined)
  t.equal(table.get('public/default/mt'), undefined)
  t.same([...table.values()].map((x) => x.name), [...map.values()].map((x) => x.name), 'values in the order topics were made')
  t.equal(table.byId[1], map.get(names[0] as string), 'by id')
  t.equal(table.byId[names.length + 1], undefined)
})

t.test('store topic table - a second topic of a name or of an id is refused, the table unchanged', async (t) => {
  const table = new TopicTable()
  table.set('a/b', new TopicState('a/b', 1, Durability.sync, false))
  t.throws(() => table.set('a/b', new TopicState('a/b', 2, Durability.sync, false)), { code: StoreCode.STORE_CORRUPT })
  t.throws(() => table.set('a/c', new TopicState('a/c', 1, Durability.sync, false)), { code: StoreCode.STORE_CORRUPT })
  t.equal(table.size, 1)
  t.equal(table.get('a/b')?.id, 1)
  t.equal(table.get('a/c'), undefined)
  t.equal(table.byId[2], undefined)
  // Visiting while topics are added (a checkpoint built in slices) sees the new ones too, as a Map's iterator does.
  const seen: string[] = []
  for (const x of table.values()) {
    seen.push(x.name)
    if (x.id < 3) table.set(`a/${x.id + 10}`, new TopicState(`a/${x.id + 10}`, x.id + 1, Durability.sync, false))
  }
  t.same(seen, ['a/b', 'a/11', 'a/12'])
})

t.test('store topic table - a file ledger\'s topics come back identical after a restart, from its checkpoint and from replay', async (t) => {
  const tmp = await tmpDir('ferry-topictable-')
  t.teardown(tmp.cleanup)
  const policyOf = (): { durability: 'sync', retentionMs: number, retentionBytes: number, ttlMs: number } => ({ durability: 'sync', retentionMs: -1, retentionBytes: -1, ttlMs: 0 })
  const N = 3000
  const state = (l: Ledger): string[] => Array.from({ length: N }, (_, i) => JSON.stringify(l.topicInfo(`acme/t/${i}`)))
  for (const checkpoint of [true, false]) {
    const dir = join(tmp.dir, checkpoint ? 'ckpt' : 'replay')
    // lockDir false: the first ledger is left open, as a crash would leave it (a close would write a checkpoint).
    const open = (): Ledger => createFileLedger({ siteId: 's', dir, policyOf, checkpointIntervalMs: 0, retentionIntervalMs: 0, lockDir: false })
    const a = open()
    await a.open()
    // Topics made in a shuffled order, some with more than one entry.
    const order = Array.from({ length: N }, (_, i) => (i * 7919) % N)
    await Promise.all(order.map(async (i) => await a.append({ topic: `acme/t/${i}`, payload: Buffer.from(`m${i}`) })))
    await Promise.all(order.filter((i) => i % 10 === 0).map(async (i) => await a.append({ topic: `acme/t/${i}`, payload: Buffer.from(`n${i}`) })))
    const before = state(a)
    const topicsBefore = [...a.topics()]
    if (checkpoint) await a.checkpoint()
    const b = open()
    const report = await b.open()
    t.teardown(async () => { await b.close() })
    if (checkpoint) t.equal(report.recordsReplayed, 0, 'from the checkpoint: nothing replayed')
    else t.ok(report.recordsReplayed >= N, `from replay (${report.recordsReplayed} records)`)
    t.same(state(b), before, `${checkpoint ? 'checkpoint' : 'replay'}: every topic's info identical`)
    t.same([...b.topics()].sort(), topicsBefore.sort(), 'the same topics listed')
    const e = await b.read('acme/t/10', 0, { maxEntries: 5 })
    t.same(e.map((x) => x.payload.toString()), ['m10', 'n10'])
    await b.append({ topic: 'acme/t/new', payload: Buffer.from('x') })
    t.equal(b.topicInfo('acme/t/new')?.nextEntryId, 1, 'a new topic after the restart')
    t.equal(b.topicInfo('acme/t/5')?.nextEntryId, 1, 'an old one unchanged')
  }
})
