/**
 * The MQTT front end's authenticate and authorizeSubscribe hooks.
 *
 * Credentials, first found wins: the CONNECT password (a token), a client
 * certificate (mutual TLS on the MQTT/TLS listener), the WebSocket upgrade's
 * `Authorization: Bearer`. The username is free, except that `TENANT/NAMESPACE`
 * picks one of the credential's namespaces (default: the token's first;
 * `default` for a certificate). Topic names stay relative to the bound
 * namespace, so `..` or a leading `/` never leave it.
 *
 * Refusals: no credential 0x87 (3.1.1 rc 5); a credential that does not
 * verify, expired or revoked 0x86 (rc 4), held back when the address keeps
 * failing; a blocked address 0x8A Banned (rc 3); a valid credential for
 * another namespace 0x87 (rc 5); the connections quota 0x97 (rc 3).
 */
import { isFerryError } from '../../common/errors.js'
import type { Logger } from '../../common/log.js'
import { MqttReason } from '../error-map.js'
import { CloseReason, type Authenticate, type AuthenticateInput, type AuthorizeSubscribe, type ClientGrant } from '../mqtt/index.js'
import type { Authenticator } from './authenticator.js'
import { AuthCode, MQTT_BAD_CREDENTIALS } from './errors.js'
import { allowsFilter, allowsNamespace, allowsTopic, type Principal } from './principal.js'
import type { QuotaTracker } from './quotas.js'

/** MQTT 5 CONNACK 0x8A Banned: the address is blocked after repeated failures. */
const MQTT_BANNED = 0x8a
/** Namespace a certificate client is bound to without a TENANT/NAMESPACE username. */
export const CERT_DEFAULT_NAMESPACE = 'default'
/** Longest timer Node accepts, ms (2^31 - 1): a token valid for longer is re-armed, never overflowed. */
const TIMER_MS_MAX = 2_147_483_647

const NS_USERNAME = /^([A-Za-z0-9_.-]{1,128})\/([A-Za-z0-9_.-]{1,128})$/
const MODE_PREFIX = /^\$(share|failover|keyshared|exclusive)\/[^/]+\//

export class MqttGrant implements ClientGrant {
  private released = false
  private timer: NodeJS.Timeout | undefined
  readonly sessionScope: string
  constructor (readonly principal: Principal, readonly tenant: string, readonly ns: string, private readonly releases: Array<() => void>) {
    this.sessionScope = tenant
  }

  authorizePublish (localTopic: string): number {
    return allowsTopic(this.principal, 'produce', this.tenant, this.ns, localTopic) ? 0 : MqttReason.notAuthorized
  }

  /** Close the connection when the credential expires (re-armed for very long lifetimes). */
  expireAt (ms: number, close: () => void): void {
    const left = ms - Date.now()
    this.timer = setTimeout(() => { if (left > TIMER_MS_MAX) this.expireAt(ms, close); else close() }, Math.max(0, Math.min(left, TIMER_MS_MAX)))
    this.timer.unref()
  }

  release (): void {
    if (this.released) return
    this.released = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    for (const r of this.releases) r()
  }
}

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => { setTimeout(resolve, ms).unref() })
}

export interface MqttAuthDeps {
  authenticator: Authenticator
  quotas: QuotaTracker | undefined
  logger: Logger
}

/** Which namespace the client binds to: `TENANT/NAMESPACE` username, else the default of the credential. */
function bindNamespace (p: Principal, username: string | undefined): { tenant: string, ns: string } | undefined {
  const m = username !== undefined ? NS_USERNAME.exec(username) : null
  if (m !== null) return { tenant: m[1] as string, ns: m[2] as string }
  if (p.tenant === '*') return undefined
  const first = p.kind === 'certificate' ? CERT_DEFAULT_NAMESPACE : p.namespaces[0]
  if (first === undefined || first.includes('*')) return undefined
  return { tenant: p.tenant, ns: first }
}

export function mqttAuthenticate (deps: MqttAuthDeps): Authenticate {
  const { authenticator, quotas, logger } = deps
  return async (input: AuthenticateInput) => {
    const address = input.remoteAddress
    let principal: Principal
    try {
      const password = input.password !== undefined && input.password.length > 0 ? input.password.toString('utf8') : undefined
      if (password !== undefined) principal = authenticator.fromToken(password, address)
      else if (input.peerCertificate !== undefined) principal = authenticator.fromCertificate(input.peerCertificate, address)
      else if (input.bearerToken !== undefined) principal = authenticator.fromToken(input.bearerToken, address)
      else return { refuse: MqttReason.notAuthorized }
    } catch (err) {
      if (isFerryError(err, AuthCode.THROTTLED)) return { refuse: MQTT_BANNED }
      if (!isFerryError(err, AuthCode.UNAUTHORIZED)) throw err
      logger.info({ address, clientId: input.clientId, reason: err.details?.reason }, 'mqtt credential refused')
      const delayMs = Number(err.details?.delayMs ?? 0)
      if (delayMs > 0) await sleep(delayMs)
      return { refuse: MQTT_BAD_CREDENTIALS }
    }
    const bound = bindNamespace(principal, input.username)
    if (bound === undefined || !(allowsNamespace(principal, 'produce', bound.tenant, bound.ns) || allowsNamespace(principal, 'consume', bound.tenant, bound.ns))) {
      return { refuse: MqttReason.notAuthorized }
    }
    const namespace = `${bound.tenant}/${bound.ns}`
    const releases: Array<() => void> = []
    try {
      if (quotas !== undefined) releases.push(quotas.acquireConnection(namespace))
      const conn = input.connection
      releases.push(authenticator.track(principal, { revoked: () => { conn?.close(CloseReason.notAuthorized) } }))
    } catch (err) {
      for (const r of releases) r()
      if (isFerryError(err, AuthCode.QUOTA_CONNECTIONS)) return { refuse: MqttReason.quotaExceeded }
      throw err
    }
    const grant = new MqttGrant(principal, bound.tenant, bound.ns, releases)
    grant.expireAt(principal.expiresAt, () => { input.connection?.close(CloseReason.notAuthorized) })
    return { namespace, grant }
  }
}

/** SUBSCRIBE: the filter (without a `$share/{group}/` style prefix) must lie within the grant. */
export const mqttAuthorizeSubscribe: AuthorizeSubscribe = (client, filter) => {
  const g = client.grant
  if (!(g instanceof MqttGrant)) return false
  return allowsFilter(g.principal, g.tenant, g.ns, filter.replace(MODE_PREFIX, ''))
}
