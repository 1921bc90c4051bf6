import t from 'tap'
import { SmallMap } from '../../store/small-map.js'

t.test('small map - behaves as a Map through one, two and back to zero entries', async (t) => {
  const m = new SmallMap<string, number>()
  const ref = new Map<string, number>()
  const ops: Array<[string, string, number?]> = [
    ['set', 'a', 1], ['set', 'a', 2], ['set', 'b', 3], ['delete', 'a'], ['set', 'c', 4], ['delete', 'x'],
    ['delete', 'b'], ['delete', 'c'], ['set', 'd', 5], ['delete', 'd'], ['set', 'e', 6]
  ]
  for (const [op, k, v] of ops) {
    if (op === 'set') { m.set(k, v as number); ref.set(k, v as number) } else t.equal(m.delete(k), ref.delete(k), `delete ${k}`)
    t.equal(m.size, ref.size, `size after ${op} ${k}`)
    t.same([...m.entries()], [...ref.entries()], `entries after ${op} ${k}`)
    t.same([...m.values()], [...ref.values()])
    for (const key of ['a', 'b', 'c', 'd', 'e', 'x']) { t.equal(m.get(key), ref.get(key)); t.equal(m.has(key), ref.has(key)) }
  }
})
