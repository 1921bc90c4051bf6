/**
 * Spanned topics: a subscription's topics are held once, in the dispatcher's
 * topic index; its own Set only while it spans at most
 * SPANNED_OWN_SET_TOPICS_MAX topics. A wildcard subscription over a million
 * topics must not hold a second copy of them.
 */
import t from 'tap'
import { SpannedTopics, TopicSubscriptions } from '../../../gateway/dispatch/spanned-topics.js'
import { SPANNED_OWN_SET_TOPICS_MAX } from '../../../gateway/dispatch/constants.js'

t.test('spanned topics - past the bound a subscription keeps no Set of its own, and answers the same from the index', async (t) => {
  const index = new TopicSubscriptions<string>()
  const big = new SpannedTopics(index, 'big')
  const small = new SpannedTopics(index, 'small')
  const n = SPANNED_OWN_SET_TOPICS_MAX + 100
  for (let i = 0; i < n; i++) big.add(`ns/t${i}`)
  big.add('ns/t0') // again: no change
  for (let i = 0; i < 10; i++) small.add(`ns/t${i * 2}`)
  small.add('ns/own')
  t.equal(big.size, n)
  t.equal(big.ownTopics, 0, 'no Set of its own past the bound')
  t.equal(small.ownTopics, 11, 'a small subscription keeps its Set')
  t.ok(big.has('ns/t1') && big.has(`ns/t${n - 1}`) && !big.has('ns/own'), 'has() from the index')
  t.same([...big].length, n, 'every topic once')
  t.same(new Set(big.values()).size, n)
  t.notOk([...big].includes('ns/own'), 'not the other subscription\'s topics')
  t.same(index.get('ns/t0'), ['big', 'small'], 'both on a shared topic')
  t.equal(index.get('ns/t1'), 'big', 'one inline')

  // Forgetting the big one leaves the small one's topics routed.
  const gone = big.clear()
  t.equal(gone.length, n, 'the topics it spanned, for their cursors')
  t.equal(big.size, 0)
  t.equal(index.get('ns/t0'), 'small', 'back to one inline')
  t.equal(index.get('ns/t1'), undefined)
  t.ok(index.spans('ns/own', 'small'))
  t.same([...small].sort(), [...Array.from({ length: 10 }, (_, i) => `ns/t${i * 2}`), 'ns/own'].sort())
  t.same(small.clear().length, 11)
  t.equal(index.get('ns/own'), undefined, 'nothing left')
})
