/**
 * The link protocol against the store, without NATS: the receiver's
 * position rule, and the failure modes of Pulsar's replicator that each lost
 * data silently (apache/pulsar#26113, #23697, #26002).
 */
import t from 'tap'
import { createMemoryLedger, REPL_IN_SPACE, positionOf, type Ledger, type LedgerEntry } from '../../store/index.js'
import { silentLogger } from '../../common/log.js'
import { Receiver } from '../../replicator/receiver.js'
import { decodeAnswer, encodeBatch, type Batch, type WireItem } from '../../replicator/codec.js'
import { ReplCode, startReplicator, staticPlan, type LinkTransport } from '../../replicator/index.js'
import { FerryError } from '../../common/errors.js'
import { TEST_LINK_LIMITS } from '../helpers/network.js'
import { waitFor } from '../helpers/wait.js'

const policyOf = (): { durability: 'memory', retentionMs: number, retentionBytes: number, ttlMs: number } => ({ durability: 'memory', retentionMs: -1, retentionBytes: -1, ttlMs: 0 })

async function ledger (site: string, t: { teardown: (f: () => Promise<void>) => void }): Promise<Ledger> {
  const l = createMemoryLedger({ siteId: site, policyOf, retentionIntervalMs: 0, checkpointIntervalMs: 0 })
  await l.open()
  t.teardown(async () => { await l.close() })
  return l
}

function msg (lsn: number, payload: string, props: WireItem extends infer W ? W extends { kind: 'message', props: infer P } ? P : never : never = {}): WireItem {
  return { kind: 'message', lsn, topic: 'public/default/x', entryId: lsn, publishTime: 1000 + lsn, payload: Buffer.from(payload), props }
}

async function send (r: Receiver, b: Batch): Promise<ReturnType<typeof decodeAnswer>> {
  return decodeAnswer(await r.handle(encodeBatch(b)))
}

async function all (l: Ledger): Promise<LedgerEntry[]> {
  return await l.read('public/default/x', 0, { maxEntries: 10_000 })
}

t.test('protocol - a batch that does not start at the held position is refused with that position (apache/pulsar#26113)', async (t) => {
  const b = await ledger('b', t)
  const r = new Receiver(b, 'b', silentLogger)
  const first: Batch = { from: 'a', to: 'b', lane: 2, after: -1, through: 2, items: [msg(1, 'm1'), msg(2, 'm2')] }
  const second: Batch = { from: 'a', to: 'b', lane: 2, after: 2, through: 4, items: [msg(3, 'm3'), msg(4, 'm4')] }
  // Pipelined: the first batch was lost, the second arrives.
  const refused = await send(r, second)
  t.same(refused, { ok: false, code: ReplCode.POSITION, message: refused.ok ? '' : refused.message, position: -1 }, 'refused with the position held')
  t.equal((await all(b)).length, 0, 'nothing of the later batch applied')
  t.same(await send(r, first), { ok: true, position: 2 })
  t.same(await send(r, second), { ok: true, position: 4 })
  // A retry of an applied batch is refused, never applied twice.
  const retry = await send(r, first)
  t.equal(retry.ok, false)
  t.equal(retry.ok ? 0 : retry.position, 4, 'the answer tells the sender where to continue')
  t.same((await all(b)).map((e) => e.payload.toString()), ['m1', 'm2', 'm3', 'm4'], 'each once, in order')
  const e = (await all(b))[0] as LedgerEntry
  t.equal(e.entryId, 0, 'entry ids are the receiver\'s own')
  t.equal(e.props.originSite, 'a')
  t.equal(e.props.originEntryId, 1)
  t.same(e.props.replicatedVia, ['a'])
  t.equal(e.publishTime, 1001, 'publish time of the origin')
})

