/**
 * The lean generator in a process of its own (bench:peers' split placement,
 * loadtest/peers/placement.ts), so it has its own event loop and CPU and its
 * lateness is not the broker's:
 *
 *   node dist/loadtest/lean/child.js      (reads one LeanScenario as a JSON line on stdin)
 *
 * Writes `{"measuring":true}` when the measured window opens and
 * `{"measured":true}` when it closes (LeanHooks), then one line
 * `{"result":LeanResult}` on stdout, and exits. Every timing
 * is taken inside this process (timing.ts), so due times and the clock they
 * are read against are the same as in-process.
 */
import { createInterface } from 'node:readline'
import { runLean, type LeanScenario } from './run.js'

async function main (): Promise<void> {
  const lines = createInterface({ input: process.stdin })
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve)
    lines.once('close', () => { reject(new Error('no scenario on stdin')) })
  })
  lines.close()
  const sc = JSON.parse(first) as LeanScenario
  const say = (line: string): void => { process.stdout.write(line + '\n') }
  const result = await runLean(sc, { measuring: () => { say('{"measuring":true}') }, measured: () => { say('{"measured":true}') } })
  process.stdout.write(JSON.stringify({ result }) + '\n', () => { process.exit(0) })
}

main().catch((err: unknown) => { process.stderr.write(`lean child: ${String(err)}\n`); process.exit(1) })
