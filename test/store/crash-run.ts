/**
 * Shared by the SIGKILL tests (crash.test.ts, flip-active.test.ts): run
 * crash-child.ts on a directory, record what it reports as acknowledged, and
 * SIGKILL it after `appendsWanted` acknowledged appends.
 */
import { spawn } from 'node:child_process'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createFileLedger, type Ledger } from '../../store/index.js'
import { builtScript } from '../helpers/cli-build.js'

const here = dirname(fileURLToPath(import.meta.url))

/** Acknowledged appends (topic -> entry id -> payload) and acks (topic -> entry ids). */
export interface Acked { appends: Map<string, Map<number, string>>, acks: Map<string, Set<number>> }

/** Run the child until it has acknowledged `appendsWanted` appends, then SIGKILL it. */
export async function runAndKill (dir: string, appendsWanted: number, checkpointIntervalMs = 50): Promise<Acked> {
  const child = spawn(process.execPath, [builtScript(join(here, 'crash-child.ts')), dir, String(checkpointIntervalMs)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const acked: Acked = { appends: new Map(), acks: new Map() }
  let count = 0
  let rest = ''
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject)
    child.on('exit', () => resolve())
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n')
      rest = lines.pop() ?? ''
      for (const line of lines) {
        const [kind, topic, id, payload] = line.split(' ') as [string, string, string, string]
        if (kind === 'A') {
          let m = acked.appends.get(topic)
          if (m === undefined) { m = new Map(); acked.appends.set(topic, m) }
          m.set(Number(id), payload)
          if (++count === appendsWanted) child.kill('SIGKILL')
        } else if (kind === 'K') {
          let s = acked.acks.get(topic)
          if (s === undefined) { s = new Set(); acked.acks.set(topic, s) }
          s.add(Number(id))
        }
      }
    })
  })
  return acked
}

/** The ledger the child writes, opened the way the tests reopen it. */
export function ledgerAt (dir: string, repair = false): Ledger {
  return createFileLedger({ siteId: 'crash', dir, policyOf: () => ({ durability: 'sync', retentionMs: -1, retentionBytes: -1, ttlMs: 0 }), segmentSizeBytes: 32 * 1024, checkpointIntervalMs: 0, retentionIntervalMs: 0, repair })
}
