/**
 * The tail cache keeps written bytes only while the tail is read
 * (store/tail-cache.ts, TAIL_CACHE_UNREAD_MS_MAX): a site nobody reads from
 * holds none of its writes, a reader (a hit or a miss, bytes or entries)
 * turns the cache on from the next write, and a tail left unread for longer
 * than the bound frees what it held. Reads that miss it go to the file, as
 * every older read does (test/store/tail-entries reads a ledger whose
 * appends nobody read: every entry correct).
 */
import t from 'tap'
import { TailCache } from '../../store/tail-cache.js'
import { TAIL_CACHE_UNREAD_MS_MAX } from '../../store/constants.js'

const chunk = (n: number): Buffer => Buffer.alloc(100, n)

t.test('store - tail cache - bytes are kept only while the tail is read', async (t) => {
  let now = 1_000
  const c = new TailCache(1 << 20, { entriesMax: 16, entryPayloadBytesMax: 1 << 20, nowMs: () => now })
  c.add(0, chunk(1))
  t.equal(c.get(0, 10), undefined, 'never read: a write is not kept')
  // That read (a miss) marks the tail as read: the next write is kept.
  c.add(100, chunk(2))
  t.same(c.get(100, 10), Buffer.alloc(10, 2), 'read since: kept')
  t.same(c.from(150), Buffer.alloc(50, 2), 'and served to the log tail')
  now += TAIL_CACHE_UNREAD_MS_MAX
  c.add(200, chunk(3))
  t.same(c.get(200, 100), chunk(3), 'read within the bound: still kept')
  // A read is dated by the next write (the clock is read once per write, not per read): still kept.
  now += TAIL_CACHE_UNREAD_MS_MAX + 1
  c.add(300, chunk(4))
  // Then no read at all for longer than the bound: everything held is freed, the new write not kept.
  now += TAIL_CACHE_UNREAD_MS_MAX + 1
  c.add(400, chunk(5))
  t.equal(c.get(100, 10), undefined, 'unread past the bound: what was held is gone')
  t.equal(c.get(300, 10), undefined)
  t.equal(c.get(400, 10), undefined, 'and the new write is not kept')
  c.add(500, chunk(6))
  t.same(c.get(500, 10), Buffer.alloc(10, 6), 'a read (the misses above) turns it on again')
  t.equal(c.get(450, 10), undefined, 'an lsn in the gap finds no chunk')
  t.equal(c.from(450), undefined)
})

t.test('store - tail cache - an entry read counts as a read of the tail', async (t) => {
  let now = 0
  const c = new TailCache(1 << 20, { entriesMax: 16, entryPayloadBytesMax: 1 << 20, nowMs: () => now })
  const topic = { id: 1, name: 't' }
  c.addEntry(10, topic.id, 0, 0, Buffer.from('x'), {})
  t.ok(c.entry(10, topic, 0), 'the entries ring does not wait for a reader')
  now += 5
  c.add(10, chunk(7))
  t.same(c.get(10, 3), Buffer.alloc(3, 7), 'a subscriber reading entries keeps the bytes cached for when it falls behind')
})
