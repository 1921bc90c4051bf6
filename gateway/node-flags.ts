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
 * --max-semi-space-size=8 --single-threaded-gc: most of what remains of the
 * open-loop tail is scavenge pauses (a scavenge every ~100-200 ms at 10,000
 * msgs/s, up to 6-9 ms each). A young generation of at most 8 MiB semi-spaces
 * (V8's default here grows to 16) scavenges twice as often over fewer
 * survivors each, and one GC thread saves the hand-offs to helper threads that
 * share the gateway's cores with the event loop and the disk's thread pool.
 * Session 11, quiet machine, 6 alternated rounds of bench:peers
 * latency-open-10k (split placement: gateway on one CPU): p99 median 6.50 ms
 * (4.28-11.5) -> 4.50 ms (3.18-7.92), the longest GC pause 6.3 -> 3.6 ms
 * (medians); fan-in (shared placement, both CPUs) 110,048 -> 114,169 msgs/s, a
 * tie. Each flag alone did less (semi 8: p99 7.56; single-threaded: 5.20), and
 * larger semi-spaces were worse (min 16 / max 64: half the scavenges, 12-14 ms
 * each). docs/BENCHMARKS.md, session 11.
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

/** Largest semi-space of the young generation, in MiB (V8's unit for the flag). */
export const GATEWAY_MAX_SEMI_SPACE_MIB = 8

export const GATEWAY_NODE_FLAGS: readonly string[] = Object.freeze([
  `--initial-old-space-size=${GATEWAY_INITIAL_OLD_SPACE_MIB}`,
  `--max-semi-space-size=${GATEWAY_MAX_SEMI_SPACE_MIB}`,
  '--single-threaded-gc'
])

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
