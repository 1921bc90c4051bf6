/**
 * Replicator error codes (FerryError.code), mapped in gateway/error-map.ts
 * through registerErrorCodes (replicator/index.ts).
 */
export const ReplCode = {
  /** The batch does not start right after the position the receiver holds; the answer carries that position. */
  POSITION: 'E_REPL_POSITION',
  /** A batch that does not decode or fails its checks. */
  BAD_BATCH: 'E_REPL_BAD_BATCH',
  /** The remote site did not answer (no responders, timeout, NATS down). */
  UNAVAILABLE: 'E_REPL_UNAVAILABLE',
  /** The remote's position lies beyond this site's log (this site lost data it had shipped). */
  AHEAD: 'E_REPL_REMOTE_AHEAD'
} as const
export type ReplCode = typeof ReplCode[keyof typeof ReplCode]
