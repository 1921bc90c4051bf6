/**
 * The type of a tap test (the `t` a test callback receives), for helpers that
 * take one. tap exports it only as part of its overloads; the last overload of
 * `t.test` is `(cb)`, so its first parameter's first parameter is the test.
 */
import type tap from 'tap'

export type TapTest = Parameters<Parameters<typeof tap.test>[0]>[0]
