/**
 * GATEWAY_NODE_FLAGS (gateway/node-flags.ts): every launcher starts the gateway's node with them. The `ferry` bin
 * is started the way the kernel runs its shebang, and the running gateway's command line (/proc/PID/cmdline) must
 * carry the flags; the launchers that are not JavaScript (./ferry, the systemd unit, the Dockerfile, compose) are
 * read, and the node command of each must pass the flags before the script; so is `ferry dev`'s spawn of its sites.
 */
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { GATEWAY_NODE_FLAGS, withGatewayNodeFlags } from '../../gateway/index.js'
import { builtScript, ROOT } from '../helpers/cli-build.js'
import { spawnRun } from '../helpers/ferry-cli.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'
import { gatewayNodeFlags } from '../../loadtest/peers/launch.js'

/** Longest a spawned gateway may take to print its ready line on a loaded machine, ms (waitFor stretches it). */
const GATEWAY_READY_MS_MAX = 60_000

/** The node flags between `node` and the script in ARGV, or undefined when ARGV does not run SCRIPT with node. */
function nodeFlagsOf (argv: readonly string[], script: string): string[] | undefined {
  const node = argv.findIndex((a) => a === 'node' || a.endsWith('/node'))
  const at = argv.findIndex((a) => a.endsWith(script))
  if (node < 0 || at <= node) return undefined
  return argv.slice(node + 1, at)
}

t.test('node flags - withGatewayNodeFlags adds the flags, keeps what the parent has and an operator\'s own value', async (t) => {
  t.same(withGatewayNodeFlags([]), [...GATEWAY_NODE_FLAGS])
  t.same(withGatewayNodeFlags(['--import', 'tsx']), [...GATEWAY_NODE_FLAGS, '--import', 'tsx'])
  t.same(withGatewayNodeFlags([...GATEWAY_NODE_FLAGS]), [...GATEWAY_NODE_FLAGS], 'not twice')
  const others = GATEWAY_NODE_FLAGS.filter((f) => !f.startsWith('--initial-old-space-size='))
  t.same(withGatewayNodeFlags(['--initial_old_space_size=128']), [...others, '--initial_old_space_size=128'], 'V8 reads _ and - alike: the operator\'s value wins, the other flags are added')
  t.same(withGatewayNodeFlags(['--max_semi_space_size=16']), [...GATEWAY_NODE_FLAGS.filter((f) => !f.startsWith('--max-semi-space-size=')), '--max_semi_space_size=16'])
})