t.test('protocol - dedup is by link position only: equal producer sequence ids from two origins both arrive (apache/pulsar#23697)', async (t) => {
  const c = await ledger('c', t)
  const r = new Receiver(c, 'c', silentLogger)
  t.same(await send(r, { from: 'a', to: 'c', lane: 2, after: -1, through: 1, items: [msg(1, 'from-a', { producerId: 'p', producerSeq: 7 })] }), { ok: true, position: 1 })
  t.same(await send(r, { from: 'b', to: 'c', lane: 2, after: -1, through: 1, items: [msg(1, 'from-b', { producerId: 'p', producerSeq: 7 })] }), { ok: true, position: 1 })
  t.same((await all(c)).map((e) => e.payload.toString()), ['from-a', 'from-b'])
  t.equal(positionOf(c.getMeta(REPL_IN_SPACE, 'a')), 1)
  t.equal(positionOf(c.getMeta(REPL_IN_SPACE, 'b')), 1)
})

t.test('protocol - an entry never returns to a site it passed (loop prevention)', async (t) => {
  const a = await ledger('a', t)
  const r = new Receiver(a, 'a', silentLogger)
  t.same(await send(r, { from: 'b', to: 'a', lane: 2, after: -1, through: 2, items: [msg(1, 'came-from-a', { replicatedVia: ['a'] }), msg(2, 'new')] }), { ok: true, position: 2 })
  t.same((await all(a)).map((e) => e.payload.toString()), ['new'])
})

t.test('protocol - all message properties travel, user properties in order', async (t) => {
  const b = await ledger('b', t)
  const r = new Receiver(b, 'b', silentLogger)
  const props = { key: 'k1', orderingKey: 'o1', priority: 9, deliverAt: 5000, expiresAt: 9_000_000_000_000, userProperties: [['z', '1'], ['a', '2'], ['z', '3']] as Array<[string, string]>, contentType: 'text/plain', payloadFormat: 1 as const, responseTopic: 'r/t', correlationData: Buffer.from([1, 2, 3]), qos: 1 as const }
  // Priority 9 travels on the high lane (store/origin-marks.ts).
  await send(r, { from: 'a', to: 'b', lane: 1, after: -1, through: 1, items: [msg(1, 'p', props)] })
  const e = (await all(b))[0] as LedgerEntry
  const { correlationData: _c, ...rest } = props
  t.match(e.props, rest)
  t.same(e.props.userProperties, props.userProperties, 'order and repeated names kept')
  t.same(Buffer.from(e.props.correlationData as Buffer), props.correlationData)
})

t.test('protocol - bad batches get a clear refusal, not a crash', async (t) => {
  const b = await ledger('b', t)
  const r = new Receiver(b, 'b', silentLogger)
  for (const junk of [Buffer.from('not cbor at all'), Buffer.alloc(0), encodeBatch({ from: 'a', to: 'zz', lane: 2, after: -1, through: 1, items: [] })]) {
    const a = decodeAnswer(await r.handle(junk))
    t.equal(a.ok, false)
    t.equal(a.ok ? '' : a.code, ReplCode.BAD_BATCH)
  }
})

/** Links between memory ledgers through a fake transport that can refuse or go silent. */
function fakeNet (): LinkTransport & { mode: 'ok' | 'silent' | 'disk-full', sites: Map<string, (d: Uint8Array) => Promise<Uint8Array>> } {
  const sites = new Map<string, (d: Uint8Array) => Promise<Uint8Array>>()
  const net = {
    mode: 'ok' as 'ok' | 'silent' | 'disk-full',
    sites,
    async request (site: string, data: Uint8Array): Promise<Uint8Array> {
      const h = sites.get(site)
      if (net.mode === 'silent' || h === undefined) throw new FerryError(ReplCode.UNAVAILABLE, 'no responders')
      if (net.mode === 'disk-full') {
        const { encodeAnswer } = await import('../../replicator/codec.js')
        return encodeAnswer({ ok: false, code: 'E_DISK_FULL', message: 'disk full', position: -1 })
      }
      return await h(data)
    },
    serve (site: string, h: (d: Uint8Array) => Promise<Uint8Array>) { sites.set(site, h); return () => { sites.delete(site) } },
    connected: () => true,
    async close () {}
  }
  return net
}

