/**
 * scripts/build.sh (run by setup.sh, start.sh, test.sh and ./ferry) compiles
 * only when the sources changed: an unchanged checkout starts without a
 * 10-20 s tsc run. Tried on a small checkout copy (the real build.sh, the
 * real tsconfig.json and ./ferry, one source file) so the compile is quick.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { copyFile, mkdir, stat, symlink, utimes, writeFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { tmpDir } from '../helpers/tmp.js'

// Each case starts Node processes (tsx compiles on start); a loaded 2-core machine makes that slow.
t.setTimeout(300_000)

const run = promisify(execFile)
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

t.test('build script - builds on first use and after an edit, not when nothing changed', async (t) => {
  const tmp = await tmpDir('ferry-build-')
  t.teardown(tmp.cleanup)
  const dir = tmp.dir
  await mkdir(join(dir, 'scripts'))
  await mkdir(join(dir, 'cli'))
  await copyFile(join(root, 'scripts', 'build.sh'), join(dir, 'scripts', 'build.sh'))
  await copyFile(join(root, 'tsconfig.json'), join(dir, 'tsconfig.json'))
  await copyFile(join(root, 'ferry'), join(dir, 'ferry'))
  await symlink(join(root, 'node_modules'), join(dir, 'node_modules'))
  const source = join(dir, 'cli', 'ferry.ts')
  await writeFile(source, "process.stdout.write('built v1\\n')\n")
  const build = async (): Promise<string> => (await run('bash', [join(dir, 'scripts', 'build.sh')], { timeout: 120_000 })).stderr
  const builtAt = async (): Promise<number> => (await stat(join(dir, 'dist', 'cli', 'ferry.js'))).mtimeMs

  t.match(await build(), /building/, 'first use builds')
  const first = await builtAt()
  t.equal(await build(), '', 'unchanged: nothing to do, nothing printed')
  t.equal(await builtAt(), first, 'dist untouched')

  const later = new Date(Date.now() + 5000)
  await utimes(source, later, later)
  t.equal(await build(), '', 'a touch without an edit does not rebuild')

  await writeFile(source, "process.stdout.write('built v2\\n')\n")
  const { stdout, stderr } = await run(join(dir, 'ferry'), [], { timeout: 120_000 })
  t.match(stderr, /building/, 'an edit rebuilds (through ./ferry)')
  t.equal(stdout, 'built v2\n', './ferry runs the new build')
  t.equal(await build(), '', 'and then it is current again')
})
