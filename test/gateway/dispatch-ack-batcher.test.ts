/**
 * AckBatcher (gateway/dispatch/ack-batcher.ts): the individual acks of one
 * loop turn reach the cursor as one call; every caller waits for it; when
 * the combined call is refused, each caller's ids are tried on their own so
 * each gets the outcome it would have had alone. No-wait ids (MQTT PUBACK)
 * ride in the same call and are reported once per batch, or one by one after
 * a refusal.
 */
import t from 'tap'
import type { Cursor, EntryId } from '../../store/index.js'
import { AckBatcher } from '../../gateway/dispatch/ack-batcher.js'

function fakeCursor (refuse: (ids: readonly EntryId[]) => boolean): { cursor: Cursor, calls: EntryId[][] } {
  const calls: EntryId[][] = []
  const cursor = {
    async ack (ids: readonly EntryId[]): Promise<void> {
      calls.push([...ids])
      if (refuse(ids)) throw new Error('refused')
    }
  } as unknown as Cursor
  return { cursor, calls }
}

t.test('ack batcher - acks of one turn become one cursor call; every caller waits for it', async (t) => {
  const { cursor, calls } = fakeCursor(() => false)
  const b = new AckBatcher(cursor, () => undefined)
  const done = await Promise.all([b.ack([1]), b.ack([2, 3]), b.ack([3]), b.ack([4])])
  t.equal(done.length, 4)
  t.same(calls, [[1, 2, 3, 4]], 'one call, each id once')
  t.notOk(b.has(1), 'nothing waits after the flush')
  await b.ack([5])
  t.same(calls[1], [5], 'a later turn is a new call')
})

t.test('ack batcher - a refused batch is retried per caller: only the bad caller fails', async (t) => {
  // Refuse any call holding id 7 together with others (like a range bound only the sum exceeds), and 9 always.
  const { cursor, calls } = fakeCursor((ids) => ids.includes(9) || (ids.includes(7) && ids.length > 1))
  const b = new AckBatcher(cursor, () => undefined)
  const results = await Promise.allSettled([b.ack([7]), b.ack([8]), b.ack([9])])
  t.same(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected'])
  t.same(calls, [[7, 8, 9], [7], [8], [9]])
})

t.test('ack batcher - a caller alone in its turn goes straight to the cursor', async (t) => {
  const { cursor, calls } = fakeCursor(() => true)
  const b = new AckBatcher(cursor, () => undefined)
  await t.rejects(b.ack([1, 2]))
  t.same(calls, [[1, 2]], 'no second try for a lone caller')
})

t.test('ack batcher - no-wait ids share the turn\'s cursor call and are reported once when durable', async (t) => {
  const { cursor, calls } = fakeCursor(() => false)
  const settled: Array<{ ids: EntryId[], err: unknown }> = []
  const b = new AckBatcher(cursor, (ids, err) => { settled.push({ ids: [...ids], err }) })
  b.ackNoWait(1)
  b.ackNoWait(2)
  t.ok(b.has(2), 'a no-wait id waits in the batch')
  await b.ack([3])
  await new Promise((resolve) => setImmediate(resolve))
  t.same(calls, [[1, 2, 3]], 'one cursor call for waiting and no-wait ids')
  t.same(settled, [{ ids: [1, 2], err: undefined }], 'the no-wait ids reported once, durable')
})

t.test('ack batcher - a refused batch retries each no-wait id alone; only the bad one is reported failed', async (t) => {
  const { cursor, calls } = fakeCursor((ids) => ids.includes(9) || (ids.includes(7) && ids.length > 1))
  const settled: Array<{ ids: EntryId[], failed: boolean }> = []
  const b = new AckBatcher(cursor, (ids, err) => { settled.push({ ids: [...ids], failed: err !== undefined }) })
  b.ackNoWait(7)
  b.ackNoWait(8)
  b.ackNoWait(9)
  for (let i = 0; i < 5 && settled.length < 3; i++) await new Promise((resolve) => setImmediate(resolve))
  t.same(calls, [[7, 8, 9], [7], [8], [9]])
  t.same(settled.sort((a, b) => (a.ids[0] as number) - (b.ids[0] as number)), [{ ids: [7], failed: false }, { ids: [8], failed: false }, { ids: [9], failed: true }])
})

t.test('ack batcher - a no-wait id alone in its turn goes straight to the cursor', async (t) => {
  const { cursor, calls } = fakeCursor(() => true)
  const settled: boolean[] = []
  const b = new AckBatcher(cursor, (_ids, err) => { settled.push(err !== undefined) })
  b.ackNoWait(4)
  for (let i = 0; i < 5 && settled.length < 1; i++) await new Promise((resolve) => setImmediate(resolve))
  t.same(calls, [[4]], 'no second try for a lone id')
  t.same(settled, [true], 'reported failed once')
})
