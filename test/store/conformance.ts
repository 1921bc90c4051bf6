/**
 * The ledger conformance suite: every Ledger implementation runs it.
 * Usage: runConformance(t, 'memory', factory).
 */
import type { Test } from 'tap'
import { isFerryError } from '../../common/errors.js'
import { StoreCode, StoreLimits, type Ledger, type LedgerOptions } from '../../store/index.js'
import { fakeClock, payload, policyByPrefix, waitFor } from './helpers.js'

export interface LedgerFactory {
  /** A new, empty, unopened ledger. */
  create: (opts: Omit<LedgerOptions, 'siteId'>) => Promise<Ledger>
  /** Close `ledger` and return a reopened ledger over the same storage (undefined when not persistent). */
  restart?: (ledger: Ledger, opts: Omit<LedgerOptions, 'siteId'>) => Promise<Ledger>
}

export function runConformance (tap: Test, impl: string, f: LedgerFactory): void {
  const name = (s: string): string => `store - ${impl} - ${s}`

  async function fresh (t: Test, over: Partial<LedgerOptions> = {}): Promise<Ledger> {
    const l = await f.create({ policyOf: policyByPrefix(), retentionIntervalMs: 0, checkpointIntervalMs: 0, ...over })
    await l.open()
    t.teardown(async () => { await l.close() })
    return l
  }

  tap.test(name('append and read back in order'), async (t) => {
    const l = await fresh(t)
    const r0 = await l.append({ topic: 't/a', payload: payload('zero'), props: { key: 'k', priority: 7, userProperties: [['a', '1'], ['a', '2']] } })
    const r1 = await l.append({ topic: 't/a', payload: payload('one'), publishTime: 1234 })
    t.equal(r0.entryId, 0)
    t.equal(r1.entryId, 1)
    t.equal(r0.duplicate, false)
    t.ok(r1.lsn > r0.lsn, 'lsn grows')
    const got = await l.read('t/a', 0, { maxEntries: 10 })
    t.same(got.map((e) => e.payload.toString()), ['zero', 'one'])
    t.equal(got[0]?.props.key, 'k')
    t.equal(got[0]?.props.priority, 7)
    t.same(got[0]?.props.userProperties, [['a', '1'], ['a', '2']])
    t.equal(got[1]?.publishTime, 1234)
    t.equal(got[1]?.lsn, r1.lsn)
    const info = l.topicInfo('t/a')
    t.equal(info?.firstEntryId, 0)
    t.equal(info?.nextEntryId, 2)
    t.ok((info?.storedBytes ?? 0) > 0)
    t.same([...l.topics()], ['t/a'])
    t.equal(l.topicInfo('t/none'), undefined)
    t.same(await l.read('t/none', 0, { maxEntries: 5 }), [])
    t.equal((await l.readOne('t/a', 1))?.payload.toString(), 'one')
    t.equal(await l.readOne('t/a', 2), undefined)
  })

  tap.test(name('read honours maxEntries, maxBytes and from'), async (t) => {
    const l = await fresh(t)
    await l.appendMany(Array.from({ length: 20 }, (_, i) => ({ topic: 't/b', payload: Buffer.alloc(100, i) })))
    t.equal((await l.read('t/b', 0, { maxEntries: 5 })).length, 5)
    t.same((await l.read('t/b', 15, { maxEntries: 50 })).map((e) => e.entryId), [15, 16, 17, 18, 19])
    t.equal((await l.read('t/b', 0, { maxEntries: 50, maxBytes: 250 })).length, 2)
    t.equal((await l.read('t/b', 0, { maxEntries: 50, maxBytes: 10 })).length, 1, 'at least one entry')
    t.same(await l.read('t/b', 20, { maxEntries: 5 }), [])
  })

  tap.test(name('appendMany keeps input order across topics'), async (t) => {
    const l = await fresh(t)
    const rs = await l.appendMany([
      { topic: 't/x', payload: payload('a') }, { topic: 't/y', payload: payload('b') }, { topic: 't/x', payload: payload('c') }
    ])
    t.same(rs.map((r) => [r.topic, r.entryId]), [['t/x', 0], ['t/y', 0], ['t/x', 1]])
    t.ok((rs[1]?.lsn ?? 0) > (rs[0]?.lsn ?? 0) && (rs[2]?.lsn ?? 0) > (rs[1]?.lsn ?? 0), 'lsns in order')
  })

  tap.test(name('all MessageProps survive'), async (t) => {
    const l = await fresh(t)
    const props = {
      key: 'k', orderingKey: 'ok', priority: 9, deliverAt: 2e12, expiresAt: 3e12, userProperties: [['x', 'y']] as const,
      producerId: 'p', producerSeq: 5, originSite: 'eu', originEntryId: 77, contentType: 'text/plain', payloadFormat: 1 as const,
      responseTopic: 'r/t', correlationData: Buffer.from([1, 2, 3]), resultTopic: 'res', deadLetterReason: 'why', qos: 2 as const
    }
    await l.append({ topic: 't/p', payload: payload('p'), props, publishTime: 1e12 })
    const [e] = await l.read('t/p', 0, { maxEntries: 1 })
    t.same({ ...e?.props, correlationData: Buffer.from(e?.props.correlationData ?? []) }, props)
  })

  tap.test(name('producer dedup returns the original entry id'), async (t) => {
    const l = await fresh(t)
    const a = await l.append({ topic: 't/d', payload: payload('a'), props: { producerId: 'p1', producerSeq: 1 } })
    const b = await l.append({ topic: 't/d', payload: payload('b'), props: { producerId: 'p1', producerSeq: 2 } })
    const dup = await l.append({ topic: 't/d', payload: payload('a again'), props: { producerId: 'p1', producerSeq: 1 } })
    const other = await l.append({ topic: 't/d', payload: payload('c'), props: { producerId: 'p2', producerSeq: 1 } })
    t.equal(dup.duplicate, true)
    t.equal(dup.entryId, a.entryId)
    t.equal(b.duplicate, false)
    t.equal(other.duplicate, false)
    t.equal(l.topicInfo('t/d')?.nextEntryId, 3)
    const [m, n] = await l.appendMany([
      { topic: 't/d', payload: payload('x'), props: { producerId: 'p3', producerSeq: 10 } },
      { topic: 't/d', payload: payload('x'), props: { producerId: 'p3', producerSeq: 10 } }
    ])
    t.equal(m?.duplicate, false)
    t.equal(n?.duplicate, true)
    t.equal(n?.entryId, m?.entryId)
    t.equal((await l.append({ topic: 't/d', payload: payload('old'), props: { producerId: 'p3', producerSeq: 3 } })).duplicate, true, 'seq below highest is a duplicate')
  })

  tap.test(name('cursor start positions and acks'), async (t) => {
    const l = await fresh(t)
    for (let i = 0; i < 5; i++) await l.append({ topic: 't/c', payload: payload(`m${i}`) })
    const earliest = await l.cursor('t/c', 'e', { durable: true, start: { kind: 'earliest' } })
    const latest = await l.cursor('t/c', 'l', { durable: true, start: { kind: 'latest' } })
    t.equal(earliest.markDelete(), -1)
    t.equal(latest.markDelete(), 4)
    t.equal(earliest.backlogEntries(), 5)
    t.equal(latest.backlogEntries(), 0)
    await earliest.ack([1, 3])
    t.same(earliest.ackedRanges(), [[1, 1], [3, 3]])
    t.equal(earliest.isAcked(1), true)
    t.equal(earliest.isAcked(2), false)
    t.equal(earliest.backlogEntries(), 3)
    await earliest.ack([0])
    t.equal(earliest.markDelete(), 1)
    await earliest.ack([2])
    t.equal(earliest.markDelete(), 3)
    t.same(earliest.ackedRanges(), [])
    await earliest.ack([2, 3]) // idempotent
    await earliest.ackCumulative(4)
    t.equal(earliest.markDelete(), 4)
    t.equal(earliest.backlogEntries(), 0)
    const again = await l.cursor('t/c', 'e', { durable: true, start: { kind: 'earliest' } })
    t.equal(again.markDelete(), 4, 'get returns the existing cursor')
    t.same(l.cursors('t/c').map((c) => c.subscription).sort(), ['e', 'l'])
    await l.deleteCursor('t/c', 'l')
    t.same(l.cursors('t/c').map((c) => c.subscription), ['e'])
    await l.append({ topic: 't/c', payload: payload('m5') })
    t.equal(earliest.backlogEntries(), 1)
  })

  tap.test(name('afterLsn start takes exactly the later entries'), async (t) => {
    const l = await fresh(t)
    await l.append({ topic: 't/s', payload: payload('before') })
    await l.append({ topic: 't/other', payload: payload('x') })
    const mark = l.lastLsn()
    await l.append({ topic: 't/s', payload: payload('after') })
    await l.append({ topic: 't/new', payload: payload('after too') })
    const c = await l.cursor('t/s', 'f', { durable: false, start: { kind: 'afterLsn', lsn: mark } })
    t.equal(c.markDelete(), 0)
    const c2 = await l.cursor('t/new', 'f', { durable: true, start: { kind: 'afterLsn', lsn: mark } })
    t.equal(c2.markDelete(), -1)
    const c3 = await l.cursor('t/other', 'f', { durable: true, start: { kind: 'afterLsn', lsn: mark } })
    t.equal(c3.markDelete(), 0)
  })

  tap.test(name('lsns grow in call order across memory and persistent topics'), async (t) => {
    const l = await fresh(t)
    const lsns: number[] = []
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 200; i++) lsns.push((await l.append({ topic: 'mem/burst', payload: payload('m') })).lsn)
      lsns.push((await l.append({ topic: 't/after-burst', payload: payload('d') })).lsn)
      const mark = l.lastLsn()
      t.ok(mark >= (lsns[lsns.length - 1] as number), 'lastLsn covers the last append')
      lsns.push((await l.append({ topic: 'mem/burst', payload: payload('m') })).lsn)
      t.ok((lsns[lsns.length - 1] as number) > mark, 'an append after lastLsn() is after it')
    }
    let ordered = true
    for (let i = 1; i < lsns.length; i++) if (!((lsns[i] as number) > (lsns[i - 1] as number))) ordered = false
    t.ok(ordered, `${lsns.length} lsns strictly increasing`)
  })

  tap.test(name('delivery counts'), async (t) => {
    const l = await fresh(t)
    for (let i = 0; i < 3; i++) await l.append({ topic: 't/dc', payload: payload(`m${i}`) })
    const c = await l.cursor('t/dc', 's', { durable: true, start: { kind: 'earliest' } })
    await c.recordDeliveries([0, 1])
    await c.recordDeliveries([1])
    t.equal(c.deliveryCount(0), 1)
    t.equal(c.deliveryCount(1), 2)
    t.equal(c.deliveryCount(2), 0)
    await c.ack([0, 1])
    t.equal(c.deliveryCount(1), 0, 'acknowledged entries forget their count')
  })

  tap.test(name('delivery counts from the handed-out watermark: holes, redeliveries, acks'), async (t) => {
    const l = await fresh(t)
    await l.appendMany(Array.from({ length: 10 }, (_, i) => ({ topic: 't/wm', payload: payload(`m${i}`) })))
    const c = await l.cursor('t/wm', 's', { durable: true, start: { kind: 'earliest' } })
    await c.recordDeliveries([0, 1, 2])
    await c.recordDeliveries([5, 6]) // 3 and 4 skipped (say, delayed)
    t.same([0, 1, 2, 3, 4, 5, 6, 7].map((id) => c.deliveryCount(id)), [1, 1, 1, 0, 0, 1, 1, 0])
    t.same(c.memory(), { ackRanges: 0, countedEntries: 0, holeRanges: 1 }, 'entries handed out once take no memory; the skipped run is one range')
    await c.recordDeliveries([3])
    t.equal(c.deliveryCount(3), 1, 'a hole handed out at last counts 1')
    t.equal(c.deliveryCount(4), 0)
    await c.recordDeliveries([0, 5, 5])
    t.same([c.deliveryCount(0), c.deliveryCount(5)], [2, 3], 'again and again')
    t.equal(c.memory().countedEntries, 2)
    await c.ack([5])
    t.equal(c.deliveryCount(5), 0)
    t.equal(c.memory().countedEntries, 1, 'acknowledged entries drop their count')
    await c.ackCumulative(4)
    t.equal(c.markDelete(), 5, 'the acked 5 folds in')
    t.same(c.memory(), { ackRanges: 0, countedEntries: 0, holeRanges: 0 }, 'mark-delete prunes counts and holes')
    t.equal(c.deliveryCount(6), 1)
  })

  tap.test(name('meta put, get, delete, list'), async (t) => {
    const l = await fresh(t)
    await l.putMeta('sessions', 'c1', { expiry: 10, subs: ['a/#'], blob: Buffer.from('x') })
    await l.putMeta('sessions', 'c2', 5)
    await l.putMeta('other', 'c1', 'v')
    t.same(l.getMeta('sessions', 'c2'), 5)
    t.same((l.getMeta('sessions', 'c1') as { subs: string[] }).subs, ['a/#'])
    await l.putMeta('sessions', 'c2', undefined)
    t.equal(l.getMeta('sessions', 'c2'), undefined)
    t.same([...l.metaEntries('sessions')].map(([k]) => k), ['c1'])
    t.same([...l.metaEntries('nothing')], [])
  })

  tap.test(name('append carries meta in the same record'), async (t) => {
    const l = await fresh(t)
    await l.putMeta('qos2', 'c1/7', 'old')
    const r = await l.append({
      topic: 't/m', payload: payload('m0'),
      meta: [{ space: 'qos2', key: 'c1/1', value: { at: 1 } }, { space: 'qos2', key: 'c1/7', value: undefined }, { space: 'other', key: 'k', value: null }]
    })
    t.equal(r.entryId, 0)
    t.same(l.getMeta('qos2', 'c1/1'), { at: 1 }, 'put visible after the append resolves')
    t.equal(l.getMeta('qos2', 'c1/7'), undefined, 'undefined deletes')
    t.equal(l.getMeta('other', 'k'), null, 'null is a value')
    t.same([...l.metaEntries('qos2')].map(([k]) => k), ['c1/1'])
    const rs = await l.appendMany([
      { topic: 't/m', payload: payload('m1'), meta: [{ space: 'qos2', key: 'c1/2', value: 2 }] },
      { topic: 't/m2', payload: payload('n0'), meta: [{ space: 'qos2', key: 'c1/1', value: undefined }] }
    ])
    t.same(rs.map((x) => x.entryId), [1, 0])
    t.same([...l.metaEntries('qos2')], [['c1/2', 2]])
    t.same((await l.read('t/m', 0, { maxEntries: 5 })).map((e) => e.payload.toString()), ['m0', 'm1'], 'the messages are ordinary entries')
    // A producer-dedup duplicate writes nothing, its meta included.
    await l.append({ topic: 't/m', payload: payload('d'), props: { producerId: 'p', producerSeq: 1 }, meta: [{ space: 'qos2', key: 'd', value: 1 }] })
    await l.putMeta('qos2', 'd', undefined)
    const dup = await l.append({ topic: 't/m', payload: payload('d'), props: { producerId: 'p', producerSeq: 1 }, meta: [{ space: 'qos2', key: 'd', value: 1 }] })
    t.equal(dup.duplicate, true)
    t.equal(l.getMeta('qos2', 'd'), undefined, 'duplicate did not re-apply its meta')
  })

  tap.test(name('append meta is refused where it cannot be durable or is malformed'), async (t) => {
    const l = await fresh(t)
    await t.rejects(l.append({ topic: 'mem/m', payload: payload('x'), meta: [{ space: 's', key: 'k', value: 1 }] }), { code: StoreCode.BAD_ARGUMENT }, 'memory topic')
    t.equal(l.topicInfo('mem/m'), undefined, 'nothing appended')
    t.equal(l.getMeta('s', 'k'), undefined, 'nothing put')
    await t.rejects(l.append({ topic: 't/mm', payload: payload('x'), meta: [{ space: '', key: 'k', value: 1 }] }), { code: StoreCode.BAD_ARGUMENT }, 'empty space')
    const tooMany = Array.from({ length: StoreLimits.APPEND_META_PUTS_MAX + 1 }, (_, i) => ({ space: 's', key: `k${i}`, value: i }))
    await t.rejects(l.append({ topic: 't/mm', payload: payload('x'), meta: tooMany }), { code: StoreCode.BAD_ARGUMENT }, 'too many puts')
    t.equal(l.topicInfo('t/mm'), undefined, 'refused before the topic exists')
    // Empty meta is just an append (memory topics included).
    t.equal((await l.append({ topic: 'mem/m', payload: payload('y'), meta: [] })).entryId, 0)
  })

  tap.test(name('delayed index and cancel'), async (t) => {
    const clock = fakeClock()
    const l = await fresh(t, { nowMs: clock.now })
    const now = clock.now()
    await l.append({ topic: 't/dl', payload: payload('now') })
    await l.append({ topic: 't/dl', payload: payload('+5m'), props: { deliverAt: now + 300_000 } })
    await l.append({ topic: 't/dl', payload: payload('+1m'), props: { deliverAt: now + 60_000 } })
    await l.append({ topic: 't/dl', payload: payload('+2h'), props: { deliverAt: now + 7_200_000 } })
    await l.append({ topic: 't/dl', payload: payload('past'), props: { deliverAt: now - 1 } })
    t.same(l.delayedBetween('t/dl', now, now + 600_000, 10), [{ entryId: 2, deliverAt: now + 60_000 }, { entryId: 1, deliverAt: now + 300_000 }])
    t.same(l.delayedBetween('t/dl', now, now + 1e9, 1), [{ entryId: 2, deliverAt: now + 60_000 }])
    t.equal(l.nextDelayedAfter('t/dl', now), now + 60_000)
    t.equal(l.nextDelayedAfter('t/dl', now + 60_000), now + 300_000)
    t.equal(l.nextDelayedAfter('t/dl', now + 7_200_000), undefined)
    t.equal(await l.cancel('t/dl', 1), true)
    t.equal(l.isCancelled('t/dl', 1), true)
    t.equal(await l.cancel('t/dl', 1), false, 'already cancelled')
    t.equal(await l.cancel('t/dl', 0), false, 'not scheduled')
    t.equal(await l.cancel('t/dl', 99), false, 'unknown')
    t.same(l.delayedBetween('t/dl', now, now + 600_000, 10).map((r) => r.entryId), [2])
    clock.advance(60_000)
    t.equal(await l.cancel('t/dl', 2), false, 'already due')
    t.equal(l.nextDelayedAfter('t/dl', now), now + 60_000)
  })

  tap.test(name('listeners fire after append'), async (t) => {
    const l = await fresh(t)
    const appended: Array<[string, number]> = []
    const created: string[] = []
    const offA = l.onAppend((topic, id) => appended.push([topic, id]))
    l.onTopicCreated((topic) => created.push(topic))
    await l.append({ topic: 't/l', payload: payload('a') })
    await l.append({ topic: 't/l', payload: payload('b') })
    await waitFor(() => appended.length === 2, 'two append events')
    t.same(appended, [['t/l', 0], ['t/l', 1]])
    t.same(created, ['t/l'])
    offA()
    await l.append({ topic: 't/l', payload: payload('c') })
    t.equal(appended.length, 2, 'unsubscribed')
  })

  tap.test(name('limits: record size and topic count'), async (t) => {
    const l = await fresh(t, { maxRecordBytes: 1024, maxTopics: 3 })
    await t.rejects(l.append({ topic: 't/big', payload: Buffer.alloc(2048) }), { code: StoreCode.RECORD_TOO_LARGE })
    for (const n of ['t/1', 't/2']) await l.append({ topic: n, payload: payload('x') })
    const err = await l.append({ topic: 't/3', payload: payload('x') }).then(() => undefined, (e: unknown) => e)
    const err2 = await l.append({ topic: 't/4', payload: payload('x') }).then(() => undefined, (e: unknown) => e)
    t.ok(err === undefined || isFerryError(err, StoreCode.TOO_MANY_TOPICS))
    t.ok(isFerryError(err2, StoreCode.TOO_MANY_TOPICS), 'the fourth topic is refused')
    await t.rejects(l.append({ topic: 't/1', payload: payload('x'), props: { priority: 12 } }), { code: 'E_STORE_BAD_ARGUMENT' })
  })

  tap.test(name('memory durability topics work like the others'), async (t) => {
    const l = await fresh(t)
    const r = await l.append({ topic: 'mem/x', payload: payload('m') })
    t.equal(r.entryId, 0)
    const c = await l.cursor('mem/x', 's', { durable: true, start: { kind: 'earliest' } })
    await c.ack([0])
    t.equal(c.markDelete(), 0)
    t.equal(l.topicInfo('mem/x')?.durability, 'memory')
    t.equal((await l.read('mem/x', 0, { maxEntries: 1 }))[0]?.payload.toString(), 'm')
  })

  tap.test(name('retention trims acknowledged entries'), async (t) => {
    const clock = fakeClock()
    const l = await fresh(t, { nowMs: clock.now, policyOf: policyByPrefix({ retentionMs: 0, retentionBytes: -1 }) })
    for (let i = 0; i < 10; i++) await l.append({ topic: 't/r', payload: Buffer.alloc(64, i) })
    const c = await l.cursor('t/r', 's', { durable: true, start: { kind: 'earliest' } })
    await c.ackCumulative(5)
    clock.advance(1000)
    await l.checkpoint()
    await l.runRetention()
    // Segment-granular ledgers may keep more; nothing unacknowledged may go.
    const first = l.topicInfo('t/r')?.firstEntryId ?? -1
    t.ok(first >= 0 && first <= 6, `first entry ${first} <= 6`)
    const rest = await l.read('t/r', 0, { maxEntries: 100 })
    t.same(rest.map((e) => e.entryId).filter((id) => id >= 6), [6, 7, 8, 9])
    t.equal(c.backlogEntries(), 4)
  })

  tap.test(name('closed ledger rejects'), async (t) => {
    const l = await f.create({ policyOf: policyByPrefix(), retentionIntervalMs: 0, checkpointIntervalMs: 0 })
    await l.open()
    await l.close()
    await t.rejects(l.append({ topic: 't/z', payload: payload('x') }), { code: StoreCode.STORE_CLOSED })
  })

  const restart = f.restart
  if (restart !== undefined) {
    tap.test(name('everything survives a restart'), async (t) => {
      const opts = { policyOf: policyByPrefix(), retentionIntervalMs: 0, checkpointIntervalMs: 0 }
      let l = await f.create(opts)
      await l.open()
      const now = Date.now()
      await l.append({ topic: 't/a', payload: payload('a0'), props: { producerId: 'p', producerSeq: 1 } })
      await l.append({ topic: 't/a', payload: payload('a1'), props: { deliverAt: now + 3_600_000 } })
      await l.append({ topic: 't/a', payload: payload('a2'), props: { deliverAt: now + 7_200_000 } })
      await l.append({ topic: 'async/b', payload: payload('b0') })
      await l.append({ topic: 'mem/c', payload: payload('c0') })
      const c = await l.cursor('t/a', 's', { durable: true, start: { kind: 'earliest' } })
      await c.ack([1])
      await c.recordDeliveries([0, 0])
      const w = await l.cursor('t/a', 'w', { durable: true, start: { kind: 'earliest' } })
      await w.recordDeliveries([1]) // 0 skipped
      await l.checkpoint() // the watermark and the hole in the snapshot, the rest replayed
      await w.recordDeliveries([1, 2])
      await l.cursor('t/a', 'volatile', { durable: false, start: { kind: 'earliest' } })
      await l.cancel('t/a', 2)
      await l.putMeta('m', 'k', { v: 1 })
      await l.putMeta('m', 'gone', 1)
      await l.append({ topic: 't/meta', payload: payload('q0'), meta: [{ space: 'm', key: 'q0', value: [1, 'x'] }] })
      await l.checkpoint() // the rest is replayed from the log over the snapshot
      await l.append({ topic: 'async/b', payload: payload('q1'), meta: [{ space: 'm', key: 'q1', value: 2 }, { space: 'm', key: 'gone', value: undefined }] })
      await l.append({ topic: 't/meta', payload: payload('q2'), meta: [{ space: 'm', key: 'q0', value: undefined }, { space: 'm', key: 'q2', value: true }] })
      l = await restart(l, opts)
      t.same([...l.metaEntries('m')].sort(), [['k', { v: 1 }], ['q1', 2], ['q2', true]], 'meta carried by appends survives, deletes included')
      t.equal(l.topicInfo('t/meta')?.nextEntryId, 2)
      t.equal(l.topicInfo('t/a')?.nextEntryId, 3)
      t.equal(l.topicInfo('async/b')?.nextEntryId, 2)
      t.equal(l.topicInfo('mem/c'), undefined, 'memory topic gone')
      t.same((await l.read('t/a', 0, { maxEntries: 5 })).map((e) => e.payload.toString()), ['a0', 'a1', 'a2'])
      const [c2, w2] = l.cursors('t/a')
      t.equal(l.cursors('t/a').length, 2, 'non-durable cursor gone')
      t.same([0, 1, 2].map((id) => w2?.deliveryCount(id)), [0, 2, 1], 'watermark, hole and redelivery survive')
      t.same(c2?.ackedRanges(), [[1, 1]])
      t.equal(c2?.deliveryCount(0), 2)
      t.equal(l.isCancelled('t/a', 2), true)
      t.same(l.delayedBetween('t/a', now, now + 1e8, 10).map((r) => r.entryId), [1])
      t.same(l.getMeta('m', 'k'), { v: 1 })
      const dup = await l.append({ topic: 't/a', payload: payload('a0'), props: { producerId: 'p', producerSeq: 1 } })
      t.equal(dup.duplicate, true)
      t.equal(dup.entryId, 0)
      const next = await l.append({ topic: 't/a', payload: payload('a3') })
      t.equal(next.entryId, 3)
      await l.close()
    })
  }
}
