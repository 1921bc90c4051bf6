/**
 * topology guardedLedger (active-passive write guard) over both append forms:
 * a refused topic is refused through appendTo as through append (the publish
 * hot path uses appendTo: a guard of append alone would let it through), and
 * an accepted appendTo is tracked in flight until its outcome.
 */
import t from 'tap'
import { FerryError } from '../../common/errors.js'
import { createMemoryLedger, type AppendSink, type EntryId } from '../../store/index.js'
import { guardedLedger } from '../../topology/index.js'
import { TopologyCode } from '../../topology/errors.js'
import { waitFor } from '../helpers/wait.js'

t.test('topology guarded ledger - appendTo of a refused topic fails with the refusal and stores nothing; an allowed one is tracked until durable', async (t) => {
  const raw = createMemoryLedger({ siteId: 'a', policyOf: () => ({ durability: 'sync', retentionMs: -1, retentionBytes: -1, ttlMs: 0 }), retentionIntervalMs: 0, checkpointIntervalMs: 0 })
  await raw.open()
  t.teardown(async () => { await raw.close() })
  const inFlight = new Set<Promise<unknown>>()
  const refuse = (topic: string): FerryError | undefined => topic.startsWith('passive/') ? new FerryError(TopologyCode.NOT_PRIMARY, 'publish at its primary') : undefined
  const l = guardedLedger(raw, refuse, inFlight)
  const heard: Array<{ entryId: EntryId } | { err: unknown }> = []
  const sink: AppendSink = { appended (entryId) { heard.push({ entryId }) }, appendFailed (err) { heard.push({ err }) } }

  l.appendTo({ topic: 'passive/ns/a', payload: Buffer.from('no') }, sink)
  t.match(heard, [{ err: { code: TopologyCode.NOT_PRIMARY } }], 'refused, as append is')
  t.equal(raw.topicInfo('passive/ns/a'), undefined, 'nothing stored')

  l.appendTo({ topic: 'active/ns/a', payload: Buffer.from('yes') }, sink)
  t.equal(inFlight.size, 1, 'in flight until its outcome')
  await waitFor(() => heard.length === 2, { what: 'the outcome' })
  t.match(heard[1], { entryId: 0 })
  await waitFor(() => inFlight.size === 0, { what: 'no longer in flight' })
  await t.rejects(l.append({ topic: 'passive/ns/b', payload: Buffer.from('no') }), { code: TopologyCode.NOT_PRIMARY })
})
