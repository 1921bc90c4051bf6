/**
 * Codes the HTTP front end introduces. Their HTTP statuses live in the one
 * table in gateway/error-map.ts.
 */
export const HttpCode = {
  /** No route for this path (404). */
  ROUTE_NOT_FOUND: 'E_ROUTE_NOT_FOUND',
  /** The path exists but not for this method (405). */
  METHOD_NOT_ALLOWED: 'E_METHOD_NOT_ALLOWED',
  /** The request body passed maxBodyBytes (413). */
  BODY_TOO_LARGE: 'E_BODY_TOO_LARGE',
  /** Body content type the route does not read (415). */
  UNSUPPORTED_MEDIA_TYPE: 'E_UNSUPPORTED_MEDIA_TYPE',
  /** A scheduled message to cancel is not pending (404). */
  NOT_SCHEDULED: 'E_NOT_SCHEDULED'
} as const
export type HttpCode = typeof HttpCode[keyof typeof HttpCode]

/** Authentication outcomes (401 no credentials, 403 credentials not accepted). */
export const AuthCode = {
  UNAUTHORIZED: 'E_UNAUTHORIZED',
  FORBIDDEN: 'E_FORBIDDEN'
} as const
export type AuthCode = typeof AuthCode[keyof typeof AuthCode]
