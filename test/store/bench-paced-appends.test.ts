/**
 * bench:store's paced appends (store/bench/paced-appends.ts): every issued append is stored durably and
 * answered, only those issued while `measured` count a latency (from the due time given), sinks are reused
 * rather than made per append, and a refused append makes drain() reject instead of hanging.
 */
import t from 'tap'
import { SimDisk } from '../../store/disk/sim-disk.js'
import { createFileLedger } from '../../store/index.js'
import { PacedAppends } from '../../store/bench/paced-appends.js'
import { policyByPrefix } from './helpers.js'

const TOPICS = ['bench/t0', 'bench/t1', 'bench/t2']

t.test('paced appends - all stored and answered, the measured ones counted from their due time', async (t) => {
  const l = createFileLedger({ siteId: 'test', dir: '/sim/paced', disk: new SimDisk(3).view(), segmentSizeBytes: 64 * 1024, policyOf: policyByPrefix(), retentionIntervalMs: 0, checkpointIntervalMs: 0 })
  await l.open()
  t.teardown(async () => { await l.close() })
  const p = new PacedAppends(l, TOPICS, Buffer.from('x'), 2, null)
  for (let i = 0; i < 6; i++) p.issue(performance.now())
  await p.drain()
  p.measured = true
  p.restart()
  const due = performance.now() - 1_000 // a second late already
  for (let i = 0; i < 9; i++) p.issue(due)
  await p.drain()
  const lat = p.sortedLatencies()
  t.equal(lat.length, 9, 'only the measured appends counted (the array grew past its capacity of 2)')
  t.ok((lat[0] as number) >= 1_000, 'latency counted from the due time')
  for (const topic of TOPICS) t.equal(l.topicInfo(topic)?.nextEntryId, 5, `${topic}: every append stored, topics in turn`)
})

t.test('paced appends - a refused append rejects drain', async (t) => {
  const l = createFileLedger({ siteId: 'test', dir: '/sim/paced2', disk: new SimDisk(4).view(), segmentSizeBytes: 64 * 1024, policyOf: policyByPrefix(), retentionIntervalMs: 0, checkpointIntervalMs: 0 })
  await l.open()
  await l.close()
  const p = new PacedAppends(l, TOPICS, Buffer.from('x'), 4, null)
  p.issue(performance.now())
  await t.rejects(p.drain())
})