t.test('protocol - a refusing remote (full disk) pauses the link, which resumes by itself (apache/pulsar#26002)', async (t) => {
  const a = await ledger('a', t)
  const b = await ledger('b', t)
  const net = fakeNet()
  const plan = staticPlan({ 'public/default': ['a', 'b'] })
  const ra = await startReplicator({ siteId: 'a', ledger: a, transport: net, plan, logger: silentLogger, limits: TEST_LINK_LIMITS })
  const rb = await startReplicator({ siteId: 'b', ledger: b, transport: net, plan, logger: silentLogger, limits: TEST_LINK_LIMITS })
  t.teardown(async () => { await ra.close(); await rb.close() })
  net.mode = 'disk-full'
  for (let i = 0; i < 20; i++) await a.append({ topic: 'public/default/x', payload: Buffer.from(`m${i}`) })
  await waitFor(() => ra.stats().links[0]?.state === 'paused' && ra.stats().links[0]?.lastError?.code === 'E_DISK_FULL', { what: 'link paused with the remote\'s reason' })
  t.equal((await all(b)).length, 0)
  net.mode = 'ok'
  await waitFor(async () => (await all(b)).length === 20, { what: 'link resumed by itself' })
  t.same((await all(b)).map((e) => e.payload.toString()), Array.from({ length: 20 }, (_, i) => `m${i}`))
  net.mode = 'silent'
  for (let i = 20; i < 30; i++) await a.append({ topic: 'public/default/x', payload: Buffer.from(`m${i}`) })
  await waitFor(() => (ra.stats().links[0]?.failures ?? 0) > 2, { what: 'retries while the remote is silent' })
  net.mode = 'ok'
  await waitFor(async () => (await all(b)).length === 30, { what: 'everything arrives once the remote answers' })
  t.equal((await all(b)).length, 30, 'nothing twice')
  const l = ra.stats().links[0]
  await waitFor(() => ra.stats().links[0]?.lagEntries === 0, { what: 'lag back to 0' })
  t.ok((l?.entriesShipped ?? 0) >= 30)
})

t.test('protocol - a cancelled scheduled message is cancelled at the other sites too', async (t) => {
  const a = await ledger('a', t)
  const b = await ledger('b', t)
  const net = fakeNet()
  const plan = staticPlan({ 'public/default': ['a', 'b'] })
  const ra = await startReplicator({ siteId: 'a', ledger: a, transport: net, plan, logger: silentLogger, limits: TEST_LINK_LIMITS })
  const rb = await startReplicator({ siteId: 'b', ledger: b, transport: net, plan, logger: silentLogger, limits: TEST_LINK_LIMITS })
  t.teardown(async () => { await ra.close(); await rb.close() })
  const deliverAt = Date.now() + 3_600_000
  await a.append({ topic: 'public/default/x', payload: Buffer.from('filler') })
  const { entryId } = await a.append({ topic: 'public/default/x', payload: Buffer.from('later'), props: { deliverAt } })
  await a.append({ topic: 'public/default/x', payload: Buffer.from('kept'), props: { deliverAt } })
  await waitFor(async () => (await all(b)).length === 3, { what: 'scheduled messages reach b' })
  t.ok(await a.cancel('public/default/x', entryId))
  await a.append({ topic: 'public/default/x', payload: Buffer.from('after') })
  await waitFor(async () => (await all(b)).length === 4, { what: 'later traffic reaches b' })
  const atB = await all(b)
  const later = atB.find((e) => e.payload.toString() === 'later') as LedgerEntry
  const kept = atB.find((e) => e.payload.toString() === 'kept') as LedgerEntry
  await waitFor(() => b.isCancelled('public/default/x', later.entryId), { what: 'the cancel reached b' })
  t.notOk(b.isCancelled('public/default/x', kept.entryId), 'only that one')
  t.equal(b.delayedBetween('public/default/x', 0, Number.POSITIVE_INFINITY, 10).length, 1, 'b\'s delayed index no longer offers it')
  t.notOk(await b.cancel('public/default/x', later.entryId), 'cancelling again at b is a no-op')
})
