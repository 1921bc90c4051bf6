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

/**
 * `promise`, or a failure naming `what` after `timeoutMs` x WAIT_DEADLINE_SCALE: for a one-off wait (a child's
 * exit, a spawned process's first line) that would otherwise hang to tap's timeout, which names no step.
 */
export async function within<T> (promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  const ms = timeoutMs * WAIT_DEADLINE_SCALE
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`timed out after ${ms} ms: ${what}`)) }, ms) })
  try {
    return await Promise.race([promise, expired])
  } finally {
    clearTimeout(timer)
  }
}
