/** LeaseBook (gateway/http/pull-leases.ts): per-message leases of pulled messages, unit level. */
import t from 'tap'
import { LeaseBook, type LeasedMessage } from '../../gateway/http/pull-leases.js'
import { waitFor } from '../helpers/wait.js'

const m = (entryId: number, topic = 'a/b/c'): LeasedMessage => ({ topic, entryId })

t.test('http pull leases - expire once each, in deadline order; released ones never fire', async (t) => {
  const fired: number[][] = []
  const book = new LeaseBook((ms) => { fired.push(ms.map((x) => x.entryId)) })
  t.teardown(() => { book.close() })
  const now = Date.now()
  book.lease([m(1), m(2)], now + 60_000)
  book.lease([m(3), m(4)], now + 20)
  book.lease([m(5)], now + 40)
  book.release('a/b/c', 4)
  t.equal(book.size, 4)
  await waitFor(() => fired.flat().includes(5), { what: 'the two short batches to expire' })
  t.same(fired.flat().sort(), [3, 5], 'short leases expired, the released one did not, the long one holds')
  t.equal(book.size, 2)
  book.release('a/b/c', 1)
  book.release('a/b/c', 2)
  t.equal(book.size, 0)
})

t.test('http pull leases - leasing a message again moves it to the new deadline; close drops everything', async (t) => {
  const fired: number[] = []
  const book = new LeaseBook((ms) => { fired.push(...ms.map((x) => x.entryId)) })
  book.lease([m(1), m(1, 'other/topic/x')], Date.now() + 20)
  book.lease([m(1)], Date.now() + 60_000) // redelivered and handed out again
  await waitFor(() => fired.length > 0, { what: 'the other topic\'s lease' })
  t.same(fired, [1], 'only the message of the other topic expired; same id, different topic')
  t.equal(book.size, 1)
  book.close()
  t.equal(book.size, 0)
  book.lease([m(9)], Date.now() + 1)
  t.equal(book.size, 0, 'a closed book takes no leases')
})

t.test('http pull leases - many emptied batches are compacted', async (t) => {
  const book = new LeaseBook(() => undefined)
  t.teardown(() => { book.close() })
  const far = Date.now() + 3_600_000
  book.lease([m(0)], far - 1) // keeps the front batch non-empty, so emptied ones behind it pile up
  for (let i = 1; i <= 1000; i++) { book.lease([m(i)], far + i); book.release('a/b/c', i) }
  t.equal(book.size, 1)
  t.ok((book as unknown as { batches: unknown[] }).batches.length < 200, 'emptied batches do not pile up without bound')
})
