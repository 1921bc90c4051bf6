/**
 * The store's public surface. Other folders import only from here.
 */
export * from './types.js'
export { StoreCode, type StoreCode as StoreErrorCode } from './errors.js'
export * as StoreLimits from './constants.js'
export type { LedgerOptions, FileLedgerOptions } from './options.js'
export { createMemoryLedger } from './ledger-memory.js'
export { createFileLedger } from './ledger-file.js'
