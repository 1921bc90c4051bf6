/**
 * Ledger.cursorBacklog: one cursor's backlog without a cursor handle (what
 * subscription stats sum over every topic a wildcard subscription spans),
 * equal to the handle's backlogEntries() as acks move it.
 */
import t from 'tap'
import { createMemoryLedger } from '../../store/index.js'

t.test('store cursorBacklog - the backlog of one cursor, as its handle says, without making a handle', async (t) => {
  const l = createMemoryLedger({ siteId: 's', policyOf: () => ({ durability: 'sync', retentionMs: -1, retentionBytes: -1, ttlMs: 0 }) })
  await l.open()
  t.teardown(async () => { await l.close() })
  for (let i = 0; i < 5; i++) await l.append({ topic: 'acme/orders/a', payload: Buffer.from(`m${i}`) })
  t.equal(l.cursorBacklog('acme/orders/a', 'sub'), undefined, 'no such cursor yet')
  t.equal(l.cursorBacklog('acme/orders/none', 'sub'), undefined, 'no such topic')
  const c = await l.cursor('acme/orders/a', 'sub', { durable: true, start: { kind: 'earliest' } })
  t.equal(l.cursorBacklog('acme/orders/a', 'sub'), 5)
  t.equal(l.cursorBacklog('acme/orders/a', 'sub'), c.backlogEntries(), 'same as the handle')
  await c.ack([1, 3])
  t.equal(l.cursorBacklog('acme/orders/a', 'sub'), 3, 'individual acks count')
  await c.ackCumulative(2)
  t.equal(l.cursorBacklog('acme/orders/a', 'sub'), c.backlogEntries(), 'cumulative acks too')
  t.equal(l.cursorBacklog('acme/orders/a', 'sub'), 1)
  await l.append({ topic: 'acme/orders/a', payload: Buffer.from('m5') })
  t.equal(l.cursorBacklog('acme/orders/a', 'sub'), 2, 'a new entry is backlog')
})