t.test('node flags - a gateway started by the ferry bin (its shebang) runs with them', async (t) => {
  const shebang = (await readFile(join(ROOT, 'cli', 'ferry.ts'), 'utf8')).split('\n')[0] as string
  t.match(shebang, /^#!\/usr\/bin\/env -S node /, 'env -S splits the flags into node\'s argv')
  // What the kernel does with `#!/usr/bin/env -S ARGS` for an executable FILE: /usr/bin/env -S "ARGS" FILE ARGV...
  const [interpreter, split, rest] = [shebang.slice(2, shebang.indexOf(' ')), '-S', shebang.slice(shebang.indexOf('-S ') + 3)]
  const data = await tmpDir('ferry-node-flags-')
  t.teardown(data.cleanup)
  const cli = builtScript(join(ROOT, 'cli', 'ferry.ts'))
  const run = spawnRun(interpreter, [split, rest, cli, 'gateway', '--dev', '--data', data.dir, '--mqtt', '0', '--http', '0'])
  t.teardown(async () => { if (run.child.exitCode === null) { run.child.kill('SIGTERM'); await run.exit } })
  await waitFor(() => /^ferry ready /m.test(run.out()) || run.child.exitCode !== null, { timeoutMs: GATEWAY_READY_MS_MAX, what: 'the gateway\'s ready line' })
  t.match(run.out(), /^ferry ready site=/m, `the gateway started (stderr: ${run.err()})`)
  const cmdline = (await readFile(`/proc/${run.child.pid ?? 0}/cmdline`, 'utf8')).split('\0').filter((a) => a !== '')
  t.same(nodeFlagsOf(cmdline, 'cli/ferry.js'), [...GATEWAY_NODE_FLAGS], `the running gateway's node flags (${cmdline.join(' ')})`)
})

t.test('node flags - ./ferry, scripts/start.sh, the systemd unit, the Dockerfile and compose pass them to node', async (t) => {
  const read = async (path: string): Promise<string> => await readFile(join(ROOT, path), 'utf8')
  const words = (line: string): string[] => line.trim().split(/\s+/).map((w) => w.replace(/^"|"$/g, ''))

  const wrapper = (await read('ferry')).split('\n').find((l) => l.startsWith('exec node'))
  t.ok(wrapper, './ferry execs node')
  t.same(nodeFlagsOf(words(wrapper ?? ''), 'dist/cli/ferry.js'), [...GATEWAY_NODE_FLAGS], './ferry')

  // The network start (`ferry dev`) passes the flags to its sites itself; the standalone start is a gateway.
  const standalone = (await read('scripts/start.sh')).split('\n').find((l) => l.trim().startsWith('exec node') && l.includes('dist/cli/ferry.js gateway'))
  t.ok(standalone, 'scripts/start.sh execs a standalone gateway')
  t.same(nodeFlagsOf(words(standalone ?? ''), 'dist/cli/ferry.js'), [...GATEWAY_NODE_FLAGS], 'scripts/start.sh standalone gateway')

  const unit = (await read('packaging/ferry.service')).split('\n').find((l) => l.startsWith('ExecStart='))
  t.same(nodeFlagsOf(words((unit ?? '').slice('ExecStart='.length)), 'dist/cli/ferry.js'), [...GATEWAY_NODE_FLAGS], 'ferry.service ExecStart')

  const entry = (await read('packaging/Dockerfile')).split('\n').find((l) => l.startsWith('ENTRYPOINT '))
  t.same(nodeFlagsOf(JSON.parse((entry ?? '').slice('ENTRYPOINT '.length)) as string[], 'dist/cli/ferry.js'), [...GATEWAY_NODE_FLAGS], 'Dockerfile ENTRYPOINT')

  t.match(await read('cli/dev-command.ts'), /spawn\(process\.execPath, args[^\n]*\n/, 'ferry dev spawns its sites with node')
  t.match(await read('cli/dev-command.ts'), /const args = \[\n[^\n]*\n\s+\.\.\.withGatewayNodeFlags\(process\.execArgv\), process\.argv\[1\]/, 'ferry dev: its sites\' node flags')

  // The store runs inside a gateway, so its benchmark runs with the gateway's flags (they halve its p99 append).
  const scripts = (JSON.parse(await read('package.json')) as { scripts: Record<string, string> }).scripts
  t.same(nodeFlagsOf(words(scripts['bench:store'] ?? ''), 'store/bench/bench-store.ts'), [...GATEWAY_NODE_FLAGS, '--import', 'tsx'], 'npm run bench:store')
  // So do the benchmarks whose gateways run in the benchmark's own process (site b of bench:replication is its fork).
  for (const b of ['topics', 'replication']) {
    t.same(nodeFlagsOf(words(scripts[`bench:${b}`] ?? ''), `dist/loadtest/bench-${b}.js`), [...GATEWAY_NODE_FLAGS], `npm run bench:${b}`)
  }

  const compose = parseYaml(await read('packaging/compose.yaml'), { merge: true }) as { services: Record<string, { command?: string[], entrypoint?: string[] }> }
  const sites = Object.entries(compose.services).filter(([, s]) => Array.isArray(s.command) && s.command[0] === 'site')
  t.ok(sites.length > 0, 'compose runs sites')
  for (const [name, s] of sites) t.same(nodeFlagsOf(s.entrypoint ?? [], 'dist/cli/ferry.js'), [...GATEWAY_NODE_FLAGS], `compose ${name}`)
})

t.test('node flags - the benchmarks\' Ferry children get them; FERRY_BENCH_GATEWAY_NODE_FLAGS replaces them for an A/B', async (t) => {
  const saved = process.env.FERRY_BENCH_GATEWAY_NODE_FLAGS
  t.teardown(() => { if (saved === undefined) delete process.env.FERRY_BENCH_GATEWAY_NODE_FLAGS; else process.env.FERRY_BENCH_GATEWAY_NODE_FLAGS = saved })
  delete process.env.FERRY_BENCH_GATEWAY_NODE_FLAGS
  t.same(await gatewayNodeFlags(), [...GATEWAY_NODE_FLAGS])
  t.same(await gatewayNodeFlags(['--cpu-prof']), [...GATEWAY_NODE_FLAGS, '--cpu-prof'], 'beside bench:cpu\'s CPU_AB_NODE_ARGS')
  process.env.FERRY_BENCH_GATEWAY_NODE_FLAGS = ''
  t.same(await gatewayNodeFlags(), [], 'empty: none (the "before" of an A/B)')
  process.env.FERRY_BENCH_GATEWAY_NODE_FLAGS = '--initial-old-space-size=64 --max-semi-space-size=32'
  t.same(await gatewayNodeFlags(), ['--initial-old-space-size=64', '--max-semi-space-size=32'])
})
