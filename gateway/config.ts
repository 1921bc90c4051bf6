/**
 * The site config file (`ferry gateway --config site.json`): JSON, checked
 * field by field so a typo is an error at start, not a silent default.
 * Relative paths are resolved against the file's directory. Command-line
 * flags override the file (see cli/gateway-command.ts).
 *
 *   {
 *     "siteId": "eu-west-1",
 *     "dataDir": "/var/lib/ferry",
 *     "host": "0.0.0.0",
 *     "listeners": { "mqtts": 8883, "https": 8443 },
 *     "tls": { "certFile": "site.crt", "keyFile": "site.key" },
 *     "namespaces": { "acme/orders": { "maxRedeliveries": 5 } },
 *     "httpLimits": { "maxBodyBytes": 4194304 }
 *   }
 */
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { FerryError } from '../common/errors.js'
import { checkNamespaceName, validatePolicyPatch, type NamespacePolicyPatch } from './policy/index.js'
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from './http/index.js'
import { GatewayCode } from './errors.js'

/** Kept for callers of the config module; the code is declared in gateway/errors.ts. */
export const ConfigCode = {
  CONFIG: GatewayCode.CONFIG
} as const

/** Largest config file read, bytes: a site config is a few KB; this bounds a wrong path (a log file, a device). */
export const CONFIG_FILE_BYTES_MAX = 4 * 1024 * 1024
/** Longest site id, characters: it is written into every replicated record. */
export const SITE_ID_CHARS_MAX = 64
const SITE_ID = /^[A-Za-z0-9_.-]+$/

export interface SiteConfigFile {
  siteId?: string
  dataDir?: string
  dev?: boolean
  host?: string
  listeners?: { mqtt?: number, mqtts?: number, http?: number, https?: number }
  tls?: { certFile: string, keyFile: string }
  namespaces?: Record<string, NamespacePolicyPatch>
  /** Passed to the MQTT front end as they are (numbers only). */
  mqttLimits?: Record<string, number>
  httpLimits?: Partial<HttpLimits>
}

function bad (where: string, why: string): FerryError {
  return new FerryError(ConfigCode.CONFIG, `config ${where}: ${why}`)
}

function isObject (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function onlyKeys (o: Record<string, unknown>, where: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw bad(where, `unknown field ${k}`)
}

function str (v: unknown, where: string): string {
  if (typeof v !== 'string' || v.length === 0) throw bad(where, 'must be a non-empty string')
  return v
}

export function checkSiteId (v: unknown, where = 'siteId'): string {
  const s = str(v, where)
  if (s.length > SITE_ID_CHARS_MAX || !SITE_ID.test(s)) throw bad(where, `must be 1..${SITE_ID_CHARS_MAX} characters of A-Z a-z 0-9 _ . -`)
  return s
}

export function checkPort (v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) throw bad(where, 'must be a port number 0..65535')
  return v
}

/** Check a parsed config document; `baseDir` resolves relative paths. */
export function parseSiteConfig (doc: unknown, baseDir: string): SiteConfigFile {
  if (!isObject(doc)) throw bad('file', 'must be a JSON object')
  onlyKeys(doc, 'file', ['siteId', 'dataDir', 'dev', 'host', 'listeners', 'tls', 'namespaces', 'mqttLimits', 'httpLimits'])
  const out: SiteConfigFile = {}
  if (doc.siteId !== undefined) out.siteId = checkSiteId(doc.siteId)
  if (doc.dataDir !== undefined) out.dataDir = resolve(baseDir, str(doc.dataDir, 'dataDir'))
  if (doc.host !== undefined) out.host = str(doc.host, 'host')
  if (doc.dev !== undefined) {
    if (typeof doc.dev !== 'boolean') throw bad('dev', 'must be true or false')
    out.dev = doc.dev
  }
  if (doc.listeners !== undefined) {
    const l = doc.listeners
    if (!isObject(l)) throw bad('listeners', 'must be an object')
    onlyKeys(l, 'listeners', ['mqtt', 'mqtts', 'http', 'https'])
    out.listeners = {}
    for (const k of ['mqtt', 'mqtts', 'http', 'https'] as const) {
      if (l[k] !== undefined) out.listeners[k] = checkPort(l[k], `listeners.${k}`)
    }
  }
  if (doc.tls !== undefined) {
    const t = doc.tls
    if (!isObject(t)) throw bad('tls', 'must be an object')
    onlyKeys(t, 'tls', ['certFile', 'keyFile'])
    out.tls = { certFile: resolve(baseDir, str(t.certFile, 'tls.certFile')), keyFile: resolve(baseDir, str(t.keyFile, 'tls.keyFile')) }
  }
  if (doc.namespaces !== undefined) {
    if (!isObject(doc.namespaces)) throw bad('namespaces', 'must be an object of "tenant/namespace": policy')
    out.namespaces = {}
    for (const [ns, patch] of Object.entries(doc.namespaces)) {
      const parts = ns.split('/')
      try {
        if (parts.length !== 2) throw new Error('must be tenant/namespace')
        checkNamespaceName(parts[0] as string, parts[1] as string)
        out.namespaces[ns] = validatePolicyPatch(patch)
      } catch (err) {
        throw bad(`namespaces["${ns}"]`, (err as Error).message)
      }
    }
  }
  if (doc.mqttLimits !== undefined) {
    if (!isObject(doc.mqttLimits)) throw bad('mqttLimits', 'must be an object')
    out.mqttLimits = {}
    for (const [k, v] of Object.entries(doc.mqttLimits)) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw bad(`mqttLimits.${k}`, 'must be a non-negative number')
      out.mqttLimits[k] = v
    }
  }
  if (doc.httpLimits !== undefined) {
    if (!isObject(doc.httpLimits)) throw bad('httpLimits', 'must be an object')
    onlyKeys(doc.httpLimits, 'httpLimits', Object.keys(DEFAULT_HTTP_LIMITS))
    const limits: Partial<HttpLimits> = {}
    for (const [k, v] of Object.entries(doc.httpLimits)) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw bad(`httpLimits.${k}`, 'must be a positive integer')
      limits[k as keyof HttpLimits] = v
    }
    out.httpLimits = limits
  }
  return out
}

/** Read and check a config file. Errors are E_CONFIG with the field that is wrong. */
export async function loadSiteConfig (file: string): Promise<SiteConfigFile> {
  let text: Buffer
  try {
    text = await readFile(file)
  } catch (err) {
    throw bad('file', `cannot read ${file}: ${(err as Error).message}`)
  }
  if (text.length > CONFIG_FILE_BYTES_MAX) throw bad('file', `larger than ${CONFIG_FILE_BYTES_MAX} bytes`)
  let doc: unknown
  try {
    doc = JSON.parse(text.toString('utf8'))
  } catch (err) {
    throw bad('file', `${file} is not valid JSON: ${(err as Error).message}`)
  }
  return parseSiteConfig(doc, dirname(resolve(file)))
}
