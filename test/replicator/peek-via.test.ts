import t from 'tap'
import { RecordKind, decodeRecord, encodeRecord, peekMessageWithPayload, peekViaIncludes, type LogRecord } from '../../store/records.js'
import type { MessageProps } from '../../store/index.js'

const longSite = 'site-with-a-rather-long-name-0123456789'
const cases: Array<{ name: string, props: MessageProps, meta?: boolean }> = [
  { name: 'no props', props: {} },
  { name: 'priority only', props: { priority: 9 } },
  { name: 'replicated from a', props: { originSite: 'a', originEntryId: 7, replicatedVia: ['a'], replicatedLsn: 123456789 } },
  { name: 'through a hub', props: { originSite: 'a', originEntryId: 2 ** 40, replicatedVia: ['a', 'hub'], replicatedLsn: 5 } },
  { name: 'a long site id', props: { originSite: longSite, replicatedVia: [longSite, 'b'] } },
  { name: 'everything before via', props: { key: 'k', orderingKey: 'o', priority: 3, deliverAt: 1.5e12, expiresAt: Date.now(), userProperties: [['z', '1'], ['a', 'hub']], producerId: 'p', producerSeq: 9, contentType: 'x/y', payloadFormat: 1, responseTopic: 'r', correlationData: Buffer.from([1, 2, 3]), qos: 1, replicatedVia: ['c'] } },
  { name: 'a user property that names the site is not a via', props: { userProperties: [['V', 'a'], ['a', 'a']], responseTopic: 'a' } },
  { name: 'with meta puts (falls back to a decode)', props: { replicatedVia: ['a'] }, meta: true }
]

t.test('records - peekViaIncludes agrees with a full decode, for every property shape', async (t) => {
  for (const c of cases) {
    const rec: LogRecord = { kind: RecordKind.message, topicId: 3, entryId: 41, publishTime: Date.now(), payload: Buffer.from('payload'), props: c.props, ...(c.meta === true ? { meta: [{ space: 's', key: 'k', value: 1 }] } : {}) }
    const body = encodeRecord(rec)
    // Framed in a larger buffer, as the log tail sees it.
    const buf = Buffer.concat([Buffer.from([9, 9, 9]), body, Buffer.from([7])])
    const decoded = decodeRecord(body)
    const via = decoded.kind === RecordKind.message ? decoded.props.replicatedVia ?? [] : []
    for (const site of ['a', 'b', 'c', 'hub', longSite, 'z']) {
      const peeked = peekViaIncludes(buf, 3, 3 + body.length, Buffer.from(site))
      if (c.meta === true) t.equal(peeked, undefined, `${c.name}: not of the usual shape`)
      else t.equal(peeked, via.includes(site), `${c.name}: ${site}`)
    }
    const whole = peekMessageWithPayload(buf, 3, 3 + body.length)
    if (c.meta === true) t.equal(whole, undefined)
    else t.same(whole, decoded, `${c.name}: read without the decoder, the same record`)
  }
})

t.test('records - peekViaIncludes refuses truncated bytes instead of reading past the record', async (t) => {
  const body = encodeRecord({ kind: RecordKind.message, topicId: 1, entryId: 1, publishTime: 1, payload: Buffer.from('x'), props: { userProperties: [['k', 'v']], replicatedVia: ['a', 'b'] } })
  for (let cut = 3; cut < body.length; cut++) {
    const r = peekViaIncludes(body, 0, cut, Buffer.from('b'))
    t.not(r, true, `cut at ${cut}: never a false skip`)
  }
})
