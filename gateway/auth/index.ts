/**
 * gateway/auth: authentication (tokens, client certificates), authorization
 * and tenant isolation, quotas, CORS, live revocation and certificate
 * rotation, and the at-rest codec in front of the dispatcher.
 */
import './errors.js' // registers the security codes in the error table
export { createSecurity, type Security, type SecurityOptions, type SecurityStats, type TlsMaterial } from './security.js'
export { parseSecurityConfig, SECURITY_CONFIG_KEYS, type SecurityConfigFile } from './config.js'
export { requireAdmin, accessOf, type HttpGuard, type GuardRequest, type GuardRoute } from './http-guard.js'
export { AuthCode } from './errors.js'
export { CredentialKind, allowsNamespace, allowsTopic, allowsFilter, isOperator, patternCoversFilter, patternMatchesTopic, type Principal } from './principal.js'
export { FailureThrottle, hostOf, type ThrottleLimits } from './throttle.js'
export { Cors, type CorsConfig, type HeaderList } from './cors.js'
export type { QuotaConfig, QuotaLimits } from './quotas.js'
export type { PeerCertificate } from './authenticator.js'
