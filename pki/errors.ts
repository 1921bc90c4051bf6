/**
 * Codes of the PKI. Each message says what to do next (the CLI prints it as
 * it is). Mapped to HTTP / MQTT in gateway/error-map.ts via registerErrorCodes
 * (gateway/auth registers them).
 */
import { FerryError } from '../common/errors.js'

export const PkiCode = {
  /** The PKI directory or a file in it is missing (run `ferry pki init`). */
  DIR_MISSING: 'E_PKI_DIR_MISSING',
  /** A CA already exists in the directory. */
  EXISTS: 'E_PKI_EXISTS',
  /** The CA key is encrypted and the passphrase is missing or wrong. */
  PASSPHRASE: 'E_PKI_PASSPHRASE',
  /** The CA (or a certificate) has expired. */
  EXPIRED: 'E_PKI_EXPIRED',
  /** A site name already has a certificate. */
  SITE_TAKEN: 'E_PKI_SITE_TAKEN',
  /** A name (site, tenant, client id, namespace, action) breaks the rules. */
  NAME_INVALID: 'E_PKI_NAME_INVALID',
  /** A file of the PKI directory cannot be parsed. */
  FILE_INVALID: 'E_PKI_FILE_INVALID',
  /** Nothing issued has this id (revoke). */
  UNKNOWN_ID: 'E_PKI_UNKNOWN_ID',
  /** An at-rest key is missing or wrong (record cannot be decrypted). */
  KEY_MISSING: 'E_PKI_KEY_MISSING'
} as const
export type PkiCode = typeof PkiCode[keyof typeof PkiCode]

export function pkiError (code: PkiCode, message: string, cause?: unknown): FerryError {
  return new FerryError(code, message, cause !== undefined ? { cause } : undefined)
}
