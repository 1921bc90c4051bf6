/**
 * Access tokens: JWTs signed with the network's Ed25519 key (alg EdDSA, the
 * `jose` library), verified offline by every gateway with token-verify.pem.
 * A standard format, so other tools can read and issue them.
 *
 * Claims: `iss` "ferry", `jti` token id, `iat`, `exp`, and
 *   tenant      tenant name, or `*` for a network operator
 *   namespaces  namespace names or patterns (`*` any run of name characters), first = default
 *   actions     any of produce, consume, admin
 *   topics      optional MQTT-style topic patterns (`+`, `#`) the token is narrowed to
 */
import { createPrivateKey, createPublicKey, randomBytes, verify as verifySignature, type KeyObject } from 'node:crypto'
import { SignJWT } from 'jose'
import { TOKEN_BYTES_MAX, TOKEN_CLOCK_SKEW_SEC, TOKEN_LIST_ENTRIES_MAX, TOKEN_TTL_SEC_MAX } from './constants.js'
import { PkiCode, pkiError } from './errors.js'
import { readText, requirePkiDir } from './files.js'
import { pkiLayout } from './layout.js'
import { checkActions, checkNamespacePattern, checkTenant, type Action } from './names.js'
import { IssuedKind, recordIssued } from './registry.js'

export const TOKEN_ISSUER = 'ferry'
const ALG = 'EdDSA'

export interface TokenClaims {
  id: string
  tenant: string
  namespaces: string[]
  actions: Action[]
  topics?: string[]
  expiresAt: number
}

export interface TokenRequest {
  tenant: string
  namespaces: string[]
  actions: string[]
  ttlSec: number
  topics?: string[]
}

/** MQTT-style topic pattern: `+` alone in a level, `#` alone in the last level. */
export function checkTopicPattern (p: string): string {
  const levels = p.split('/')
  const bad = p.length === 0 || p.length > 1024 || levels.some((l, i) =>
    (l.includes('+') && l !== '+') || (l.includes('#') && (l !== '#' || i !== levels.length - 1)) || l.includes('\u0000'))
  if (bad) throw pkiError(PkiCode.NAME_INVALID, `invalid topic pattern '${p}': MQTT filter syntax, + for one level, # for the rest`)
  return p
}

function checkList<T> (what: string, list: readonly string[], check: (s: string) => T): T[] {
  if (list.length === 0) throw pkiError(PkiCode.NAME_INVALID, `give at least one ${what}`)
  if (list.length > TOKEN_LIST_ENTRIES_MAX) throw pkiError(PkiCode.NAME_INVALID, `at most ${TOKEN_LIST_ENTRIES_MAX} ${what}s per token`)
  return list.map(check)
}

/** Parse `30d`, `12h`, `90m`, `45s` or plain seconds. */
export function parseTtl (s: string): number {
  const m = /^(\d{1,9})([smhd]?)$/.exec(s.trim())
  if (m === null) throw pkiError(PkiCode.NAME_INVALID, `invalid --ttl '${s}': a number with s, m, h or d (e.g. 30d)`)
  const mult = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd']
  const sec = Number(m[1]) * mult
  if (sec <= 0 || sec > TOKEN_TTL_SEC_MAX) throw pkiError(PkiCode.NAME_INVALID, `--ttl must be between 1 s and ${TOKEN_TTL_SEC_MAX / 86400} days`)
  return sec
}

export function checkTokenRequest (r: TokenRequest): TokenRequest {
  const tenant = checkTenant(r.tenant)
  const namespaces = checkList('namespace', r.namespaces, checkNamespacePattern)
  const actions = checkActions(r.actions)
  const topics = r.topics !== undefined ? checkList('topic pattern', r.topics, checkTopicPattern) : undefined
  if (!Number.isInteger(r.ttlSec) || r.ttlSec <= 0 || r.ttlSec > TOKEN_TTL_SEC_MAX) throw pkiError(PkiCode.NAME_INVALID, 'token ttl out of range')
  return { tenant, namespaces, actions, ttlSec: r.ttlSec, ...(topics !== undefined ? { topics } : {}) }
}

/** Issue a token from a PKI directory; records it in issued.json. */
export async function issueToken (dir: string, req: TokenRequest, nowMs = Date.now()): Promise<{ token: string, claims: TokenClaims }> {
  const l = pkiLayout(dir)
  await requirePkiDir(dir, l.caCert)
  const r = checkTokenRequest(req)
  const key = createPrivateKey(await readText(l.tokenSigningKey))
  const id = `tok_${randomBytes(12).toString('base64url')}`
  const iat = Math.floor(nowMs / 1000)
  const exp = iat + r.ttlSec
  const payload: Record<string, unknown> = { tenant: r.tenant, namespaces: r.namespaces, actions: r.actions }
  if (r.topics !== undefined) payload.topics = r.topics
  const token = await new SignJWT(payload)
    .setProtectedHeader({ alg: ALG, typ: 'JWT' })
    .setIssuer(TOKEN_ISSUER).setJti(id).setIssuedAt(iat).setExpirationTime(exp)
    .sign(key)
  const claims: TokenClaims = { id, tenant: r.tenant, namespaces: r.namespaces, actions: r.actions as Action[], expiresAt: exp * 1000, ...(r.topics !== undefined ? { topics: r.topics } : {}) }
  await recordIssued(l, {
    kind: IssuedKind.token, id, name: r.tenant, issuedAt: new Date(iat * 1000).toISOString(), expiresAt: new Date(exp * 1000).toISOString(),
    namespaces: r.namespaces, actions: r.actions, ...(r.topics !== undefined ? { topics: r.topics } : {})
  })
  return { token, claims }
}

