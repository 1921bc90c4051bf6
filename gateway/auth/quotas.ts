/**
 * Quotas per tenant and per namespace (site config `quotas`): open MQTT
 * connections, publish messages/s and bytes/s (token buckets holding one
 * second), stored bytes, subscriptions. A quota set on the tenant counts
 * every namespace of the tenant together. Exceeding one is a FerryError
 * whose message names the quota: MQTT 0x97 (a CONNACK refusal for
 * connections), HTTP 429, or 507 for storage.
 */
import type { Ledger } from '../../store/index.js'
import type { Dispatcher } from '../dispatch/types.js'
import { QUOTA_BUCKETS_MAX, STORAGE_USAGE_REFRESH_MS } from './constants.js'
import { AuthCode, authError } from './errors.js'

export interface QuotaLimits {
  maxConnections?: number
  publishMsgsPerSec?: number
  publishBytesPerSec?: number
  maxStorageBytes?: number
  maxSubscriptions?: number
}

export interface QuotaConfig {
  tenants?: Record<string, QuotaLimits>
  namespaces?: Record<string, QuotaLimits>
}

export const QUOTA_FIELDS = ['maxConnections', 'publishMsgsPerSec', 'publishBytesPerSec', 'maxStorageBytes', 'maxSubscriptions'] as const

interface Bucket { tokens: number, atMs: number }

function tenantOf (namespace: string): string { return namespace.slice(0, namespace.indexOf('/')) }

function hasOwn (o: Record<string, QuotaLimits> | undefined, k: string): QuotaLimits | undefined {
  return o !== undefined && Object.hasOwn(o, k) ? o[k] : undefined
}

export class QuotaTracker {
  private readonly connections = new Map<string, number>()
  private readonly buckets = new Map<string, Bucket>()
  private storage = new Map<string, number>()
  private storageAtMs = 0
  readonly rejected: Record<string, number> = {}

  constructor (private readonly config: QuotaConfig, private readonly ledger: Ledger) {}

  /** The scopes a namespace's usage counts against: [label, limits]. */
  private scopes (namespace: string): Array<[string, QuotaLimits]> {
    const out: Array<[string, QuotaLimits]> = []
    const t = tenantOf(namespace)
    const tl = hasOwn(this.config.tenants, t)
    if (tl !== undefined) out.push([`tenant ${t}`, tl])
    const nl = hasOwn(this.config.namespaces, namespace)
    if (nl !== undefined) out.push([`namespace ${namespace}`, nl])
    return out
  }

  private reject (code: AuthCode, message: string, quota: string): never {
    this.rejected[quota] = (this.rejected[quota] ?? 0) + 1
    throw authError(code, message, { quota })
  }

  /** One more open connection in namespace; returns its release. Throws E_QUOTA_CONNECTIONS. */
  acquireConnection (namespace: string): () => void {
    const scopes = this.scopes(namespace)
    for (const [label, l] of scopes) {
      if (l.maxConnections !== undefined && (this.connections.get(label) ?? 0) >= l.maxConnections) {
        this.reject(AuthCode.QUOTA_CONNECTIONS, `quota maxConnections of ${label} reached (${l.maxConnections})`, 'maxConnections')
      }
    }
    for (const [label] of scopes) this.connections.set(label, (this.connections.get(label) ?? 0) + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      for (const [label] of scopes) {
        const n = (this.connections.get(label) ?? 1) - 1
        if (n <= 0) this.connections.delete(label); else this.connections.set(label, n)
      }
    }
  }

  private bucket (key: string, rate: number, nowMs: number): Bucket {
    let b = this.buckets.get(key)
    if (b === undefined) {
      if (this.buckets.size >= QUOTA_BUCKETS_MAX) this.buckets.delete(this.buckets.keys().next().value as string)
      b = { tokens: rate, atMs: nowMs }
      this.buckets.set(key, b)
    }
    b.tokens = Math.min(rate, b.tokens + (nowMs - b.atMs) * rate / 1000)
    b.atMs = nowMs
    return b
  }

