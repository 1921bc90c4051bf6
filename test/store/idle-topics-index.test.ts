/**
 * The compact per-topic state (store/entry-index.ts, store/topic-state.ts):
 * a topic with one entry keeps it in small-integer fields of the topic's own
 * object, a busier one in arrays. These pin that both forms, and every move
 * between them (trim to nothing, grow again, checkpoint snapshot), answer
 * exactly as a plain list of (lsn, bytes) would, with lsns far above 2^32
 * (an lsn is segment * 2^32 + offset).
 */
import t, { type Test } from 'tap'
import { EntryIndex } from '../../store/entry-index.js'
import { TopicState } from '../../store/topic-state.js'
import { Durability } from '../../store/types.js'

interface Model { first: number, entries: Array<{ lsn: number, bytes: number }> }

function check (t: Test, ix: EntryIndex, m: Model, what: string): void {
  t.equal(ix.first, m.first, `${what}: first`)
  t.equal(ix.next, m.first + m.entries.length, `${what}: next`)
  let total = 0
  m.entries.forEach((e, i) => {
    const id = m.first + i
    if (ix.lsnOf(id) !== e.lsn) t.fail(`${what}: lsn of ${id} is ${ix.lsnOf(id)}, want ${e.lsn}`)
    if (ix.bytesOf(id) !== e.bytes) t.fail(`${what}: bytes of ${id} is ${ix.bytesOf(id)}, want ${e.bytes}`)
    total += e.bytes
  })
  t.equal(ix.storedBytes(), total, `${what}: stored bytes`)
  if (m.entries.length > 0) {
    const mid = m.entries[Math.floor(m.entries.length / 2)] as { lsn: number }
    t.equal(ix.lastAtOrBelowLsn(mid.lsn), m.first + Math.floor(m.entries.length / 2), `${what}: lsn search`)
    t.equal(ix.bytesBetween(m.first, ix.next), total, `${what}: bytes between`)
  }
  const snap = ix.snapshot()
  const back = EntryIndex.fromSnapshot(snap)
  t.equal(back.storedBytes(), total, `${what}: snapshot keeps the bytes`)
  m.entries.forEach((e, i) => { if (back.lsnOf(m.first + i) !== e.lsn) t.fail(`${what}: snapshot lsn of ${m.first + i}`) })
}

t.test('store idle topics - the entry index answers like a list through single, array, trimmed and regrown forms', async (t) => {
  const ix = new EntryIndex()
  const m: Model = { first: 0, entries: [] }
  let lsn = 7 * 2 ** 32 + 12_345 // segment 7
  const push = (bytes: number): void => { lsn += bytes + 3; ix.push(lsn, bytes); m.entries.push({ lsn, bytes }) }
  const trim = (to: number): void => { ix.trimTo(to); const drop = Math.min(to, m.first + m.entries.length) - m.first; if (drop > 0) m.entries.splice(0, drop); m.first = Math.max(m.first, to) }
  push(90)
  check(t, ix, m, 'one entry')
  trim(1)
  check(t, ix, m, 'trimmed to nothing')
  push(41)
  check(t, ix, m, 'one entry again after a trim')
  for (let i = 0; i < 40; i++) push(10 + i)
  check(t, ix, m, 'arrays')
  trim(30)
  check(t, ix, m, 'arrays trimmed')
  trim(m.first + m.entries.length)
  check(t, ix, m, 'arrays trimmed to nothing')
  push(77)
  check(t, ix, m, 'single after arrays')
  push(78)
  check(t, ix, m, 'arrays again')
  // Far segments: still exact (two parts below 2^30 each).
  lsn = 2 ** 52
  push(5)
  check(t, ix, m, 'an lsn near 2^52')
})

t.test('store idle topics - a bad lsn is refused loudly, never stored truncated', async (t) => {
  const ix = new EntryIndex()
  t.throws(() => { ix.push(1.5, 10) }, /non-negative safe integer/)
  t.throws(() => { ix.push(-3, 10) }, /non-negative safe integer/)
  ix.push(2 ** 40, 10)
  t.equal(ix.lsnOf(0), 2 ** 40)
})

t.test('store idle topics - a topic is its own index and makes its optional parts only when set', async (t) => {
  const ts = new TopicState('public/default/x', 1, Durability.sync, false)
  t.equal(ts.index, ts, 'the topic is its index')
  t.equal(ts.mem, null)
  t.equal(ts.dedup, null)
  t.equal(ts.cancelled, null)
  ts.cancelled ??= new Set()
  ts.cancelled.add(4)
  t.same([...(ts.cancelled ?? [])], [4], 'a set part reads back')
  t.equal(ts.delayed, null, 'the others stay empty')
  const mem = new TopicState('public/default/m', 2, Durability.memory, true)
  t.same(mem.mem, [], 'a memory-backed topic has its entry list')
})

t.test('store idle topics - a topic\'s id and durability, kept in one small integer, read back as given', async (t) => {
  for (const d of [Durability.sync, Durability.async, Durability.memory]) {
    for (const id of [0, 1, 4095, 2 ** 29 - 1]) {
      const ts = new TopicState('public/default/x', id, d, d === Durability.memory)
      if (ts.id !== id || ts.durability !== d) t.fail(`id ${id} ${d} read back as ${ts.id} ${ts.durability}`)
    }
  }
  t.pass('every durability with ids up to 2^29 - 1')
  t.throws(() => new TopicState('public/default/x', 2 ** 29, Durability.sync, false), /topic id/, 'an id beyond the packed range is refused')
  t.throws(() => new TopicState('public/default/x', 1.5, Durability.sync, false), /topic id/)
  t.throws(() => new TopicState('public/default/x', 1, 'fast' as Durability, false), /durability/)
})
