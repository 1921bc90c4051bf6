/**
 * Real crash tests: a child process appends and acks in a loop; we SIGKILL it
 * mid-way, reopen the directory and check every acknowledged append and ack.
 */
import t from 'tap'
import { mkdtemp, rm, readdir, open, appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runAndKill, ledgerAt, type Acked } from './crash-run.js'
import { StoreCode, type Ledger } from '../../store/index.js'
import { isFerryError } from '../../common/errors.js'

const dirs: string[] = []
t.teardown(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }) })


async function check (t: { fail: (m: string) => void, ok: (c: boolean, m: string) => void }, l: Ledger, acked: Acked): Promise<void> {
  let appends = 0
  let acks = 0
  for (const [topic, m] of acked.appends) {
    for (const [id, payload] of m) {
      const e = await l.readOne(topic, id)
      if (e?.payload.toString() !== payload) t.fail(`${topic}#${id} lost or changed`)
      appends++
    }
  }
  for (const [topic, s] of acked.acks) {
    const c = l.cursors(topic).find((x) => x.subscription === 'sub')
    for (const id of s) {
      if (c?.isAcked(id) !== true) t.fail(`ack ${topic}#${id} lost`)
      acks++
    }
  }
  t.ok(appends > 0 && acks > 0, `${appends} acknowledged appends and ${acks} acks all survived`)
}

t.test('store - crash - SIGKILL mid-way loses no acknowledged append or ack', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-crash-'))
  dirs.push(dir)
  const first = await runAndKill(dir, 1500)
  let l = ledgerAt(dir)
  const report = await l.open()
  t.ok(report.recordsReplayed >= 0 && report.segments >= 2, `recovered ${report.segments} segments in ${report.durationMs.toFixed(1)} ms`)
  await check(t, l, first)
  await l.close()

  // A second run on the same directory, killed again, then a torn tail added by hand.
  const second = await runAndKill(dir, 600)
  for (const [topic, m] of second.appends) for (const [id, p] of m) first.appends.get(topic)?.set(id, p)
  for (const [topic, s] of second.acks) for (const id of s) first.acks.get(topic)?.add(id)
  const segs = (await readdir(dir)).filter((n) => n.startsWith('seg-')).sort()
  await appendFile(join(dir, segs[segs.length - 1] as string), Buffer.from([200, 0, 0, 0, 9, 9, 9, 9, 1, 2, 3]))
  l = ledgerAt(dir)
  const r2 = await l.open()
  t.ok(r2.truncatedBytes >= 11, `torn tail cut (${r2.truncatedBytes} bytes)`)
  await check(t, l, first)
  await l.close()
})

t.test('store - crash - a flipped byte in a sealed segment is reported; repair quarantines that record and keeps the rest', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-crash-'))
  dirs.push(dir)
  const acked = await runAndKill(dir, 1500, 0) // no checkpoint: the damage lies after the replay point
  const segs = (await readdir(dir)).filter((n) => n.startsWith('seg-')).sort()
  t.ok(segs.length >= 2, `${segs.length} segments`)
  // Damage the last sealed segment.
  const victim = join(dir, segs[segs.length - 2] as string)
  const fh = await open(victim, 'r+')
  const at = 32 + 8 + 3 // inside the first record's payload
  const b = Buffer.alloc(1)
  await fh.read(b, 0, 1, at)
  b[0] = (b[0] as number) ^ 0xff
  await fh.write(b, 0, 1, at)
  await fh.close()
  const l = ledgerAt(dir)
  const err = await l.open().then(() => undefined, (e: unknown) => e)
  t.ok(isFerryError(err, StoreCode.STORE_CORRUPT), 'E_STORE_CORRUPT on open')
  t.match((err as { details?: { segment?: string } }).details?.segment, segs[segs.length - 2], 'names the segment')
  const repaired = ledgerAt(dir, true)
  const report = await repaired.open()
  t.equal(report.corruptRecords, 1, 'repair reports the damage')
  t.equal(report.quarantinedRecords, 1, 'one record quarantined')
  t.ok((await readdir(dir)).some((n) => n.startsWith(`${segs[segs.length - 2] as string}.damaged-`)), 'its bytes copied aside')
  // Every acknowledged append but at most the damaged record reads back, under its own id.
  let missing = 0
  for (const [topic, m] of acked.appends) {
    for (const [id, payload] of m) {
      const e = await repaired.readOne(topic, id)
      if (e?.payload.toString() !== payload) missing++
    }
  }
  t.ok(missing <= 1, `${missing} acknowledged append(s) lost (at most the damaged record)`)
  await repaired.close()
  const again = ledgerAt(dir)
  t.equal((await again.open()).corruptRecords, 0, 'known damage: a plain open succeeds afterwards')
  await again.close()
})