  /** Check and take publish rate (messages, bytes) and storage for `count` messages of `bytes` in total. */
  publish (namespace: string, count: number, bytes: number, nowMs = Date.now()): void {
    const scopes = this.scopes(namespace)
    if (scopes.length === 0) return
    const take: Array<[Bucket, number]> = []
    for (const [label, l] of scopes) {
      if (l.publishMsgsPerSec !== undefined) {
        const b = this.bucket(`${label}:msgs`, l.publishMsgsPerSec, nowMs)
        if (b.tokens < count) this.reject(AuthCode.QUOTA_PUBLISH_RATE, `quota publishMsgsPerSec of ${label} exceeded (${l.publishMsgsPerSec}/s)`, 'publishMsgsPerSec')
        take.push([b, count])
      }
      if (l.publishBytesPerSec !== undefined) {
        const b = this.bucket(`${label}:bytes`, l.publishBytesPerSec, nowMs)
        if (b.tokens < bytes) this.reject(AuthCode.QUOTA_PUBLISH_BYTES, `quota publishBytesPerSec of ${label} exceeded (${l.publishBytesPerSec} bytes/s)`, 'publishBytesPerSec')
        take.push([b, bytes])
      }
      if (l.maxStorageBytes !== undefined) {
        const used = this.storageOf(label, nowMs)
        if (used + bytes > l.maxStorageBytes) this.reject(AuthCode.QUOTA_STORAGE, `quota maxStorageBytes of ${label} reached (${l.maxStorageBytes} bytes)`, 'maxStorageBytes')
      }
    }
    for (const [b, n] of take) b.tokens -= n
  }

  /** Stored bytes of a scope: recomputed from the ledger at most every STORAGE_USAGE_REFRESH_MS. */
  private storageOf (label: string, nowMs: number): number {
    if (nowMs - this.storageAtMs >= STORAGE_USAGE_REFRESH_MS) {
      const next = new Map<string, number>()
      for (const topic of this.ledger.topics()) {
        const a = topic.indexOf('/')
        const b = topic.indexOf('/', a + 1)
        if (a <= 0 || b <= a) continue
        const bytes = this.ledger.topicInfo(topic)?.storedBytes ?? 0
        const ns = topic.slice(0, b)
        const t = topic.slice(0, a)
        next.set(`namespace ${ns}`, (next.get(`namespace ${ns}`) ?? 0) + bytes)
        next.set(`tenant ${t}`, (next.get(`tenant ${t}`) ?? 0) + bytes)
      }
      this.storage = next
      this.storageAtMs = nowMs
    }
    return this.storage.get(label) ?? 0
  }

  /** Before creating a subscription in namespace: E_QUOTA_SUBSCRIPTIONS when a scope is full. */
  checkSubscription (namespace: string, dispatcher: Dispatcher, exists: (s: { namespace: string, filter: string, subscription: string }) => boolean): void {
    const scopes = this.scopes(namespace).filter(([, l]) => l.maxSubscriptions !== undefined)
    if (scopes.length === 0) return
    const subs = dispatcher.stats().subscriptions
    if (subs.some(exists)) return
    for (const [label, l] of scopes) {
      const inScope = label.startsWith('tenant ')
        ? subs.filter((s) => tenantOf(s.namespace) === label.slice('tenant '.length)).length
        : subs.filter((s) => s.namespace === namespace).length
      if (inScope >= (l.maxSubscriptions as number)) {
        this.reject(AuthCode.QUOTA_SUBSCRIPTIONS, `quota maxSubscriptions of ${label} reached (${l.maxSubscriptions as number})`, 'maxSubscriptions')
      }
    }
  }

  stats (): { connections: Record<string, number>, rejected: Record<string, number> } {
    return { connections: Object.fromEntries(this.connections), rejected: { ...this.rejected } }
  }
}