/** Why a token was not accepted (for logs and counters; clients only learn "bad credentials"). */
export const TokenRejection = { malformed: 'malformed', signature: 'signature', expired: 'expired', claims: 'claims' } as const
export type TokenRejection = typeof TokenRejection[keyof typeof TokenRejection]

export class TokenInvalid extends Error {
  override readonly name = 'TokenInvalid'
  constructor (readonly reason: TokenRejection, message: string) { super(message) }
}

function strList (v: unknown): string[] | undefined {
  return Array.isArray(v) && v.length > 0 && v.length <= TOKEN_LIST_ENTRIES_MAX && v.every((x) => typeof x === 'string') ? v as string[] : undefined
}

export interface TokenVerifier {
  /**
   * Verify signature, issuer, expiry and claims; synchronous (node:crypto
   * Ed25519, tens of microseconds) so an HTTP request is checked before its
   * body is read. Throws TokenInvalid.
   */
  verify (token: string, nowMs?: number): TokenClaims
}

function b64json (part: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : undefined
  } catch { return undefined }
}

const B64URL = /^[A-Za-z0-9_-]+$/

/** A verifier for tokens of one network (its token-verify.pem). Standard JWS compact form, alg EdDSA. */
export function tokenVerifierOf (publicKeyPem: string): TokenVerifier {
  const key: KeyObject = createPublicKey(publicKeyPem)
  return {
    verify (token, nowMs = Date.now()) {
      if (token.length === 0 || token.length > TOKEN_BYTES_MAX) throw new TokenInvalid(TokenRejection.malformed, 'token empty or too long')
      const parts = token.split('.')
      if (parts.length !== 3 || !parts.every((x) => B64URL.test(x))) throw new TokenInvalid(TokenRejection.malformed, 'not a JWT')
      const [h, p, sig] = parts as [string, string, string]
      const header = b64json(h)
      if (header === undefined || (header.alg !== ALG && header.alg !== 'Ed25519') || header.crit !== undefined) {
        throw new TokenInvalid(TokenRejection.malformed, 'not an EdDSA JWT')
      }
      if (!verifySignature(null, Buffer.from(`${h}.${p}`), key, Buffer.from(sig, 'base64url'))) {
        throw new TokenInvalid(TokenRejection.signature, 'token signature does not verify')
      }
      const payload = b64json(p)
      if (payload === undefined) throw new TokenInvalid(TokenRejection.malformed, 'token payload is not JSON')
      const nowSec = nowMs / 1000
      if (payload.iss !== TOKEN_ISSUER) throw new TokenInvalid(TokenRejection.claims, 'token issuer is not ferry')
      if (typeof payload.exp !== 'number' || typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > 128) {
        throw new TokenInvalid(TokenRejection.claims, 'token lacks exp or jti')
      }
      if (payload.exp + TOKEN_CLOCK_SKEW_SEC <= nowSec) throw new TokenInvalid(TokenRejection.expired, 'token expired')
      if (typeof payload.nbf === 'number' && payload.nbf - TOKEN_CLOCK_SKEW_SEC > nowSec) throw new TokenInvalid(TokenRejection.claims, 'token not yet valid')
      const tenant = payload.tenant
      const namespaces = strList(payload.namespaces)
      const actions = strList(payload.actions)
      const topics = payload.topics === undefined ? undefined : strList(payload.topics)
      if (typeof tenant !== 'string' || namespaces === undefined || actions === undefined || (payload.topics !== undefined && topics === undefined)) {
        throw new TokenInvalid(TokenRejection.claims, 'token lacks tenant, namespaces or actions')
      }
      let checked: TokenRequest
      try {
        checked = checkTokenRequest({ tenant, namespaces, actions, ttlSec: 1, ...(topics !== undefined ? { topics } : {}) })
      } catch (err) {
        throw new TokenInvalid(TokenRejection.claims, (err as Error).message)
      }
      return {
        id: payload.jti,
        tenant: checked.tenant,
        namespaces: checked.namespaces,
        actions: checked.actions as Action[],
        expiresAt: payload.exp * 1000,
        ...(checked.topics !== undefined ? { topics: checked.topics } : {})
      }
    }
  }
}
