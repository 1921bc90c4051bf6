/**
 * The Node.js (V8) flags every gateway process is started with.
 *
 * --initial-old-space-size=64: V8 starts the old generation with a small
 * allocation limit (about 43 MB on this Node) and, under a steady durable QoS 1
 * load (10,000 msgs/s open loop), reaches it every ~0.5 s: each time a
 * concurrent marking cycle runs, its finalization pauses the event loop and the
 * acks waiting behind it make the p99 (15.9 ms at load 12). Starting from a
 * 64 MiB old generation spaces those cycles out (p99 10.0 ms on the same run).
 * It only moves where V8 first grows the heap: it commits no memory up front
 * (an idle gateway's RSS is unchanged) and leaves the heap's maximum alone.
 *
 * The flag cannot be set from inside the process (V8 sizes the heap before any
 * JavaScript runs) and Node refuses it in NODE_OPTIONS, so every launcher
 * passes it on the command line: the `ferry` bin's shebang (cli/ferry.ts), the
 * ./ferry wrapper, scripts/start.sh (standalone), packaging/ferry.service, packaging/Dockerfile and
 * packaging/compose.yaml, `ferry dev`'s site processes, and the benchmarks'
 * gateway children. test/gateway/node-flags.test.ts checks each of them.
 */

/** Initial old generation of a gateway process, in MiB (V8's unit for the flag). */
export const GATEWAY_INITIAL_OLD_SPACE_MIB = 64

export const GATEWAY_NODE_FLAGS: readonly string[] = Object.freeze([`--initial-old-space-size=${GATEWAY_INITIAL_OLD_SPACE_MIB}`])

/** The flag's name without its value: `--initial_old_space_size=64` -> `--initial-old-space-size`. */
function flagName (flag: string): string {
  const eq = flag.indexOf('=')
  // V8 reads `_` and `-` in a flag's name alike.
  return (eq < 0 ? flag : flag.slice(0, eq)).replaceAll('_', '-')
}

/**
 * EXEC_ARGV (a parent's process.execArgv, say) with GATEWAY_NODE_FLAGS added, for spawning a gateway process.
 * A flag already given with another value is kept as given (an operator's choice wins).
 */
export function withGatewayNodeFlags (execArgv: readonly string[]): string[] {
  const names = new Set(execArgv.map(flagName))
  return [...GATEWAY_NODE_FLAGS.filter((f) => !names.has(flagName(f))), ...execArgv]
}
