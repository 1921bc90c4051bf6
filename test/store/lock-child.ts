/**
 * Child process of dir-lock.test.ts: opens a file ledger on argv[2] and prints
 *   OPEN <pid>                 it holds the directory (then waits to be killed)
 *   REFUSED <code> <message>   the open failed (then exits 0)
 */
import { createFileLedger } from '../../store/index.js'
import { isFerryError } from '../../common/errors.js'

const dir = process.argv[2] as string
const l = createFileLedger({
  siteId: 'lock',
  dir,
  policyOf: () => ({ durability: 'sync', retentionMs: -1, retentionBytes: -1, ttlMs: 0 }),
  checkpointIntervalMs: 0,
  retentionIntervalMs: 0
})
try {
  await l.open()
  await l.append({ topic: 't', payload: Buffer.from(`from ${process.pid}`) })
  process.stdout.write(`OPEN ${process.pid}\n`)
  setInterval(() => {}, 1000) // hold the lock until killed
} catch (err) {
  process.stdout.write(`REFUSED ${isFerryError(err) ? err.code : 'unknown'} ${String((err as Error).message)}\n`)
  process.exit(0)
}
