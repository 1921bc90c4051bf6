/**
 * The site config's security fields, checked field by field (gateway/config.ts
 * calls this): `pki` (directory), `cors` and `quotas`.
 *
 *   "pki": "/etc/ferry/pki",
 *   "cors": { "origins": ["https://app.example.com"], "methods": ["GET", "POST"], "headers": ["x-trace"] },
 *   "quotas": {
 *     "tenants": { "acme": { "maxConnections": 1000, "maxStorageBytes": 10737418240 } },
 *     "namespaces": { "acme/orders": { "publishMsgsPerSec": 500, "publishBytesPerSec": 1048576, "maxSubscriptions": 50 } }
 *   }
 */
import { FerryError } from '../../common/errors.js'
import { CORS_ORIGINS_MAX } from './constants.js'
import type { CorsConfig } from './cors.js'
import { QUOTA_FIELDS, type QuotaConfig, type QuotaLimits } from './quotas.js'

export interface SecurityConfigFile { pki?: string, cors?: CorsConfig, quotas?: QuotaConfig }

export const SECURITY_CONFIG_KEYS = ['pki', 'cors', 'quotas'] as const

function bad (where: string, why: string): FerryError { return new FerryError('E_CONFIG', `config ${where}: ${why}`) }

function isObject (v: unknown): v is Record<string, unknown> { return v !== null && typeof v === 'object' && !Array.isArray(v) }

function strings (v: unknown, where: string, max: number): string[] {
  if (!Array.isArray(v) || v.length > max || !v.every((s) => typeof s === 'string' && s.length > 0 && s.length <= 512)) throw bad(where, `must be a list of at most ${max} non-empty strings`)
  return v
}

const ORIGIN = /^(\*|https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?)$/

function limits (v: unknown, where: string): QuotaLimits {
  if (!isObject(v)) throw bad(where, 'must be an object')
  const out: QuotaLimits = {}
  for (const [k, n] of Object.entries(v)) {
    if (!(QUOTA_FIELDS as readonly string[]).includes(k)) throw bad(`${where}.${k}`, `unknown quota (${QUOTA_FIELDS.join(', ')})`)
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw bad(`${where}.${k}`, 'must be a non-negative integer')
    out[k as keyof QuotaLimits] = n
  }
  return out
}

/** Parse the security fields of a config document; `resolvePath` makes `pki` absolute. */
export function parseSecurityConfig (doc: Record<string, unknown>, resolvePath: (p: string) => string): SecurityConfigFile {
  const out: SecurityConfigFile = {}
  if (doc.pki !== undefined) {
    if (typeof doc.pki !== 'string' || doc.pki.length === 0) throw bad('pki', 'must be a directory path')
    out.pki = resolvePath(doc.pki)
  }
  if (doc.cors !== undefined) {
    const c = doc.cors
    if (!isObject(c)) throw bad('cors', 'must be an object')
    for (const k of Object.keys(c)) if (!['origins', 'methods', 'headers'].includes(k)) throw bad('cors', `unknown field ${k}`)
    const origins = strings(c.origins ?? [], 'cors.origins', CORS_ORIGINS_MAX)
    for (const o of origins) if (!ORIGIN.test(o)) throw bad('cors.origins', `'${o}' is not an origin (scheme://host[:port], or *)`)
    out.cors = { origins }
    if (c.methods !== undefined) out.cors.methods = strings(c.methods, 'cors.methods', 16).map((m) => m.toUpperCase())
    if (c.headers !== undefined) out.cors.headers = strings(c.headers, 'cors.headers', 64)
  }
  if (doc.quotas !== undefined) {
    const q = doc.quotas
    if (!isObject(q)) throw bad('quotas', 'must be an object')
    for (const k of Object.keys(q)) if (k !== 'tenants' && k !== 'namespaces') throw bad('quotas', `unknown field ${k} (tenants, namespaces)`)
    out.quotas = {}
    for (const scope of ['tenants', 'namespaces'] as const) {
      const m = q[scope]
      if (m === undefined) continue
      if (!isObject(m)) throw bad(`quotas.${scope}`, 'must be an object')
      const entries: Record<string, QuotaLimits> = {}
      for (const [name, l] of Object.entries(m)) {
        const ok = scope === 'tenants' ? /^[A-Za-z0-9_.-]{1,128}$/.test(name) : /^[A-Za-z0-9_.-]{1,128}\/[A-Za-z0-9_.-]{1,128}$/.test(name)
        if (!ok) throw bad(`quotas.${scope}["${name}"]`, scope === 'tenants' ? 'must be a tenant name' : 'must be tenant/namespace')
        entries[name] = limits(l, `quotas.${scope}["${name}"]`)
      }
      out.quotas[scope] = entries
    }
  }
  return out
}
