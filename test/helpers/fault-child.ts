/**
 * A real gateway process (`ferry gateway`'s runGateway, with its process
 * fault policy) that also injects faults on command, one line on stdin each:
 *
 *   reject   an unhandled promise rejection (plain Error)
 *   throw    an uncaught exception (plain Error, from a timer)
 *   assert   an AssertionError thrown from a timer (a store invariant failing)
 *   fatal    an unhandled rejection with a FerryError marked fatal
 *
 * Arguments are `ferry gateway`'s flags. Used by test/cli/process-faults.test.ts.
 */
import assert from 'node:assert/strict'
import { createInterface } from 'node:readline'
import { FerryError } from '../../common/errors.js'
import { runGateway, type GatewayOptions } from '../../cli/gateway-command.js'

function flags (argv: string[]): GatewayOptions {
  const o: Record<string, string | number | boolean> = { dev: true }
  for (let i = 0; i < argv.length; i++) {
    const name = (argv[i] as string).replace(/^--/, '')
    const value = argv[i + 1] as string
    if (name === 'dev') continue
    o[name] = ['http', 'mqtt', 'https', 'mqtts'].includes(name) ? Number(value) : value
    i++
  }
  return o as GatewayOptions
}

await runGateway(flags(process.argv.slice(2)))

createInterface({ input: process.stdin }).on('line', (line) => {
  switch (line.trim()) {
    case 'reject': void Promise.reject(new Error('injected rejection')); break
    case 'throw': setTimeout(() => { throw new Error('injected exception') }, 0); break
    case 'assert': setTimeout(() => { assert.equal(1, 2, 'injected invariant failure') }, 0); break
    case 'fatal': void Promise.reject(new FerryError('E_STORE_CORRUPT', 'injected fatal store error', { fatal: true })); break
    default: break
  }
  process.stdout.write(`injected ${line.trim()}\n`)
})
