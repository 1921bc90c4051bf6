import t from 'tap'
import { filterMatches, parseFilter } from '../../gateway/dispatch/filter.js'
import { KeyRing, hashKey } from '../../gateway/dispatch/key-ring.js'
import { PriorityWindow } from '../../gateway/dispatch/priority-window.js'
import { MinHeap } from '../../gateway/dispatch/min-heap.js'
import { Fifo } from '../../gateway/dispatch/fifo.js'
import { resultTopicOf } from '../../gateway/dispatch/dead-letter.js'

t.test('dispatch structures - filter matching table', async (t) => {
  const table: Array<[string, string, boolean]> = [
    ['a/b', 'a/b', true],
    ['a/b', 'a/c', false],
    ['a/+', 'a/b', true],
    ['a/+', 'a/b/c', false],
    ['a/+', 'a', false],
    ['a/#', 'a', true], // [MQTT-4.7.1-2] # includes the parent level
    ['a/#', 'a/b/c', true],
    ['#', 'x/y', true],
    ['#', '$sys/x', false], // [MQTT-4.7.2-1]
    ['+/x', '$sys/x', false],
    ['$sys/#', '$sys/x', true],
    ['+', '/a', false],
    ['+/a', '/a', true], // an empty first level
    ['/+', '/a', true],
    ['a/+/c', 'a//c', true]
  ]
  for (const [filter, topic, want] of table) t.equal(filterMatches(parseFilter(filter), topic), want, `${filter} ${want ? 'matches' : 'does not match'} ${topic}`)
  for (const bad of ['', 'a/#/b', 'a#', 'a/b+', '+a', 'a\u0000b']) t.throws(() => parseFilter(bad), { code: 'E_FILTER_INVALID' }, `'${bad}' refused`)
})

t.test('dispatch structures - key ring is stable and moves few keys when a member joins', async (t) => {
  t.equal(hashKey('abc'), hashKey('abc'))
  const ring = new KeyRing<string>()
  ring.rebuild(['a', 'b', 'c'].map((m) => ({ member: m, id: m })))
  const before = new Map<string, string>()
  for (let i = 0; i < 3000; i++) before.set(`k${i}`, ring.ownerOf(`k${i}`)!)
  const counts = new Map<string, number>()
  for (const o of before.values()) counts.set(o, (counts.get(o) ?? 0) + 1)
  for (const [m, n] of counts) t.ok(n > 600 && n < 1400, `${m} owns a fair share (${n})`)
  ring.rebuild(['c', 'a', 'b', 'd'].map((m) => ({ member: m, id: m })))
  let moved = 0
  for (const [k, o] of before) {
    const now = ring.ownerOf(k)!
    if (now !== o) { moved++; t.equal(now, 'd', 'keys only move to the new member') }
  }
  t.ok(moved > 300 && moved < 1300, `about a quarter of the keys moved (${moved})`)
})

t.test('dispatch structures - smooth weighted round robin over non-empty levels', async (t) => {
  const w = new PriorityWindow<number>()
  for (let i = 0; i < 10; i++) { w.push(0, i); w.push(9, 100 + i) }
  const weights = [1, 1, 1, 1, 1, 1, 1, 1, 1, 4]
  const seq: number[] = []
  for (let i = 0; i < 10; i++) seq.push(w.chooseLevel(weights, 0))
  t.same(seq, [9, 9, 0, 9, 9, 9, 9, 0, 9, 9], 'four turns of level 9 per turn of level 0, the higher level first')
  t.equal(w.chooseLevel(weights, (1 << 9) | 1), -1, 'every non-empty level skipped')
  const empty = new PriorityWindow<number>()
  t.equal(empty.chooseLevel(weights, 0), -1)
})

t.test('dispatch structures - min-heap pops in key order; fifo removes in the middle', async (t) => {
  const h = new MinHeap<string>()
  const keys = [5, 3, 9, 1, 1, 7, 2]
  for (const k of keys) h.push(k, `v${k}`)
  const out: number[] = []
  while (h.size > 0) { out.push(h.peekKey()!); h.pop() }
  t.same(out, [...keys].sort((a, b) => a - b))
  const f = new Fifo<number>()
  for (let i = 0; i < 200; i++) f.push(i)
  for (let i = 0; i < 100; i++) f.shift()
  t.equal(f.removeAt(5), 105)
  t.equal(f.length, 99)
  t.same([...f].slice(0, 6), [100, 101, 102, 103, 104, 106])
})

t.test('dispatch structures - result topics stay in the namespace', async (t) => {
  t.equal(resultTopicOf('a/b/x', 'r'), 'a/b/r')
  t.equal(resultTopicOf('a/b/x', 'a/b/r'), 'a/b/r')
  t.equal(resultTopicOf('a/b/x', 'c/d/r'), 'a/b/c/d/r')
  t.equal(resultTopicOf('a/b/x', 'r/#'), undefined)
  t.equal(resultTopicOf('a/b/x', 'a/b/'), undefined)
})
