/**
 * Local message records (FileLedger.submit) are CBOR written by hand into a
 * shared chunk (store/message-encoder.ts), as replicated ones are, instead of
 * the generic encoder (cbor-x). The bytes differ (a props map's head is its
 * shortest form) but decode to the same record. Pinned here: a ledger whose
 * log holds records of the generic encoder (every ledger written before)
 * opens with every entry and its props, takes new appends, and after a power
 * loss holds old and new alike; new local records are the hand encoder's.
 */
import t from 'tap'
import { SimDisk } from '../../store/disk/sim-disk.js'
import { createFileLedger, type Disk, type Ledger, type MessageProps } from '../../store/index.js'
import { FRAME_HEADER_BYTES, frameChecksum, writeFrameHeader } from '../../store/framing.js'
import { MessageEncoder } from '../../store/message-encoder.js'
import { RecordKind, encodeRecord } from '../../store/records.js'
import { SEGMENT_HEADER_BYTES, encodeSegmentHeader, segmentName } from '../../store/segment.js'
import { policyByPrefix } from './helpers.js'

const DIR = '/w'
const TOPIC = 'tenant/ns/old'
const PUBLISH_TIME = 1_700_000_000_123

const PROPS: MessageProps[] = [
  {},
  { key: 'k', qos: 1 },
  { userProperties: [['a', 'b'], ['ключ', 'значение']], contentType: 'text/plain', correlationData: Buffer.from([0, 1, 255]) },
  { priority: 3, deliverAt: PUBLISH_TIME + 0.5, expiresAt: PUBLISH_TIME + 60_000, orderingKey: 'ü€😀' }
]

function ledger (disk: Disk): Ledger {
  return createFileLedger({ siteId: 's', dir: DIR, disk, policyOf: policyByPrefix(), checkpointIntervalMs: 0, retentionIntervalMs: 0 })
}

/** Segment 1 as a ledger of before wrote it: the topic record (id 1), then one message per PROPS, all by encodeRecord. */
async function writeOldLog (disk: Disk): Promise<void> {
  await disk.mkdirp(DIR)
  const bodies = [
    encodeRecord({ kind: RecordKind.topic, topicId: 1, name: TOPIC }),
    ...PROPS.map((props, i) => encodeRecord({ kind: RecordKind.message, topicId: 1, entryId: i, publishTime: PUBLISH_TIME + i, payload: Buffer.from(`old ${i}`), props }))
  ]
  const frames: Buffer[] = [encodeSegmentHeader(1)]
  let offset = SEGMENT_HEADER_BYTES
  for (const body of bodies) {
    const frame = Buffer.alloc(FRAME_HEADER_BYTES + body.length)
    writeFrameHeader(frame, 0, body.length, frameChecksum(1, offset, body))
    body.copy(frame, FRAME_HEADER_BYTES)
    frames.push(frame)
    offset += frame.length
  }
  const f = await disk.open(`${DIR}/${segmentName(1)}`, true)
  await f.write(Buffer.concat(frames), 0)
  await f.datasync()
  await f.close()
  await disk.syncDir(DIR)
}

async function entries (l: Ledger, topic: string): Promise<Array<{ payload: string, props: MessageProps, publishTime: number }>> {
  return (await l.read(topic, 0, { maxEntries: 1000 })).map((e) => ({ payload: e.payload.toString(), props: e.props, publishTime: e.publishTime }))
}

t.test('store - local encode - a log of generic-encoder records opens, takes hand-encoded appends, and keeps both after a power loss', async (t) => {
  const sim = new SimDisk(41)
  await writeOldLog(sim.view())
  const l = ledger(sim.view())
  await l.open()
  const old = PROPS.map((props, i) => ({ payload: `old ${i}`, props, publishTime: PUBLISH_TIME + i }))
  t.same(await entries(l, TOPIC), old, 'every old entry, props included')
  for (const [i, props] of PROPS.entries()) await l.append({ topic: TOPIC, payload: Buffer.from(`new ${i}`), props })
  const got = await entries(l, TOPIC)
  t.same(got.slice(old.length).map((e) => [e.payload, e.props]), PROPS.map((props, i) => [`new ${i}`, props]), 'new entries')
  sim.powerLoss()
  const again = ledger(sim.view())
  await again.open()
  t.same(await entries(again, TOPIC), got, 'old and new entries after a power loss')
  await again.close()
})

t.test('store - local encode - a local message record is the hand encoder\'s bytes', async (t) => {
  const sim = new SimDisk(42)
  const l = ledger(sim.view())
  await l.open()
  const props: MessageProps = { key: 'k', qos: 1 }
  const payload = Buffer.from('hand-written')
  await l.append({ topic: 't', payload, props })
  const [e] = await l.read('t', 0, { maxEntries: 1 })
  if (e === undefined) throw new Error('the entry is missing')
  await l.close()
  const f = await sim.view().open(`${DIR}/${segmentName(1)}`, false)
  const log = await f.read(0, await f.size())
  await f.close()
  const topicId = 1 // the first topic
  const byHand = Buffer.from(new MessageEncoder().encode(topicId, e.entryId, e.publishTime, payload, props))
  const generic = encodeRecord({ kind: RecordKind.message, topicId, entryId: e.entryId, publishTime: e.publishTime, payload, props })
  t.not(Buffer.compare(byHand, generic), 0, 'the two encoders differ for this record (a props map head)')
  t.ok(log.indexOf(byHand) > 0, 'the log holds the hand-encoded record')
  t.equal(log.indexOf(generic), -1, 'and not the generic one')
})
