/**
 * The receiving end of a link is exactly-once by origin across a SIGKILL in
 * the middle of pipelined batches: each batch is one submission
 * (Ledger.appendReplicated) and the link's position is raised by the very
 * records it covers (store/origin-marks.ts), so after a kill the site holds a
 * prefix of the sender's messages, each once, with the position at its end,
 * every acknowledged batch included; resuming from that position completes
 * the log without a duplicate or a gap.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createFileLedger, positionOf, REPL_IN_SPACE, type Ledger } from '../../store/index.js'
import { builtScript } from '../helpers/cli-build.js'

const here = dirname(fileURLToPath(import.meta.url))
const TOTAL = 30_000
const dirs: string[] = []
t.teardown(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }) })

/** Run the child; SIGKILL it once `killAfter` answers came (never when undefined). Returns the highest acknowledged lsn. */
async function run (dir: string, killAfter?: number): Promise<{ acked: number, done: boolean }> {
  const child = spawn(process.execPath, [builtScript(join(here, 'receiver-crash-child.ts')), dir, String(TOTAL)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let acked = -1
  let answers = 0
  let done = false
  let rest = ''
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject)
    child.on('exit', () => { resolve() })
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n')
      rest = lines.pop() ?? ''
      for (const line of lines) {
        if (line === 'DONE') done = true
        const [kind, n] = line.split(' ')
        if (kind !== 'A') continue
        acked = Math.max(acked, Number(n))
        if (++answers === killAfter) child.kill('SIGKILL')
      }
    })
  })
  return { acked, done }
}

/** Problems with what the site holds: messages 1..held (meta records excepted), each once, in order, the position at held. */
async function check (l: Ledger, acked: number): Promise<{ held: number, problems: string[] }> {
  const problems: string[] = []
  const held = positionOf(l.getMeta(REPL_IN_SPACE, 'a'))
  const origins: number[] = []
  for (let from = 0; ;) {
    const got = await l.read('repl/crash', from, { maxEntries: 5000 })
    if (got.length === 0) break
    for (const e of got) {
      origins.push(e.props.originEntryId ?? -1)
      if (e.payload.toString() !== `m${String(e.props.originEntryId)}`) problems.push(`entry ${e.entryId} holds ${e.payload.toString()} for origin ${String(e.props.originEntryId)}`)
      if (e.props.producerId !== undefined) problems.push(`entry ${e.entryId} kept a producer id`)
      if (e.props.replicatedLsn !== e.props.originEntryId || e.props.replicatedVia?.join() !== 'a' || e.props.originSite !== 'a') problems.push(`entry ${e.entryId} has origin props ${JSON.stringify(e.props)}`)
    }
    from = (got.at(-1)?.entryId ?? 0) + 1
  }
  const want: number[] = []
  for (let n = 1; n <= held; n++) if (n % 250 !== 0) want.push(n)
  // The position may name a trailing meta record; the messages must be exactly those up to it.
  if (origins.length !== want.length || origins.some((o, i) => o !== want[i])) {
    problems.push(`held ${held}: ${origins.length} entries, first difference at ${origins.findIndex((o, i) => o !== want[i])}`)
  }
  for (let n = 250; n <= held; n += 250) if ((l.getMeta('crash-meta', `k${n}`) as { n?: unknown } | undefined)?.n !== n) problems.push(`meta k${n} missing below the position`)
  if (held < acked) problems.push(`acknowledged through ${acked}, but the position is ${held}`)
  return { held, problems }
}

t.test('receiver - SIGKILL mid-batch: a prefix each once with its position, every acknowledged batch kept; resuming completes it exactly once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-repl-crash-'))
  dirs.push(dir)
  const open = async (): Promise<Ledger> => {
    const l = createFileLedger({ siteId: 'b', dir, policyOf: () => ({ durability: 'sync', retentionMs: -1, retentionBytes: -1, ttlMs: 0 }), segmentSizeBytes: 256 * 1024, checkpointIntervalMs: 0, retentionIntervalMs: 0 })
    await l.open()
    return l
  }
  let lastHeld = -1
  for (const killAfter of [40, 25, 60]) {
    const { acked, done } = await run(dir, killAfter)
    t.notOk(done, 'killed before the end')
    const l = await open()
    const { held, problems } = await check(l, acked)
    await l.close()
    t.same(problems, [], `after a kill: held through ${held}, acknowledged through ${acked}`)
    t.ok(held >= lastHeld, 'the position never moves back')
    lastHeld = held
  }
  const { done } = await run(dir)
  t.ok(done, 'the resumed run completes')
  const l = await open()
  const { held, problems } = await check(l, TOTAL)
  await l.close()
  t.equal(held, TOTAL, 'every message held')
  t.same(problems, [], 'each exactly once, in order')
})
