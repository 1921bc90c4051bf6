/**
 * FerryError: the one error class every folder throws across its boundary.
 *
 * Codes are stable strings (`E_DISK_FULL`); each folder declares its own codes in
 * its `errors.ts`, and the gateway maps every code to an MQTT reason code and an
 * HTTP status in one table (gateway/error-map.ts). Never match on messages.
 */
export class FerryError extends Error {
  override readonly name = 'FerryError'
  readonly code: string
  readonly details: Readonly<Record<string, unknown>> | undefined
  /**
   * An invariant of durable state failed (the store sets it): the process
   * must not go on serving. The gateway's process fault policy exits
   * non-zero when such an error escapes (gateway/process-faults.ts).
   */
  readonly fatal: boolean

  constructor (code: string, message: string, options?: { cause?: unknown, details?: Record<string, unknown>, fatal?: boolean }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined)
    this.code = code
    this.details = options?.details
    this.fatal = options?.fatal === true
  }

  toJSON (): { code: string, message: string } {
    return { code: this.code, message: this.message }
  }
}

export function isFerryError (err: unknown, code?: string): err is FerryError {
  return err instanceof FerryError && (code === undefined || err.code === code)
}

/** Codes used by more than one folder. Folder-specific codes live beside the folder. */
export const CommonCode = {
  BAD_REQUEST: 'E_BAD_REQUEST',
  NOT_FOUND: 'E_NOT_FOUND',
  TOO_LARGE: 'E_TOO_LARGE',
  LIMIT: 'E_LIMIT',
  CLOSED: 'E_CLOSED',
  INTERNAL: 'E_INTERNAL'
} as const
