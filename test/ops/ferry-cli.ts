/** The `ferry` CLI for the ops tests: test/helpers/ferry-cli.ts, with logging at warn so stderr holds only what a command says. */
import { ferry as run } from '../helpers/ferry-cli.js'

export { ROOT } from '../helpers/ferry-cli.js'

export async function ferry (args: string[]): Promise<{ code: number, out: string, err: string }> {
  return await run(args, { env: { FERRY_LOG_LEVEL: 'warn' } })
}
