/**
 * Who may use the admin API and the console. The PKI (gateway/auth, being
 * built) will provide a real check of the `admin` action; until it is wired
 * in, the default allows everything in dev mode and refuses everything
 * otherwise (401 without credentials, 403 with any), as the HTTP API does.
 */
import { FerryError } from '../../common/errors.js'
import type { RequestHead } from '../http/index.js'

export const AdminAuthCode = {
  UNAUTHORIZED: 'E_UNAUTHORIZED',
  FORBIDDEN: 'E_FORBIDDEN'
} as const

/** What an admin request carries, as the check sees it. */
export interface AdminCredentials {
  /** The Authorization header (or the `token` query parameter of the live feed, which browsers cannot give headers). */
  authorization: string | undefined
  remoteAddress: string
}

/** Throws E_UNAUTHORIZED / E_FORBIDDEN unless the credentials carry the `admin` action. */
export type AdminAuthorizer = (creds: AdminCredentials) => void | Promise<void>

export function defaultAdminAuthorizer (dev: boolean): AdminAuthorizer {
  return (creds) => {
    if (dev) return
    if (creds.authorization === undefined) throw new FerryError(AdminAuthCode.UNAUTHORIZED, 'admin credentials required (Authorization header)')
    throw new FerryError(AdminAuthCode.FORBIDDEN, 'these credentials do not carry the admin action')
  }
}

export function credentialsOf (head: RequestHead): AdminCredentials {
  let authorization: string | undefined
  for (const [n, v] of head.headers) if (n === 'authorization') { authorization = v; break }
  return { authorization, remoteAddress: head.remoteAddress }
}
