/**
 * Turns credentials into principals: tokens (verified offline with the
 * network's token-verify.pem) and client certificates (verified by the TLS
 * handshake against the network CA; identity from the subject). Keeps the
 * revocation list current (PKI dir watch) and closes open connections whose
 * credential is revoked. Failures are counted per address (throttle.ts).
 */
import { readFile } from 'node:fs/promises'
import { FerryError } from '../../common/errors.js'
import type { Logger } from '../../common/log.js'
import {
  CLIENT_CERT_OU, PkiCode, PKI_POLL_INTERVAL_MS, TokenInvalid, normalSerial, pkiLayout, readRevoked, revocationKey, tokenVerifierOf,
  type PkiLayout, type TokenClaims, type TokenVerifier
} from '../../pki/index.js'
import { CONNECTIONS_PER_CREDENTIAL_MAX, TOKEN_CACHE_ENTRIES_MAX } from './constants.js'
import { AuthCode, authError } from './errors.js'
import { FileWatcher } from './pki-watch.js'
import { CredentialKind, type Principal } from './principal.js'
import { FailureThrottle, type ThrottleLimits, type ThrottleStats } from './throttle.js'

/** What a TLS listener knows about the client's certificate (mutual TLS). */
export interface PeerCertificate {
  /** The chain verified against the network CA. */
  authorized: boolean
  /** Serial, hex. */
  serial: string
  subjectCN: string | undefined
  subjectOU: string | undefined
  /** Epoch ms. */
  validToMs: number
}

/** Something open that uses a credential and can be closed when it is revoked. */
export interface CredentialUser { revoked (): void }

export interface AuthStats {
  accepted: number
  refused: Record<string, number>
  revokedClosed: number
  revokedEntries: number
  throttle: ThrottleStats
}

export interface AuthenticatorOptions {
  pkiDir: string
  logger: Logger
  throttle?: Partial<ThrottleLimits>
  pollIntervalMs?: number
}

export class Authenticator {
  /** Every revoked credential (`token:ID` / `serial:HEX`): the PKI dir's list plus the external ones (etcd). */
  private revoked = new Set<string>()
  private fileRevoked = new Set<string>()
  /** Revocation lists from other sources (topology/revocations.ts: etcd), by source. */
  private readonly external = new Map<string, Set<string>>()
  private readonly users = new Map<string, Set<CredentialUser>>()
  private readonly tokenCache = new Map<string, TokenClaims>()
  private readonly watcher: FileWatcher
  readonly throttle: FailureThrottle
  private readonly counters = { accepted: 0, revokedClosed: 0, refused: {} as Record<string, number> }

  private constructor (readonly layout: PkiLayout, private readonly verifier: TokenVerifier, private readonly opts: AuthenticatorOptions) {
    this.throttle = new FailureThrottle(opts.throttle)
    this.watcher = new FileWatcher([{ file: layout.revoked, onChange: async () => { await this.reloadRevoked() } }], opts.pollIntervalMs ?? PKI_POLL_INTERVAL_MS, opts.logger)
  }

  static async open (opts: AuthenticatorOptions): Promise<Authenticator> {
    const layout = pkiLayout(opts.pkiDir)
    let pem: string
    try {
      pem = await readFile(layout.tokenVerifyKey, 'utf8')
    } catch (err) {
      throw new FerryError(PkiCode.DIR_MISSING,
        `cannot read the token verification key ${layout.tokenVerifyKey} (${(err as Error).message}): is --pki a directory made by \`ferry pki init\`?`)
    }
    const a = new Authenticator(layout, tokenVerifierOf(pem), opts)
    await a.reloadRevoked()
    await a.watcher.start()
    return a
  }

  /** Re-read the revocation list; close what uses a newly revoked credential. */
  async reloadRevoked (): Promise<void> {
    this.fileRevoked = new Set((await readRevoked(this.layout)).map((e) => revocationKey(e.id)))
    this.recompute('file')
  }

  /** Replace the revocation list of another source (etcd); ids are token ids or certificate serials. */
  setRevocations (source: string, ids: readonly string[]): void {
    this.external.set(source, new Set(ids.map(revocationKey)))
    this.recompute(source)
  }

  private recompute (source: string): void {
    const next = new Set(this.fileRevoked)
    for (const set of this.external.values()) for (const k of set) next.add(k)
    const added = [...next].filter((k) => !this.revoked.has(k))
    this.revoked = next
    if (added.length > 0) this.opts.logger.info({ revoked: added.length, source }, 'revocation list changed')
    for (const key of added) {
      const users = this.users.get(key)
      if (users === undefined) continue
      this.users.delete(key)
      for (const u of users) { this.counters.revokedClosed++; u.revoked() }
    }
  }

  /** Poll the PKI dir now (SIGHUP). */
  async refresh (): Promise<void> { await this.watcher.poll() }

