/**
 * A deadline is a safety net for a condition that never comes true, not a timing goal: CI machines and a suite
 * run beside other work are many times slower than a quiet one (a spawned tsx child took over 20 s to deliver at a
 * load average of 17). Every deadline is stretched by this factor; a passing test never waits for it.
 */
export const WAIT_DEADLINE_SCALE = 3

/** Poll until `check` returns a truthy value, or fail after `timeoutMs` x WAIT_DEADLINE_SCALE. Use instead of sleeps. */
export async function waitFor<T> (check: () => T | Promise<T>, opts: { timeoutMs?: number, intervalMs?: number, what?: string } = {}): Promise<NonNullable<T>> {
  const timeoutMs = (opts.timeoutMs ?? 10_000) * WAIT_DEADLINE_SCALE
  const intervalMs = opts.intervalMs ?? 10
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined && v !== null && v !== false) return v as NonNullable<T>
    } catch (err) { last = err }
    if (Date.now() > deadline) {
      throw new Error(`waitFor timed out after ${timeoutMs} ms: ${opts.what ?? 'condition'}${last !== undefined ? ` (last error: ${String(last)})` : ''}`)
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
