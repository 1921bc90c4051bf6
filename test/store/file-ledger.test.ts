import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createFileLedger, type Ledger, type LedgerOptions } from '../../store/index.js'
import { runConformance } from './conformance.js'

const dirs: string[] = []
const dirOf = new WeakMap<Ledger, string>()
t.teardown(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }) })

async function make (opts: Omit<LedgerOptions, 'siteId'>, dir?: string): Promise<Ledger> {
  const d = dir ?? await mkdtemp(join(tmpdir(), 'ferry-store-'))
  if (dir === undefined) dirs.push(d)
  const l = createFileLedger({ siteId: 'test', dir: d, segmentSizeBytes: 64 * 1024, ...opts })
  dirOf.set(l, d)
  return l
}

runConformance(t, 'file', {
  create: async (opts) => await make(opts),
  restart: async (l, opts) => {
    await l.close()
    const again = await make(opts, dirOf.get(l))
    await again.open()
    return again
  }
})
