/**
 * `./ferry` from a checkout, as the README writes it: builds dist/ when the
 * sources changed (so the first run may compile for a while on a busy
 * machine), then runs the command; also through a symlink on PATH.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { symlink } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { startTestGateway } from '../helpers/gateway.js'
import { tmpDir } from '../helpers/tmp.js'

// A first run compiles the whole tree; on a loaded 2-core machine that can take minutes.
t.setTimeout(600_000)

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const gw = await startTestGateway(t)
const http = gw.urls.http

async function runIn (cwd: string, cmd: string, args: string[], path?: string): Promise<{ code: number | null, out: string, err: string }> {
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_LOG_LEVEL: 'warn', ...(path !== undefined ? { PATH: path } : {}) } })
  let out = ''
  let err = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr.on('data', (c: Buffer) => { err += c.toString() })
  const [code] = await once(child, 'exit') as [number | null]
  return { code, out, err }
}

t.test('cli wrapper - ./ferry runs from a checkout, also through a symlink on PATH', async (t) => {
  const direct = await runIn(root, join(root, 'ferry'), ['pub', '-t', 'wrapper/x', '-m', 'hi', '--url', http])
  t.equal(direct.code, 0, `./ferry pub (stderr: ${direct.err})`)
  t.match(direct.out, /published topic=wrapper\/x/)
  const bin = await tmpDir('ferry-bin-')
  t.teardown(bin.cleanup)
  await symlink(join(root, 'ferry'), join(bin.dir, 'ferry'))
  const viaPath = await runIn(bin.dir, 'ferry', ['sub', '-t', 'wrapper/x', '--count', '1', '--url', http], `${bin.dir}:${process.env.PATH ?? ''}`)
  t.equal(viaPath.code, 0, viaPath.err)
  t.equal(viaPath.out, 'wrapper/x hi\n', 'plain `ferry` once the wrapper is on PATH')
})
