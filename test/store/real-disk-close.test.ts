/**
 * store/disk/real-disk.ts issues writes and fdatasyncs through the callback
 * API on the FileHandle's descriptor (no stats array per request), which the
 * handle does not track: close() must wait for them, or a descriptor closed
 * under a write in flight could be reused by another open and take its bytes.
 * Real files in a temporary directory.
 */
import t from 'tap'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { realDisk } from '../../store/index.js'

/** Writes issued at once before close (each its own request in flight). */
const WRITES = 64
/** Bytes per write: large enough that the requests are still in the pool when close is called. */
const WRITE_BYTES = 256 * 1024

t.test('close waits for the writes, durable writes and fdatasyncs in flight; later ops fail with EBADF', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-realdisk-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const path = join(dir, 'f')
  const f = await realDisk.open(path, true)
  const ops: Array<Promise<void>> = []
  for (let i = 0; i < WRITES; i++) {
    const buf = Buffer.alloc(WRITE_BYTES, i)
    ops.push(i % 2 === 0 || f.writeDurable === undefined ? f.write(buf, i * WRITE_BYTES) : f.writeDurable(buf, i * WRITE_BYTES))
    if (i % 8 === 7) ops.push(f.datasync())
  }
  const settled = Promise.allSettled(ops)
  await f.close()
  // Every op settled before close returned, and every one succeeded.
  const results = await Promise.race([settled, Promise.resolve('pending' as const)])
  t.not(results, 'pending', 'close returned only after every op in flight settled')
  t.same((await settled).filter((r) => r.status === 'rejected'), [], 'no op failed')
  const back = await readFile(path)
  t.equal(back.length, WRITES * WRITE_BYTES, 'every write landed')
  for (let i = 0; i < WRITES; i++) t.equal(back[i * WRITE_BYTES + WRITE_BYTES - 1], i, `write ${i} landed at its position`)
  await t.rejects(f.write(Buffer.from('x'), 0), { code: 'EBADF' }, 'a write after close fails with EBADF')
  await t.rejects(f.datasync(), { code: 'EBADF' }, 'a datasync after close fails with EBADF')
})
