/**
 * Ledger.appendTo (the publish hot path: the outcome goes to the caller's
 * AppendSink, no promise per append). Pinned here, for the memory and the
 * file ledger: each sink hears exactly one outcome, `appended` never before
 * appendTo returns and never before the entry is durable (a held fdatasync
 * holds it) and readable, in append order, listeners first; refusals, a
 * closed ledger and a full disk reach `appendFailed` with their codes and
 * store nothing; a duplicate answers with the original's id; a sink that
 * appends again from inside its call is served.
 */
import t from 'tap'
import type { Test } from 'tap'
import { isFerryError } from '../../common/errors.js'
import { SimDisk } from '../../store/disk/sim-disk.js'
import { StoreCode, createFileLedger, createMemoryLedger, type AppendSink, type EntryId, type Ledger, type Lsn } from '../../store/index.js'
import { SyncGate } from '../helpers/sync-gate.js'
import { payload, policyByPrefix, waitFor } from './helpers.js'

/** A sink that records what it heard, in order. */
class Heard implements AppendSink {
  readonly appendedCalls: Array<{ entryId: EntryId, lsn: Lsn, duplicate: boolean }> = []
  readonly failedCalls: unknown[] = []
  get outcomes (): number { return this.appendedCalls.length + this.failedCalls.length }
  appended (entryId: EntryId, lsn: Lsn, duplicate: boolean): void { this.appendedCalls.push({ entryId, lsn, duplicate }) }
  appendFailed (err: unknown): void { this.failedCalls.push(err) }
}

const BASE = { policyOf: policyByPrefix(), retentionIntervalMs: 0, checkpointIntervalMs: 0 }

async function memoryLedger (t: Test): Promise<Ledger> {
  const l = createMemoryLedger({ siteId: 'test', ...BASE })
  await l.open()
  t.teardown(async () => { await l.close() })
  return l
}

async function fileLedger (t: Test, disk: SimDisk | SyncGate = new SimDisk(5)): Promise<Ledger> {
  const l = createFileLedger({ siteId: 'test', dir: '/sim/sink', disk: disk instanceof SimDisk ? disk.view() : disk, segmentSizeBytes: 64 * 1024, ...BASE })
  await l.open()
  t.teardown(async () => { await l.close() })
  return l
}

const kinds: Array<[string, (t: Test) => Promise<Ledger>]> = [['memory', memoryLedger], ['file', async (t) => await fileLedger(t)]]

for (const [kind, make] of kinds) {
  for (const topic of ['s/order', 'mem/order', 'async/order']) {
    t.test(`store - ${kind} - appendTo ${topic}: one appended each, after appendTo returns, in order, readable, listeners first`, async (t) => {
      const l = await make(t)
      const seen: string[] = []
      l.onAppend((_topic, id) => { seen.push(`listener ${id}`) })
      const sinks = Array.from({ length: 5 }, (_, i) => {
        const s = new Heard()
        const inner = s.appended.bind(s)
        s.appended = (entryId, lsn, duplicate) => {
          seen.push(`sink ${i}`)
          t.ok((l.topicInfo(topic)?.nextEntryId ?? 0) > entryId, 'the entry exists when its sink hears it')
          inner(entryId, lsn, duplicate)
        }
        return s
      })
      for (const [i, s] of sinks.entries()) l.appendTo({ topic, payload: payload(`m${i}`) }, s)
      t.ok(sinks.every((s) => s.outcomes === 0), 'no outcome before appendTo returns')
      await waitFor(() => sinks.every((s) => s.outcomes > 0), 'every outcome')
      t.same(sinks.map((s) => s.appendedCalls.map((c) => c.entryId)), [[0], [1], [2], [3], [4]], 'one appended each, with its entry id')
      t.ok(sinks.every((s) => s.failedCalls.length === 0), 'none failed')
      const lsns = sinks.map((s) => s.appendedCalls[0]?.lsn ?? -1)
      t.same(lsns, [...lsns].sort((a, b) => a - b), 'lsns grow in append order')
      t.equal(seen.indexOf('sink 0') > seen.lastIndexOf('listener 0'), true, 'the listener heard before the sinks')
      t.same(seen.filter((s) => s.startsWith('sink')), ['sink 0', 'sink 1', 'sink 2', 'sink 3', 'sink 4'], 'sinks in append order')
      t.same((await l.read(topic, 0, { maxEntries: 10 })).map((e) => e.payload.toString()), ['m0', 'm1', 'm2', 'm3', 'm4'])
    })
  }

  t.test(`store - ${kind} - appendTo refusals and a closed ledger reach appendFailed with their codes, nothing stored`, async (t) => {
    const l = await make(t)
    const notBytes = new Heard()
    l.appendTo({ topic: 's/r', payload: 'text' as unknown as Buffer }, notBytes)
    const tooLarge = new Heard()
    l.appendTo({ topic: 's/r', payload: Buffer.alloc(64 * 1024 * 1024) }, tooLarge)
    const memMeta = new Heard()
    l.appendTo({ topic: 'mem/r', payload: payload('x'), meta: [{ space: 'mqtt-in', key: 'k', value: 1 }] }, memMeta)
    t.match(notBytes.failedCalls, [{ code: StoreCode.BAD_ARGUMENT }], 'not bytes: failed, before appendTo returned')
    t.match(tooLarge.failedCalls, [{ code: StoreCode.RECORD_TOO_LARGE }])
    t.match(memMeta.failedCalls, [{ code: StoreCode.BAD_ARGUMENT }])
    t.equal(l.topicInfo('s/r'), undefined, 'nothing stored')
    await l.close()
    const closed = new Heard()
    l.appendTo({ topic: 's/r', payload: payload('late') }, closed)
    t.match(closed.failedCalls, [{ code: StoreCode.STORE_CLOSED }])
    t.ok([notBytes, tooLarge, memMeta, closed].every((s) => s.outcomes === 1 && s.appendedCalls.length === 0), 'one outcome each, never appended')
  })

  t.test(`store - ${kind} - appendTo of a duplicate answers with the original's id, once`, async (t) => {
    const l = await make(t)
    const first = new Heard()
    l.appendTo({ topic: 's/d', payload: payload('one'), props: { producerId: 'p', producerSeq: 1 } }, first)
    const again = new Heard()
    l.appendTo({ topic: 's/d', payload: payload('one again'), props: { producerId: 'p', producerSeq: 1 } }, again)
    await waitFor(() => first.outcomes > 0 && again.outcomes > 0, 'both outcomes')
    t.match(first.appendedCalls, [{ entryId: 0, duplicate: false }])
    t.match(again.appendedCalls, [{ entryId: 0, duplicate: true }], 'the original id, marked duplicate')
    t.equal(again.appendedCalls[0]?.lsn, first.appendedCalls[0]?.lsn)
    t.equal(l.topicInfo('s/d')?.nextEntryId, 1, 'nothing new stored')
  })

  t.test(`store - ${kind} - a sink that appends again from inside appended is served (memory and sync topics interleaved)`, async (t) => {
    const l = await make(t)
    const heard: string[] = []
    let left = 6
    const chain: AppendSink = {
      appended (entryId) {
        heard.push(`${entryId}`)
        left--
        if (left > 0) l.appendTo({ topic: left % 2 === 0 ? 'mem/c' : 's/c', payload: payload(`c${left}`) }, chain)
      },
      appendFailed (err) { heard.push(`failed ${String(err)}`) }
    }
    l.appendTo({ topic: 's/c', payload: payload('c6') }, chain)
    await waitFor(() => left === 0 || heard.some((h) => h.startsWith('failed')), 'the chain ends')
    t.same(heard, ['0', '1', '0', '2', '1', '3'], 'each append of the chain heard once (s/c 0, 1, mem/c 0, s/c 2, mem/c 1, s/c 3)')
  })
}

