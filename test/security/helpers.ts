/**
 * Helpers of the security tests: a production gateway (TLS only, PKI dir),
 * tokens issued from its PKI dir, and an `mqtt` client connect that reports
 * the CONNACK code instead of throwing.
 */
import mqtt, { type IClientOptions, type MqttClient, type Packet } from 'mqtt'
import { join } from 'node:path'
import tls from 'node:tls'
import { issueToken, type TokenRequest } from '../../pki/index.js'
import { startTestGateway, type TestGateway, type TestGatewayOptions, type Teardownable } from '../helpers/gateway.js'

/** Throttle limits high enough that a test's own deliberate failures never slow it down. */
export const NO_THROTTLE = { failuresBeforeDelay: 1_000_000, failuresBeforeBlock: 1_000_000 }

export interface SecureGateway extends TestGateway { pkiDir: string }

export async function startSecureGateway (t: Teardownable, opts: TestGatewayOptions = {}): Promise<SecureGateway> {
  const gw = await startTestGateway(t, {
    dev: false,
    namespaces: { 'acme/orders': {}, 'acme/billing': {}, 'globex/orders': {}, ...(opts.namespaces ?? {}) },
    authThrottle: NO_THROTTLE,
    pkiPollIntervalMs: 100,
    ...opts
  })
  return Object.assign(gw, { pkiDir: opts.pkiDir ?? join(gw.dataDir, 'pki') })
}

export async function token (gw: SecureGateway, req: Partial<TokenRequest> = {}): Promise<{ token: string, id: string }> {
  const r = await issueToken(gw.pkiDir, { tenant: 'acme', namespaces: ['orders'], actions: ['produce', 'consume'], ttlSec: 3600, ...req })
  return { token: r.token, id: r.claims.id }
}

/** An expired token: issued an hour in the past with a one-minute lifetime. */
export async function expiredToken (gw: SecureGateway): Promise<string> {
  return (await issueToken(gw.pkiDir, { tenant: 'acme', namespaces: ['orders'], actions: ['produce', 'consume'], ttlSec: 60 }, Date.now() - 3600_000)).token
}

export type Outcome = { ok: true, client: MqttClient } | { ok: false, code: number | undefined, message: string }

/** Connect with the stock client; resolves with the client or the refusal code (CONNACK reason / return code). */
export async function tryMqtt (t: Teardownable, gw: TestGateway, url: string, opts: IClientOptions = {}): Promise<Outcome> {
  try {
    const client = await mqtt.connectAsync(url, {
      // mqtt-packet sends a password only with a user name (3.1.1 requires it [MQTT-3.1.2-22]); the name is free.
      reconnectPeriod: 0, connectTimeout: 10_000, ca: gw.caPem, ...(opts.password !== undefined ? { username: 'device' } : {}), ...opts
    }, false)
    t.teardown(async () => { await client.endAsync(true).catch(() => undefined) })
    return { ok: true, client }
  } catch (err) {
    const e = err as { code?: unknown, message?: string }
    return { ok: false, code: typeof e.code === 'number' ? e.code : undefined, message: String(e.message) }
  }
}

/** Topics of the gateway's ledger, sorted. */
export function storedTopics (gw: TestGateway): string[] {
  return [...gw.gateway.ledger.topics()].sort()
}

/** SUBSCRIBE and return the SUBACK return codes as sent (the client turns any failure code into an error). */
export async function subackCodes (client: MqttClient, subs: Record<string, { qos: 0 | 1 | 2 }>): Promise<number[]> {
  const codes = new Promise<number[]>((resolve) => {
    const on = (packet: Packet): void => {
      const p = packet as { cmd: string, granted?: number[] }
      if (p.cmd !== 'suback') return
      client.removeListener('packetreceive', on)
      resolve(p.granted ?? [])
    }
    client.on('packetreceive', on)
  })
  client.subscribe(subs, () => undefined)
  return await codes
}

/** Serial number (lower-case hex) of the certificate a TLS listener presents now. */
export async function serialOf (port: number, ca: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' })
    s.once('secureConnect', () => { const serial = s.getPeerCertificate().serialNumber; s.destroy(); resolve(serial.toLowerCase()) })
    s.once('error', reject)
  })
}
