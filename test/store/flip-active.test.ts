/**
 * SIGKILL and flip a byte: a real child process appends and acknowledges
 * (test/store/crash-child.ts) until it is killed with SIGKILL; then, for many
 * positions p of the active (last) segment, a copy of that crash image gets
 * one byte changed at p and is opened. The promise at every p: at most the
 * damaged record is lost, every other acknowledged append and ack is
 * readable, and no acknowledged entry id is given out again.
 */
import t from 'tap'
import { access, mkdtemp, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runAndKill, ledgerAt } from './crash-run.js'

const dirs: string[] = []
t.teardown(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }) })

/**
 * The per-position copies live on tmpfs when there is one: each open and
 * close fsyncs several times, and ~130 of them on a busy disk take tens of
 * seconds; on tmpfs they are real files and real syscalls, only fast.
 */
const COPY_ROOT = await access('/dev/shm').then(() => '/dev/shm', () => tmpdir())

/** Positions tried in the active segment's records (plus its header and the zeros after the log). */
const POSITIONS_IN_DATA = 100


/** End of the records in a segment file (preallocated zeros may follow). */
function dataEnd (b: Buffer): number {
  let at = 32
  while (at + 8 <= b.length) {
    const len = b.readUInt32LE(at)
    if (len === 0 || at + 8 + len > b.length) break
    at += 8 + len
  }
  return at
}

t.test('store - flip a byte in the active segment after SIGKILL: at most the damaged record is lost, no entry id reused', async (t) => {
  const image = await mkdtemp(join(tmpdir(), 'ferry-flip-'))
  dirs.push(image)
  const acked = await runAndKill(image, 2000)
  const segs = (await readdir(image)).filter((n) => /^seg-\d+\.log$/.test(n)).sort()
  const active = segs[segs.length - 1] as string
  t.ok(segs.length >= 2, `${segs.length} segments, active ${active}`)
  const fh = await open(join(image, active), 'r')
  const bytes = Buffer.alloc((await stat(join(image, active))).size)
  await fh.read(bytes, 0, bytes.length, 0)
  await fh.close()
  const end = dataEnd(bytes)
  const positions = new Set<number>([0, 5, 12, 28, 31])
  for (let i = 0; i < POSITIONS_IN_DATA; i++) positions.add(32 + Math.floor((i * (end - 32)) / POSITIONS_IN_DATA) + (i % 7))
  if (end < bytes.length) { positions.add(end); positions.add(Math.min(bytes.length - 1, end + 100)) }

  // The crash image in memory: each position writes a fresh copy (faster than copying the directory).
  const files = new Map<string, Buffer>()
  for (const n of await readdir(image)) files.set(n, await readFile(join(image, n)))
  let quarantined = 0
  const broken: string[] = []
  for (const p of [...positions].filter((x) => x < bytes.length).sort((a, b) => a - b)) {
    const dir = await mkdtemp(join(COPY_ROOT, 'ferry-flip-at-'))
    dirs.push(dir)
    for (const [n, b] of files) {
      if (n !== active) { await writeFile(join(dir, n), b); continue }
      const flipped = Buffer.from(b)
      flipped[p] = (flipped[p] as number) ^ (1 << (p % 8))
      await writeFile(join(dir, n), flipped)
    }
    const l = ledgerAt(dir)
    try {
      const report = await l.open()
      if ((report.quarantinedRecords ?? 0) > 0) quarantined++
      let lost = 0
      for (const [topic, m] of acked.appends) {
        const got = new Map<number, string>()
        for (let from = 0; ;) {
          const batch = await l.read(topic, from, { maxEntries: 10_000 })
          if (batch.length === 0) break
          for (const e of batch) got.set(e.entryId, e.payload.toString())
          from = (batch[batch.length - 1]?.entryId ?? from) + 1
        }
        for (const [id, payload] of m) if (got.get(id) !== payload) lost++
      }
      for (const [topic, s] of acked.acks) {
        const c = l.cursors(topic).find((x) => x.subscription === 'sub')
        for (const id of s) if (c?.isAcked(id) !== true) lost++
      }
      if (lost > 1) broken.push(`p=${p}: ${lost} acknowledged records lost`)
      const topics = [...acked.appends.keys()]
      const after = await l.appendMany(topics.map((topic) => ({ topic, payload: Buffer.from('after') })))
      for (const r of after) {
        const m = acked.appends.get(r.topic) as Map<number, string>
        if (r.entryId <= Math.max(...m.keys())) broken.push(`p=${p}: ${r.topic}#${r.entryId} given out again`)
      }
    } catch (err) {
      broken.push(`p=${p}: ${String(err)}`)
    } finally {
      await l.close().catch(() => {})
    }
    await rm(dir, { recursive: true, force: true })
  }
  t.same(broken, [], `${positions.size} positions of ${active} (${end} bytes of records): at most the damaged record lost each time`)
  t.ok(quarantined > positions.size / 2, `most flips quarantined a record instead of cutting the log (${quarantined})`)
})
