/**
 * Compressed batches on a link (replicator/codec.ts, link.ts, receiver.ts;
 * REPL_COMPRESS_BATCH_BYTES_MIN): deflated on the thread pool, sent in
 * dispatch order, inflated by the receiver in its turn and bounded there;
 * a bad compressed batch is refused, never applied.
 */
import t from 'tap'
import { deflateRawSync } from 'node:zlib'
import { Encoder } from 'cbor-x'
import { createMemoryLedger } from '../../store/index.js'
import { silentLogger } from '../../common/log.js'
import { Receiver } from '../../replicator/receiver.js'
import { batchOf, decodeAnswer, decodeBatchHead, encodeBatch, encodeBatchCompressed, type Batch, type WireItem } from '../../replicator/codec.js'
import { ReplCode, ReplLimits, connectNats, startReplicator, staticPlan, type LinkLimits } from '../../replicator/index.js'
import { startNatsSupercluster } from '../helpers/services.js'
import { TEST_LINK_LIMITS } from '../helpers/network.js'
import { startTestGateway, type Teardownable, type TestGateway } from '../helpers/gateway.js'
import { waitFor } from '../helpers/wait.js'

const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false })
const TOPIC = 'public/default/zip'

function msg (lsn: number): WireItem {
  // Compressible, like most telemetry: repeated JSON field names.
  const payload = Buffer.from(JSON.stringify({ sensor: 'temperature', unit: 'celsius', site: 'edge-7', seq: lsn, value: 20 + (lsn % 7) }))
  return { kind: 'message', lsn, topic: 'public/default/x', entryId: lsn, publishTime: 1000 + lsn, payload, props: { userProperties: [['k', 'v']] } }
}

const batchOfN = (after: number, n: number): Batch => ({ from: 'a', to: 'b', lane: 2, after, through: after + n, items: Array.from({ length: n }, (_, i) => msg(after + 1 + i)) })

t.test('compression - a batch above the threshold travels deflated and decodes to the same batch', async (t) => {
  const b = batchOfN(-1, 200)
  const plain = encodeBatch(b)
  const z = await encodeBatchCompressed(b, 1024)
  t.ok(z.length * 3 < plain.length, `deflated ${z.length} B vs plain ${plain.length} B`)
  const head = decodeBatchHead(z)
  t.ok(head.z !== undefined && head.items === undefined, 'the header is plain, the items compressed')
  t.same({ ...head, z: undefined, n: undefined }, { from: 'a', to: 'b', lane: 2, after: -1, through: 199, topics: ['public/default/x'], z: undefined, n: undefined })
  t.same(await batchOf(head), await batchOf(decodeBatchHead(plain)), 'same batch as the plain encoding')
  const small = await encodeBatchCompressed(batchOfN(-1, 1), 1024)
  t.same(small, encodeBatch(batchOfN(-1, 1)), 'a batch under the threshold goes plain')
})

t.test('compression - the receiver refuses bad compressed batches and applies nothing', async (t) => {
  const l = createMemoryLedger({ siteId: 'b', policyOf: () => ({ durability: 'memory', retentionMs: -1, retentionBytes: -1, ttlMs: 0 }), retentionIntervalMs: 0, checkpointIntervalMs: 0 })
  await l.open()
  t.teardown(async () => { await l.close() })
  const r = new Receiver(l, 'b', silentLogger)
  const head = { v: 1, from: 'a', to: 'b', lane: 2, after: -1, through: 0 }
  // A zip bomb: 64 MiB of zeros in a few KB, more than a receiver inflates.
  const bomb = deflateRawSync(Buffer.alloc(64 * 1024 * 1024))
  const cases: Array<[string, Buffer]> = [
    ['inflates past the receive bound', encoder.encode({ ...head, z: bomb, n: 1000 })],
    ['not deflate data', encoder.encode({ ...head, z: Buffer.from('not deflate at all'), n: 10 })],
    ['another length than announced', encoder.encode({ ...head, z: deflateRawSync(encoder.encode([['m', 0, 'public/default/x', 0, 1, Buffer.from('p'), {}]])), n: 3 })],
    ['announced length past the bound', encoder.encode({ ...head, z: Buffer.from([1]), n: ReplLimits.REPL_RECEIVE_BATCH_BYTES_MAX + 1 })]
  ]
  for (const [why, data] of cases) {
    const a = decodeAnswer(await r.handle(data))
    t.match(a, { ok: false, code: ReplCode.BAD_BATCH }, `refused: ${why}`)
  }
  t.equal((await l.read('public/default/x', 0, { maxEntries: 10 })).length, 0, 'nothing applied')
  // A good compressed batch after the bad ones is applied.
  const good = decodeAnswer(await r.handle(await encodeBatchCompressed(batchOfN(-1, 50), 256)))
  t.same(good, { ok: true, position: 49 })
  t.equal((await l.read('public/default/x', 0, { maxEntries: 100 })).length, 50)
})

async function site (t: Teardownable, id: string, natsUrl: string, limits: Partial<LinkLimits>): Promise<{ gw: TestGateway, replicator: Awaited<ReturnType<typeof startReplicator>> }> {
  const gw = await startTestGateway(t, { siteId: id })
  const transport = await connectNats({ servers: natsUrl, network: 'zip', name: `ferry-${id}` })
  const replicator = await startReplicator({ siteId: id, ledger: gw.gateway.ledger, transport, plan: staticPlan({ 'public/default': ['a', 'b'] }), logger: silentLogger, limits })
  t.teardown(async () => { await replicator.close(); await transport.close() })
  return { gw, replicator }
}

t.test('compression - a real link with compression on ships every message once, in order, in fewer bytes', async (t) => {
  const nats = await startNatsSupercluster(t, ['a', 'b'])
  const limits: Partial<LinkLimits> = { ...TEST_LINK_LIMITS, REPL_BATCH_ENTRIES_MAX: 50, REPL_COMPRESS_BATCH_BYTES_MIN: 256 }
  const a = await site(t, 'a', (nats.regions.a as { url: string }).url, limits)
  const b = await site(t, 'b', (nats.regions.b as { url: string }).url, limits)
  const N = 600
  let payloadBytes = 0
  for (let i = 0; i < N; i += 60) {
    await Promise.all(Array.from({ length: 60 }, async (_, j) => {
      const payload = Buffer.from(JSON.stringify({ sensor: 'temperature', unit: 'celsius', site: 'edge-7', seq: i + j }))
      payloadBytes += payload.length
      await a.gw.gateway.dispatcher.publish({ topic: TOPIC, payload })
    }))
  }
  await waitFor(async () => (await b.gw.gateway.ledger.read(TOPIC, 0, { maxEntries: N + 10 })).length >= N, { timeoutMs: 60_000, what: 'every message at b' })
  const got = (await b.gw.gateway.ledger.read(TOPIC, 0, { maxEntries: N + 10 })).map((e) => (JSON.parse(e.payload.toString()) as { seq: number }).seq)
  const sent = (await a.gw.gateway.ledger.read(TOPIC, 0, { maxEntries: N + 10 })).map((e) => (JSON.parse(e.payload.toString()) as { seq: number }).seq)
  t.same(got, sent, 'once each, in the order of the origin')
  const link = a.replicator.stats().links.find((l) => l.site === 'b')
  t.ok(link !== undefined && link.bytesShipped > 0 && link.bytesShipped < payloadBytes, `wire bytes ${link?.bytesShipped} below payload bytes ${payloadBytes}`)
})