t.test('store - file - appendTo: appended only after the fdatasync; waiting appends of one group all heard once it is done', async (t) => {
  const gate = new SyncGate(new SimDisk(9).view())
  const l = await fileLedger(t, gate)
  gate.hold = true
  const sinks = Array.from({ length: 8 }, () => new Heard())
  for (const [i, s] of sinks.entries()) l.appendTo({ topic: 's/g', payload: payload(`g${i}`) }, s)
  await waitFor(() => gate.waiting > 0, 'the group waits in its fdatasync')
  await new Promise<void>((resolve) => { setImmediate(resolve) })
  t.ok(sinks.every((s) => s.outcomes === 0), 'no outcome while the fdatasync is held')
  gate.release()
  await waitFor(() => sinks.every((s) => s.outcomes > 0), 'every outcome')
  t.same(sinks.map((s) => s.appendedCalls.map((c) => c.entryId)), [[0], [1], [2], [3], [4], [5], [6], [7]])
})

t.test('store - file - appendTo on a full disk: every waiting append fails with E_DISK_FULL, none is appended, nothing is left behind', async (t) => {
  const disk = new SimDisk(13)
  const l = await fileLedger(t, disk)
  const before = new Heard()
  l.appendTo({ topic: 's/f', payload: payload('before') }, before)
  await waitFor(() => before.outcomes > 0, 'the first outcome')
  t.equal(before.appendedCalls.length, 1)
  disk.setFreeBytes(0)
  const sinks = Array.from({ length: 4 }, () => new Heard())
  for (const [i, s] of sinks.entries()) l.appendTo({ topic: 's/f', payload: Buffer.alloc(500, i) }, s)
  await waitFor(() => sinks.every((s) => s.outcomes > 0), 'every outcome')
  t.ok(sinks.every((s) => s.outcomes === 1 && s.appendedCalls.length === 0), 'one outcome each, never appended')
  t.ok(sinks.every((s) => isFerryError(s.failedCalls[0], StoreCode.DISK_FULL)), 'E_DISK_FULL')
  await waitFor(() => !l.stats().fenced, 'ledger unfenced')
  disk.setFreeBytes(Number.POSITIVE_INFINITY)
  const after = new Heard()
  l.appendTo({ topic: 's/f', payload: payload('after') }, after)
  await waitFor(() => after.outcomes > 0, 'the outcome after')
  t.match(after.appendedCalls, [{ entryId: 1 }], 'the failed appends left no entry behind')
  t.same((await l.read('s/f', 0, { maxEntries: 10 })).map((e) => e.payload.toString()), ['before', 'after'])
})
