const root = process.argv[2]
const { createFileLedger, plainRecordOf } = await import(`${root}/dist/store/index.js`)
const { MessageEncoder } = await import(`${root}/dist/store/message-encoder.js`)
const { mkdtempSync, rmSync } = await import('node:fs')
const dir = mkdtempSync('/tmp/s15-rb-')
const l = createFileLedger({ siteId: 'b', dir, policyOf: () => ({ durability: 'sync', retentionMs: -1, retentionBytes: -1, ttlMs: 0 }), checkpointIntervalMs: 0, retentionIntervalMs: 0 })
await l.open()
const enc = new MessageEncoder()
const N = 2000, ROUNDS = 40
let lsn = 1
const times = []
for (let r = 0; r < ROUNDS; r++) {
  const ins = []
  for (let i = 0; i < N; i++) {
    const body = Buffer.from(enc.encode(3, r * N + i, Date.now(), Buffer.alloc(128, 7), { key: 'k' + i }))
    ins.push({ topic: 't/x', record: plainRecordOf(body, 0, body.length), originSite: 'a', replicatedVia: ['a'], replicatedLsn: lsn++ })
  }
  await l.appendReplicated(ins)
  const t0 = process.hrtime.bigint()
  const es = await l.read('t/x', r * N, { maxEntries: N, maxBytes: 64 << 20 })
  const dt = Number(process.hrtime.bigint() - t0) / es.length
  if (es.length !== N) throw new Error('short read ' + es.length)
  if (r >= 5) times.push(dt)
}
times.sort((a, b) => a - b)
console.log(root, 'ns per entry read (median of rounds):', times[times.length >> 1].toFixed(0))
await l.close(); rmSync(dir, { recursive: true, force: true })