  isRevoked (p: Principal): boolean {
    return this.revoked.has(p.kind === CredentialKind.token ? `token:${p.credentialId}` : `serial:${p.credentialId}`)
  }

  private refuse (address: string, reason: string, message: string): never {
    this.counters.refused[reason] = (this.counters.refused[reason] ?? 0) + 1
    const delayMs = this.throttle.failed(address)
    throw authError(AuthCode.UNAUTHORIZED, message, { delayMs, reason })
  }

  /** Refuse at once when the address is blocked (E_AUTH_THROTTLED). */
  checkThrottle (address: string): void {
    if (this.throttle.blocked(address)) {
      this.counters.refused.throttled = (this.counters.refused.throttled ?? 0) + 1
      throw authError(AuthCode.THROTTLED, 'too many failed attempts from this address; try again later')
    }
  }

  /** Verify a bearer token. Throws E_UNAUTHORIZED (details.delayMs: how long to hold the refusal) or E_AUTH_THROTTLED. */
  fromToken (token: string, address: string, nowMs = Date.now()): Principal {
    this.checkThrottle(address)
    let claims = this.tokenCache.get(token)
    if (claims === undefined) {
      try {
        claims = this.verifier.verify(token, nowMs)
      } catch (err) {
        if (err instanceof TokenInvalid) this.refuse(address, `token_${err.reason}`, `invalid token: ${err.message}`)
        throw err
      }
      this.tokenCache.set(token, claims)
      if (this.tokenCache.size > TOKEN_CACHE_ENTRIES_MAX) this.tokenCache.delete(this.tokenCache.keys().next().value as string)
    }
    if (claims.expiresAt <= nowMs) { this.tokenCache.delete(token); this.refuse(address, 'token_expired', 'invalid token: token expired') }
    const p: Principal = {
      kind: CredentialKind.token,
      credentialId: claims.id,
      tenant: claims.tenant,
      name: claims.id,
      namespaces: claims.namespaces,
      actions: new Set(claims.actions),
      topics: claims.topics,
      expiresAt: claims.expiresAt
    }
    if (this.isRevoked(p)) this.refuse(address, 'revoked', 'invalid token: token revoked')
    this.counters.accepted++
    this.throttle.succeeded(address)
    return p
  }

  /**
   * A client certificate from mutual TLS. It must chain to the network CA,
   * be a client certificate (OU ferry-client; a site certificate is not a
   * client identity) named TENANT/ID, and not be revoked. It grants produce
   * and consume on every namespace of its tenant.
   */
  fromCertificate (cert: PeerCertificate, address: string, nowMs = Date.now()): Principal {
    this.checkThrottle(address)
    if (!cert.authorized) this.refuse(address, 'cert_untrusted', 'client certificate not issued by this network')
    if (cert.validToMs <= nowMs) this.refuse(address, 'cert_expired', 'client certificate expired')
    const m = /^([A-Za-z0-9_.-]{1,128})\/([A-Za-z0-9_.-]{1,128})$/.exec(cert.subjectCN ?? '')
    if (cert.subjectOU !== CLIENT_CERT_OU || m === null) this.refuse(address, 'cert_not_client', 'certificate is not a Ferry client certificate')
    const p: Principal = {
      kind: CredentialKind.certificate,
      credentialId: normalSerial(cert.serial),
      tenant: m[1] as string,
      name: cert.subjectCN as string,
      namespaces: ['*'],
      actions: new Set(['produce', 'consume'] as const),
      topics: undefined,
      expiresAt: cert.validToMs
    }
    if (this.isRevoked(p)) this.refuse(address, 'revoked', 'client certificate revoked')
    this.counters.accepted++
    this.throttle.succeeded(address)
    return p
  }

  /** Register an open user of a credential; returns the function that unregisters it. */
  track (p: Principal, user: CredentialUser): () => void {
    const key = p.kind === CredentialKind.token ? `token:${p.credentialId}` : `serial:${p.credentialId}`
    let set = this.users.get(key)
    if (set === undefined) { set = new Set(); this.users.set(key, set) }
    if (set.size >= CONNECTIONS_PER_CREDENTIAL_MAX) throw authError(AuthCode.QUOTA_CONNECTIONS, `at most ${CONNECTIONS_PER_CREDENTIAL_MAX} connections per credential`)
    set.add(user)
    const s = set
    return () => { s.delete(user); if (s.size === 0 && this.users.get(key) === s) this.users.delete(key) }
  }

  stats (): AuthStats {
    return { accepted: this.counters.accepted, refused: { ...this.counters.refused }, revokedClosed: this.counters.revokedClosed, revokedEntries: this.revoked.size, throttle: this.throttle.stats() }
  }

  async close (): Promise<void> { await this.watcher.close() }
}
