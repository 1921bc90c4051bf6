/**
 * The store's public surface. Other folders import only from here.
 *
 * - createFileLedger(opts): the site ledger on disk (store/ledger-file.ts).
 * - createMemoryLedger(opts): the same contract in memory (tests, reference).
 * - StoreCode: stable error codes (FerryError.code); StoreLimits: defaults and limits.
 * - MetaSpace: every metadata space and its one owner (store/meta-spaces.ts).
 * - SimDisk: a seeded fault-injecting disk for tests (pass `disk: sim.view()`).
 */
export * from './types.js'
export { StoreCode, type StoreCode as StoreErrorCode } from './errors.js'
export { MetaSpace } from './meta-spaces.js'
export * as StoreLimits from './constants.js'
export type { LedgerOptions, FileLedgerOptions } from './options.js'
export type { Disk, DiskFile } from './disk/disk.js'
export { SimDisk } from './disk/sim-disk.js'
/** The real disk, exported so gateway/ops can wrap it to time fsyncs. */
export { realDisk } from './disk/real-disk.js'
export { createMemoryLedger, type MemoryLedger } from './ledger-memory.js'
export { createFileLedger, type FileLedger } from './ledger-file.js'
export type { LogItem, LogReadOptions, LogReadResult } from './log-tail.js'
export { plainRecordOf, type PlainRecord } from './plain-record.js'
export { REPL_IN_SPACE, REPL_OUT_SPACE, positionOf, positionValue, Lane, LANES, HIGH_LANE_PRIORITY_MIN, laneOfPriority, laneKey } from './origin-marks.js'
