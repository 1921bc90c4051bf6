/**
 * The network PKI: root CA, site and client certificates, Ed25519 access
 * tokens, revocation list, at-rest keys. Used by `ferry pki` (cli/) and by
 * gateway/auth, which verifies credentials offline.
 */
export { makeDevCertificates, ensureDevCertificates, type DevCertificates, type DevCertificateFiles } from './dev-certs.js'
export { PkiCode } from './errors.js'
export * from './constants.js'
export { pkiLayout, siteCertFiles, clientCertFiles, type PkiLayout } from './layout.js'
export { Action, ACTIONS, checkSiteName, parseClientName, namespacePatternMatches } from './names.js'
export { initPki, loadCa, loadCaCert, type Ca, type InitResult } from './ca.js'
export { issueSiteCert, issueClientCert, CLIENT_CERT_OU, SITE_CERT_OU, type IssuedCert } from './certs.js'
export {
  issueToken, tokenVerifierOf, parseTtl, checkTopicPattern, TokenInvalid, TokenRejection, TOKEN_ISSUER,
  type TokenClaims, type TokenRequest, type TokenVerifier
} from './tokens.js'
export { revoke, listIssued, readRevoked, revocationKey, IssuedKind, type IssuedEntry, type ListedEntry, type RevokedEntry } from './registry.js'
export { loadAtRestKeys, ensureAtRestKeys, rotateAtRestKey, type AtRestKeys } from './at-rest-keys.js'
export { normalSerial } from './x509.js'
